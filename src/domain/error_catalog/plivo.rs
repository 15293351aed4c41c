//! Plivo: `ErrorCode` of a message status callback (digits, e.g. `30`) and
//! the `Status` words.

use super::Finality::{Final, Maybe, NotFinal};
use super::*;

pub(super) static CATALOG: ProviderCatalog = ProviderCatalog {
    errors: ERRORS,
    statuses: STATUSES,
};

const ERRORS: &[ErrorNote] = &[
    ErrorNote {
        code: "10",
        official_name: "Invalid message",
        finality: Final,
        category: "content",
        meaning: "The message itself was refused as invalid, for example because of how its \
                  text was encoded.",
        next_step: "Do not resend as it is. Escalate to the messaging team with the message \
                    id.",
    },
    ErrorNote {
        code: "20",
        official_name: "Network error",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "A fault in the carrier's network stopped the message. This is usually \
                  temporary.",
        next_step: RESEND_AFTER_NETWORK_FAULT,
    },
    ErrorNote {
        code: "30",
        official_name: "Spam detected",
        finality: Final,
        category: "carrier filtering/spam",
        meaning: "The carrier's filter stopped the message, usually because it looked like \
                  spam to the carrier.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "40",
        official_name: "Invalid source number",
        finality: Final,
        category: "account/config",
        meaning: "The number or sender name we send from is not valid for this destination, \
                  so the message was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "50",
        official_name: "Invalid destination number",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number the message was addressed to is not a valid phone number, or \
                  cannot receive text messages.",
        next_step: CORRECT_THE_NUMBER,
    },
    ErrorNote {
        code: "60",
        official_name: "Loop detected",
        finality: Final,
        category: "content",
        meaning: "The message was stopped because it looked like two automatic systems \
                  texting each other in a loop.",
        next_step: MESSAGE_LOOP,
    },
    ErrorNote {
        code: "70",
        official_name: "Destination permanently unavailable",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The carrier says this number is no longer in service or cannot receive text \
                  messages.",
        next_step: CORRECT_THE_NUMBER,
    },
    ErrorNote {
        code: "80",
        official_name: "Destination temporarily unavailable",
        finality: Maybe,
        category: "handset/unreachable",
        meaning: "The carrier could not reach the phone for now, usually because it is \
                  switched off or out of signal.",
        next_step: RESEND_IF_PHONE_OK,
    },
    ErrorNote {
        code: "90",
        official_name: "No route available",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "Plivo had no route to the user's carrier for this message.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "100",
        official_name: "Prohibited by carrier",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The user's carrier does not allow this kind of message to the number, for \
                  example because the line takes no texts from businesses.",
        next_step: "Do not resend. Ask the user whether their line can receive texts from \
                    businesses; if it can, escalate to the messaging team.",
    },
    ErrorNote {
        code: "110",
        official_name: "Message too long",
        finality: Final,
        category: "content",
        meaning: "The message was longer than the carrier accepts.",
        next_step: SHORTEN_THE_MESSAGE,
    },
    ErrorNote {
        code: "200",
        official_name: "Source number blocked by STOP from destination number",
        finality: Final,
        category: "recipient opt-out/block",
        meaning: "This number has opted out of messages from our number (for example by \
                  replying STOP), so the message was not sent.",
        next_step: OPT_BACK_IN,
    },
    ErrorNote {
        code: "201",
        official_name: "Outbound messages from US toll-free numbers to Canadian destination \
                        numbers are blocked",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Messages from our US toll-free number to Canadian numbers are blocked, so \
                  this one was not sent.",
        next_step: "Do not resend from the same number. Escalate to the messaging team: \
                    Canadian numbers need another sender.",
    },
    ErrorNote {
        code: "300",
        official_name: "Failed to dispatch message [unconfirmed]",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "Plivo could not pass the message on to the carrier; it did not say why.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "420",
        official_name: "Message expired [unconfirmed]",
        finality: Maybe,
        category: "unknown",
        meaning: "The message was not delivered within its time limit; the carrier did not \
                  say why.",
        next_step: ASK_WHETHER_IT_ARRIVED,
    },
    ErrorNote {
        code: "450",
        official_name: "Destination country barred",
        finality: Final,
        category: "account/config",
        meaning: "Our account is not allowed to send messages to this number's country, so \
                  the message was not sent.",
        next_step: COUNTRY_NOT_ENABLED,
    },
    ErrorNote {
        code: "900",
        official_name: "Insufficient credit",
        finality: Maybe,
        category: "account/config",
        meaning: "Our account had too little credit to send the message. Nothing is wrong with \
                  the user's phone.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "910",
        official_name: "Account disabled [unconfirmed]",
        finality: Final,
        category: "account/config",
        meaning: "Our messaging account with the provider is disabled, so the message was not \
                  sent. Nothing is wrong with the user's phone.",
        next_step: ACCOUNT_SUSPENDED,
    },
    ErrorNote {
        code: "1000",
        official_name: "Unknown error",
        finality: Maybe,
        category: "unknown",
        meaning: "The message was not delivered and the carrier did not say why.",
        next_step: NO_REASON_GIVEN,
    },
];

/// `Status` words.
const STATUSES: &[ErrorNote] = &[
    ErrorNote {
        code: "queued",
        official_name: "queued",
        finality: NotFinal,
        category: "status",
        meaning: "Plivo has the message waiting to go out. Nothing has gone to the carrier \
                  yet.",
        next_step: WAIT_FOR_REPORT,
    },
    ErrorNote {
        code: "sent",
        official_name: "sent",
        finality: Maybe,
        category: "status",
        meaning: SENT_MAYBE_LAST,
        next_step: WAIT_THEN_ASK,
    },
    ErrorNote {
        code: "delivered",
        official_name: "delivered",
        finality: Final,
        category: "status",
        meaning: DELIVERED_MEANING,
        next_step: DELIVERED_NEXT_STEP,
    },
    ErrorNote {
        code: "failed",
        official_name: "failed",
        finality: Final,
        category: "status",
        meaning: "Plivo could not send the message to the carrier. The error code, when there \
                  is one, may say why.",
        next_step: FOLLOW_THE_ERROR_CODE,
    },
    ErrorNote {
        code: "undelivered",
        official_name: "undelivered",
        finality: Final,
        category: "status",
        meaning: UNDELIVERED_MEANING,
        next_step: FOLLOW_THE_ERROR_CODE,
    },
];
