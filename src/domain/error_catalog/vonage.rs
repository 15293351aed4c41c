//! Vonage: the SMS API delivery receipt's `err-code` (digits below 100, e.g.
//! `5`) and `status` words, and the Messages API status callback's
//! `error.title` (a number of 1000 or more, e.g. `1360`).
//!
//! The Messages API reports the same carrier outcomes as the DLR codes under
//! numbers of its own (Absent Subscriber Temporary is `2` in a DLR and `1180`
//! in the Messages API); those share the DLR note through struct update, so
//! each outcome has one text. Those Messages API codes are not in the research
//! table: their names come from Vonage's published Messages API error list as
//! quoted by secondary sources, hence `[unconfirmed]`, except 1330 and 1360,
//! which Vonage's SMS status callback guide names (see `providers.md` 2.2).

use super::Finality::{Final, Maybe, NotFinal};
use super::*;

pub(super) static CATALOG: ProviderCatalog = ProviderCatalog {
    errors: ERRORS,
    statuses: STATUSES,
};

const UNKNOWN: ErrorNote = ErrorNote {
    code: "1",
    official_name: "Unknown",
    finality: Maybe,
    category: "unknown",
    meaning: "The carrier reported a problem but did not say why; the message may not have \
              arrived.",
    next_step: ASK_WHETHER_IT_ARRIVED,
};
const ABSENT_TEMPORARY: ErrorNote = ErrorNote {
    code: "2",
    official_name: "Absent Subscriber - Temporary",
    finality: Maybe,
    category: "handset/unreachable",
    meaning: "The carrier could not reach the phone for now, usually because it is switched \
              off or out of signal.",
    next_step: RESEND_IF_PHONE_OK,
};
const ABSENT_PERMANENT: ErrorNote = ErrorNote {
    code: "3",
    official_name: "Absent Subscriber - Permanent",
    finality: Final,
    category: "number invalid/not capable",
    meaning: "The carrier says this number is no longer active.",
    next_step: CORRECT_THE_NUMBER,
};
const PORTABILITY: ErrorNote = ErrorNote {
    code: "5",
    official_name: "Portability Error",
    finality: Maybe,
    category: "network/provider fault",
    meaning: "The number was moved to another carrier, and the message could not be routed \
              to the new one.",
    next_step: RESEND_ONCE_THEN_ESCALATE,
};
const ANTI_SPAM: ErrorNote = ErrorNote {
    code: "6",
    official_name: "Anti-Spam Rejection",
    finality: Final,
    category: "carrier filtering/spam",
    meaning: "The carrier's spam filter refused the message, because of our sender name or \
              the text.",
    next_step: ESCALATE_FILTERING,
};
const HANDSET_BUSY: ErrorNote = ErrorNote {
    code: "7",
    official_name: "Handset Busy",
    finality: Maybe,
    category: "handset/unreachable",
    meaning: "The phone was not available to take the message at that moment. The carrier \
              may still be retrying.",
    next_step: "Wait an hour for a later status. If none comes, ask the user to check the \
                phone is on and has signal, then resend once.",
};
const NETWORK_ERROR: ErrorNote = ErrorNote {
    code: "8",
    official_name: "Network Error",
    finality: Maybe,
    category: "network/provider fault",
    meaning: "A network fault stopped the message on its way to the phone. This is usually \
              temporary.",
    next_step: RESEND_AFTER_NETWORK_FAULT,
};
const ILLEGAL_NUMBER: ErrorNote = ErrorNote {
    code: "9",
    official_name: "Illegal Number",
    finality: Final,
    category: "recipient opt-out/block",
    meaning: "This number is on a block list for our messages, usually because the user \
              opted out, for example by replying STOP.",
    next_step: "Do not resend. Ask the user whether they opted out; if they want our \
                messages again, escalate to the messaging team.",
};
const UNROUTABLE: ErrorNote = ErrorNote {
    code: "11",
    official_name: "Unroutable",
    finality: Maybe,
    category: "network/provider fault",
    meaning: "Vonage had no route to the user's carrier for this message, for example because \
              the carrier is not one it can reach.",
    next_step: RESEND_ONCE_THEN_ESCALATE,
};
const DESTINATION_UNREACHABLE: ErrorNote = ErrorNote {
    code: "12",
    official_name: "Destination Unreachable",
    finality: Final,
    category: "number invalid/not capable",
    meaning: "The message could not be delivered to this number; it may be wrong or unable \
              to receive text messages.",
    next_step: "Do not resend as it is. Confirm the number with the user and correct it.",
};
const AGE_RESTRICTION: ErrorNote = ErrorNote {
    code: "13",
    official_name: "Subscriber Age Restriction",
    finality: Final,
    category: "content",
    meaning: "The carrier blocked the message because the user's line is barred from content \
              like ours, for example for age reasons.",
    next_step: "Do not resend. Escalate to the messaging team if the user needs this message.",
};
const BLOCKED_BY_CARRIER: ErrorNote = ErrorNote {
    code: "14",
    official_name: "Number Blocked by Carrier",
    finality: Final,
    category: "handset/unreachable",
    meaning: "The user's carrier blocked the message, for example because their plan has no \
              text messages or their line is suspended.",
    next_step: "Do not resend yet. Ask the user to check with their carrier that their line \
                can receive texts.",
};
const PREPAID_NO_FUNDS: ErrorNote = ErrorNote {
    code: "15",
    official_name: "Prepaid Insufficient Funds",
    finality: Maybe,
    category: "handset/unreachable",
    meaning: "The user's prepaid line has too little credit to receive the message.",
    next_step: "Ask the user to top up their prepaid credit, then resend once.",
};
const ENTITY_FILTER: ErrorNote = ErrorNote {
    code: "50",
    official_name: "Entity Filter [unconfirmed]",
    finality: Final,
    category: "sender registration/compliance",
    meaning: "The message was refused because our registered business id for this country \
              was missing or wrong.",
    next_step: ESCALATE_REGISTRATION,
};
const HEADER_FILTER: ErrorNote = ErrorNote {
    code: "51",
    official_name: "Header Filter [unconfirmed]",
    finality: Final,
    category: "sender registration/compliance",
    meaning: "The message was refused because our sender name or number is not registered \
              for this country.",
    next_step: ESCALATE_REGISTRATION,
};
const CONTENT_FILTER: ErrorNote = ErrorNote {
    code: "52",
    official_name: "Content Filter [unconfirmed]",
    finality: Final,
    category: "content",
    meaning: "The message was refused because its text does not match a template we \
              registered for this country.",
    next_step: "Do not resend. Escalate to the messaging team: the message template must be \
                registered for this country.",
};
const CONSENT_FILTER: ErrorNote = ErrorNote {
    code: "53",
    official_name: "Consent Filter [unconfirmed]",
    finality: Final,
    category: "recipient opt-out/block",
    meaning: "The message was refused because this country's rules need a recorded consent \
              from the user, and none was found.",
    next_step: "Do not resend. Escalate to the messaging team to check the user's consent \
                record.",
};
const REGULATION_ERROR: ErrorNote = ErrorNote {
    code: "54",
    official_name: "Regulation Error [unconfirmed]",
    finality: Final,
    category: "sender registration/compliance",
    meaning: "The message was refused under this country's messaging rules; the exact rule \
              was not given.",
    next_step: "Do not resend. Escalate to the messaging team with the message id.",
};

