//! Telnyx: `data.payload.errors[].code` of a `message.sent` or
//! `message.finalized` event (a string of digits, e.g. `40001`) and the
//! `data.payload.to[].status` words.

use super::Finality::{Final, Maybe, NotFinal};
use super::*;

pub(super) static CATALOG: ProviderCatalog = ProviderCatalog {
    errors: ERRORS,
    statuses: STATUSES,
};

const ERRORS: &[ErrorNote] = &[
    ErrorNote {
        code: "40001",
        official_name: "Not routable",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "Text messages cannot be routed to this number, for example because it is a \
                  landline or its carrier takes no texts.",
        next_step: ASK_FOR_MOBILE,
    },
    ErrorNote {
        code: "40002",
        official_name: "Blocked as spam (temporary)",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "The carrier's spam filter blocked the message for now; the block may lift \
                  later.",
        next_step: "Do not resend the same text right away. Escalate to the messaging team \
                    with the message id if it keeps happening.",
    },
    ErrorNote {
        code: "40003",
        official_name: "Blocked as spam (permanent)",
        finality: Final,
        category: "carrier filtering/spam",
        meaning: "The carrier's spam filter blocked the message and will keep blocking \
                  messages like it.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "40004",
        official_name: "Rejected by destination",
        finality: Maybe,
        category: "unknown",
        meaning: "The user's carrier refused the message; the carrier did not say why.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "40005",
        official_name: "Message expired",
        finality: Maybe,
        category: "handset/unreachable",
        meaning: "The carrier stopped trying before the message reached the phone, often \
                  because the phone was off or out of signal for a long time.",
        next_step: RESEND_IF_PHONE_OK,
    },
    ErrorNote {
        code: "40006",
        official_name: "Recipient unavailable",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The user's carrier was not available to take the message. This is usually \
                  temporary.",
        next_step: RESEND_AFTER_NETWORK_FAULT,
    },
    ErrorNote {
        code: "40008",
        official_name: "Undeliverable",
        finality: Maybe,
        category: "unknown",
        meaning: "The message was not delivered and the carrier did not say why.",
        next_step: NO_REASON_GIVEN,
    },
    ErrorNote {
        code: "40009",
        official_name: "Invalid message body",
        finality: Final,
        category: "content",
        meaning: "The message text could not be sent as it was, for example because it was \
                  empty or held characters that are not allowed.",
        next_step: "Do not resend as it is. Escalate to the messaging team with the message \
                    id.",
    },
    ErrorNote {
        code: "40010",
        official_name: "Not 10DLC registered",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Our sending number is not registered for business texting in the US, so \
                  carriers refuse its messages.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "40011",
        official_name: "Rate limit exceeded (upstream)",
        finality: Maybe,
        category: "rate/queue",
        meaning: "We sent messages faster than the carrier allows, so this one was refused.",
        next_step: RESEND_SOON,
    },
    ErrorNote {
        code: "40012",
        official_name: "Invalid destination number",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number the message was addressed to is not a valid phone number.",
        next_step: CORRECT_THE_NUMBER,
    },
    ErrorNote {
        code: "40013",
        official_name: "Invalid source number",
        finality: Final,
        category: "account/config",
        meaning: "The number we send from is not valid for this message, so it was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "40014",
        official_name: "Expired in queue",
        finality: Maybe,
        category: "rate/queue",
        meaning: "The message waited too long in the sending queue and was dropped before it \
                  reached the carrier.",
        next_step: "Resend once if the message is still useful. If it keeps happening, \
                    escalate to the messaging team.",
    },
    ErrorNote {
        code: "40015",
        official_name: "Internal spam filter",
        finality: Final,
        category: "carrier filtering/spam",
        meaning: "Telnyx's own spam filter stopped the message before it reached the carrier.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "40016",
        official_name: "T-Mobile sending limit",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Our US sender used up its daily allowance for T-Mobile numbers, so the \
                  message was refused.",
        next_step: "Resend after the daily limit resets. Escalate to the messaging team if \
                    the user cannot wait.",
    },
    ErrorNote {
        code: "40017",
        official_name: "AT&T spam rejection",
        finality: Final,
        category: "carrier filtering/spam",
        meaning: "AT&T's spam filter refused the message.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "40018",
        official_name: "AT&T sending limit",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Our US sender reached its sending allowance for AT&T numbers, so the \
                  message was refused.",
        next_step: "Resend later. Escalate to the messaging team if the user cannot wait.",
    },
    ErrorNote {
        code: "40019",
        official_name: "AT&T invalid tag data",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "AT&T refused the message because the registration details attached to our \
                  sender were wrong.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "40020",
        official_name: "Artificial traffic inflation",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "The message was blocked because the traffic looked like fake sign-ups or \
                  automated sends meant to inflate message counts.",
        next_step: "Do not resend right away. Escalate to the messaging team with the \
                    message id.",
    },
    ErrorNote {
        code: "40100",
        official_name: "Not messaging enabled",
        finality: Final,
        category: "account/config",
        meaning: "The number we send from is not set up for text messages, so the message \
                  was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "40151",
        official_name: "Enablement pending elsewhere",
        finality: Maybe,
        category: "account/config",
        meaning: "Text messaging for our sending number is still being set up with another \
                  provider, so the number cannot send yet.",
        next_step: "Do not resend yet. Escalate to the messaging team: our number's setup \
                    is not finished.",
    },
    ErrorNote {
        code: "40300",
        official_name: "Blocked (STOP)",
        finality: Final,
        category: "recipient opt-out/block",
        meaning: "This number has opted out of messages from our number (for example by \
                  replying STOP), so the message was not sent.",
        next_step: OPT_BACK_IN,
    },
    ErrorNote {
        code: "40301",
        official_name: "Unsupported message type",
        finality: Final,
        category: "account/config",
        meaning: "Our number cannot send this kind of message, for example a picture message, \
                  to this destination.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "40302",
        official_name: "Message too large",
        finality: Final,
        category: "content",
        meaning: "The message, or its attachment, was larger than allowed.",
        next_step: SHORTEN_THE_MESSAGE,
    },
    ErrorNote {
        code: "40305",
        official_name: "Invalid 'from' address",
        finality: Final,
        category: "account/config",
        meaning: "The sender we used is not valid for this message, so it was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "40309",
        official_name: "Invalid destination region",
        finality: Final,
        category: "account/config",
        meaning: "Our account is not allowed to send messages to this number's country or \
                  region, so the message was not sent.",
        next_step: COUNTRY_NOT_ENABLED,
    },
    ErrorNote {
        code: "40310",
        official_name: "Invalid 'to' address",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number the message was addressed to is not a valid address for text \
                  messages.",
        next_step: CORRECT_THE_NUMBER,
    },
    ErrorNote {
        code: "40314",
        official_name: "Messaging disabled",
        finality: Final,
        category: "account/config",
        meaning: "Sending messages is switched off for our account, so the message was not \
                  sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "40315",
        official_name: "Unhealthy sender",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "Many recent messages from our sending number were blocked by carriers, so \
                  Telnyx held this one back.",
        next_step: "Do not resend now. Escalate to the messaging team: our sending number \
                    needs attention.",
    },
    ErrorNote {
        code: "40318",
        official_name: "Queue full",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Too many messages were already waiting to go out from our number, so this \
                  one was refused.",
        next_step: RESEND_SOON,
    },
    ErrorNote {
        code: "40320",
        official_name: "Temporarily unusable sender",
        finality: Maybe,
        category: "account/config",
        meaning: "Our sending number cannot be used for a while, so the message was not sent.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "40321",
        official_name: "No usable numbers in pool",
        finality: Final,
        category: "account/config",
        meaning: "None of our sending numbers could send to this destination, so the message \
                  was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "40322",
        official_name: "Blocked content",
        finality: Final,
        category: "content",
        meaning: "The message text, or a link in it, is blocked, so the message was stopped.",
        next_step: "Do not resend the same text. Escalate to the messaging team with the \
                    message id.",
    },
    ErrorNote {
        code: "40329",
        official_name: "Toll-free not verified",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "We sent from a toll-free number that has not been verified, and carriers \
                  block messages from unverified toll-free numbers.",
        next_step: "Do not resend yet. Escalate to the messaging team: the toll-free number \
                    needs verification.",
    },
    ErrorNote {
        code: "40330",
        official_name: "Toll-free not provisioned",
        finality: Maybe,
        category: "sender registration/compliance",
        meaning: "Our toll-free number is not yet set up for texting with the carriers, so \
                  the message was refused.",
        next_step: "Do not resend yet. Escalate to the messaging team: our toll-free number's \
                    setup is not finished.",
    },
    ErrorNote {
        code: "40333",
        official_name: "Spend limit reached",
        finality: Maybe,
        category: "account/config",
        meaning: "Our account reached its spending limit, so the message was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
];

/// `to[].status` words.
const STATUSES: &[ErrorNote] = &[
    ErrorNote {
        code: "queued",
        official_name: "queued",
        finality: NotFinal,
        category: "status",
        meaning: "Telnyx has the message waiting to go out. Nothing has gone to the carrier \
                  yet.",
        next_step: WAIT_FOR_REPORT,
    },
    ErrorNote {
        code: "sending",
        official_name: "sending",
        finality: NotFinal,
        category: "status",
        meaning: "Telnyx is handing the message to the mobile carrier right now.",
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
        code: "delivery_unconfirmed",
        official_name: "delivery_unconfirmed",
        finality: Maybe,
        category: "status",
        meaning: "The carrier did not confirm delivery, so the message may or may not have \
                  arrived.",
        next_step: ASK_WHETHER_IT_ARRIVED,
    },
    ErrorNote {
        code: "sending_failed",
        official_name: "sending_failed",
        finality: Final,
        category: "status",
        meaning: "Telnyx could not send the message to the carrier. The error code, when \
                  there is one, may say why.",
        next_step: FOLLOW_THE_ERROR_CODE,
    },
    ErrorNote {
        code: "delivery_failed",
        official_name: "delivery_failed",
        finality: Final,
        category: "status",
        meaning: UNDELIVERED_MEANING,
        next_step: FOLLOW_THE_ERROR_CODE,
    },
    ErrorNote {
        code: "expired",
        official_name: "expired",
        finality: Maybe,
        category: "status",
        meaning: "The message was not delivered within its time limit and the carrier \
                  stopped trying.",
        next_step: RESEND_IF_PHONE_OK,
    },
];