/// Delivery receipt `err-code`s, then Messages API `error.title` codes.
const ERRORS: &[ErrorNote] = &[
    ErrorNote {
        code: "0",
        official_name: "Delivered",
        finality: Final,
        category: "status",
        meaning: "No error was reported. With the status delivered it means the carrier \
                  reported that the message reached the phone, not that anyone looked at it.",
        next_step: "Nothing to fix: follow the status. If the user says nothing arrived, ask \
                    them to check blocked senders and spam filtering for texts.",
    },
    UNKNOWN,
    ABSENT_TEMPORARY,
    ABSENT_PERMANENT,
    ErrorNote {
        code: "4",
        official_name: "Call Barred by User",
        finality: Final,
        category: "recipient opt-out/block",
        meaning: "The user's line is set to refuse these messages, for example because they \
                  barred them with their carrier.",
        next_step: "Do not resend yet. Ask the user whether they blocked such texts with their \
                    carrier; if not, escalate to the messaging team.",
    },
    PORTABILITY,
    ANTI_SPAM,
    HANDSET_BUSY,
    NETWORK_ERROR,
    ILLEGAL_NUMBER,
    ErrorNote {
        code: "10",
        official_name: "Illegal Message",
        finality: Final,
        category: "content",
        meaning: "The carrier refused the text itself, for example a word or a link it does \
                  not allow.",
        next_step: ESCALATE_FILTERING,
    },
    UNROUTABLE,
    DESTINATION_UNREACHABLE,
    AGE_RESTRICTION,
    BLOCKED_BY_CARRIER,
    PREPAID_NO_FUNDS,
    ErrorNote {
        code: "16",
        official_name: "Gateway Quota Exceeded [unconfirmed]",
        finality: Maybe,
        category: "rate/queue",
        meaning: "A sending limit on the route to the user's carrier was reached, so the \
                  message was refused.",
        next_step: RESEND_SOON,
    },
    ENTITY_FILTER,
    HEADER_FILTER,
    CONTENT_FILTER,
    CONSENT_FILTER,
    REGULATION_ERROR,
    ErrorNote {
        code: "95",
        ..UNKNOWN
    },
    ErrorNote {
        code: "99",
        official_name: "General Error",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "Vonage reported a general fault while handling the message; it did not say \
                  what went wrong.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    // The Messages API's numbers for the same outcomes.
    ErrorNote {
        code: "1180",
        official_name: "Absent Subscriber Temporary [unconfirmed]",
        ..ABSENT_TEMPORARY
    },
    ErrorNote {
        code: "1190",
        official_name: "Absent Subscriber Permanent [unconfirmed]",
        ..ABSENT_PERMANENT
    },
    ErrorNote {
        code: "1200",
        official_name: "Portability Error [unconfirmed]",
        ..PORTABILITY
    },
    ErrorNote {
        code: "1210",
        official_name: "Anti-Spam Rejection [unconfirmed]",
        ..ANTI_SPAM
    },
    ErrorNote {
        code: "1220",
        official_name: "Handset Busy [unconfirmed]",
        ..HANDSET_BUSY
    },
    ErrorNote {
        code: "1230",
        official_name: "Network Error [unconfirmed]",
        ..NETWORK_ERROR
    },
    ErrorNote {
        code: "1240",
        official_name: "Illegal Number [unconfirmed]",
        ..ILLEGAL_NUMBER
    },
    ErrorNote {
        code: "1250",
        official_name: "Unroutable [unconfirmed]",
        ..UNROUTABLE
    },
    ErrorNote {
        code: "1260",
        official_name: "Destination unreachable [unconfirmed]",
        ..DESTINATION_UNREACHABLE
    },
    ErrorNote {
        code: "1270",
        official_name: "Subscriber Age Restriction [unconfirmed]",
        ..AGE_RESTRICTION
    },
    ErrorNote {
        code: "1280",
        official_name: "Number Blocked by Carrier [unconfirmed]",
        ..BLOCKED_BY_CARRIER
    },
    ErrorNote {
        code: "1290",
        official_name: "Pre-Paid - Insufficient funds [unconfirmed]",
        ..PREPAID_NO_FUNDS
    },
    ErrorNote {
        code: "1320",
        official_name: "Message already sent [unconfirmed]",
        finality: Final,
        category: "account/config",
        meaning: "Vonage refused this send because the same message had already been sent.",
        next_step: "Do not resend yet. Look for the earlier message on the user's page and \
                    ask the user whether it arrived.",
    },
    ErrorNote {
        code: "1330",
        official_name: "Unknown",
        // A Messages API `rejected` is Vonage's last word on the message.
        finality: Final,
        ..UNKNOWN
    },
    ErrorNote {
        code: "1360",
        official_name: "TTL was activated",
        finality: Final,
        category: "handset/unreachable",
        meaning: "No delivery report came back within the message's time limit, so Vonage \
                  stopped waiting. The phone may have been off or out of signal.",
        next_step: ASK_WHETHER_IT_ARRIVED,
    },
    ErrorNote {
        code: "1480",
        official_name: "Entity Filter [unconfirmed]",
        ..ENTITY_FILTER
    },
    ErrorNote {
        code: "1481",
        official_name: "Header Filter [unconfirmed]",
        ..HEADER_FILTER
    },
    ErrorNote {
        code: "1482",
        official_name: "Content Filter [unconfirmed]",
        ..CONTENT_FILTER
    },
    ErrorNote {
        code: "1483",
        official_name: "Consent Filter [unconfirmed]",
        ..CONSENT_FILTER
    },
    ErrorNote {
        code: "1484",
        official_name: "Regulation Error [unconfirmed]",
        ..REGULATION_ERROR
    },
];

/// SMS API delivery receipt `status` words.
const STATUSES: &[ErrorNote] = &[
    ErrorNote {
        code: "accepted",
        official_name: "accepted",
        finality: NotFinal,
        category: "status",
        meaning: "Vonage accepted the message and passed it on toward the carrier. No delivery \
                  report has come back yet.",
        next_step: WAIT_FOR_REPORT,
    },
    ErrorNote {
        code: "buffered",
        official_name: "buffered",
        finality: NotFinal,
        category: "status",
        meaning: "The message is waiting in the carrier's network, usually because the phone \
                  is off or out of signal; the carrier keeps trying for a while.",
        next_step: "Wait for a later status. If the user is waiting, ask them to check the \
                    phone is on and has signal.",
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
        code: "expired",
        official_name: "expired",
        finality: Maybe,
        category: "handset/unreachable",
        meaning: "The carrier stopped trying before the message reached the phone, often \
                  because the phone was off or out of signal for a long time.",
        next_step: RESEND_IF_PHONE_OK,
    },
    ErrorNote {
        code: "failed",
        official_name: "failed",
        finality: Final,
        category: "status",
        meaning: UNDELIVERED_MEANING,
        next_step: FOLLOW_THE_ERROR_CODE,
    },
    ErrorNote {
        code: "rejected",
        official_name: "rejected",
        finality: Final,
        category: "status",
        meaning: "Vonage or the carrier refused the message before trying to deliver it. The \
                  error code, when there is one, may say why.",
        next_step: FOLLOW_THE_ERROR_CODE,
    },
    ErrorNote {
        code: "unknown",
        official_name: "unknown",
        finality: Maybe,
        category: "unknown",
        meaning: "The carrier sent a report that says neither delivered nor failed. We cannot \
                  tell whether the message reached the phone.",
        next_step: ASK_WHETHER_IT_ARRIVED,
    },
];
