//! Plain-language notes on provider error codes and on our normalized
//! statuses, written for support agents who read them out to users.
//!
//! The official names, finality and categories come from the team's research
//! table (`error_codes.tsv`); the meanings and next steps are ours. They say no
//! more than the code does: when a code does not tell why, the note says so.

use super::status::DeliveryStatus;

use Finality::{Final, Maybe, NotFinal};

/// Whether a message carrying this error can still change status by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Finality {
    Final,
    NotFinal,
    /// The provider's documentation leaves it open, or it depends on the carrier.
    Maybe,
}

/// What an error code means, for an agent talking to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorNote {
    pub code: &'static str,
    /// Exactly as the provider names it, so agents can search the provider's docs.
    pub official_name: &'static str,
    pub finality: Finality,
    pub category: &'static str,
    pub meaning: &'static str,
    pub next_step: &'static str,
}

/// The note for a provider's error code; `None` for providers and codes not
/// in the catalog yet.
pub fn explain(provider: &str, code: &str) -> Option<&'static ErrorNote> {
    let table = if provider.trim().eq_ignore_ascii_case("twilio") {
        TWILIO
    } else {
        return None;
    };
    let code = code.trim();
    table.iter().find(|note| note.code == code)
}

/// What a normalized status tells a user, and what it does not.
pub fn status_note(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Accepted => {
            "The SMS provider has taken our request to send the message. It has not \
             been handed to the mobile carrier yet, as far as we know."
        }
        DeliveryStatus::Sent => {
            "The SMS provider handed the message to the mobile carrier. There is no \
             delivery confirmation yet, and some carriers never send one."
        }
        DeliveryStatus::Delivered => {
            "The mobile carrier reported that the message reached the phone. This does \
             not show whether anyone has opened or looked at it."
        }
        DeliveryStatus::Undelivered => {
            "The mobile carrier reported that it could not get the message to the \
             phone. The error code, when there is one, may say why."
        }
        DeliveryStatus::Failed => {
            "The message was not sent, or was canceled before it went out. The error \
             code, when there is one, may say why."
        }
        DeliveryStatus::Expired => {
            "The message was not delivered within its time limit and the carrier \
             stopped trying. This often happens when the phone is off or has no signal \
             for a long time."
        }
        DeliveryStatus::Rejected => {
            "The SMS provider or the mobile carrier refused the message. The error \
             code, when there is one, may say why."
        }
        DeliveryStatus::Unknown => {
            "The provider reported a state that says neither delivered nor failed. We \
             cannot tell whether the message reached the phone."
        }
    }
}

const RESEND_IF_PHONE_OK: &str =
    "Ask the user to check the phone is on and has signal, then resend once.";
const ESCALATE_REGISTRATION: &str = "Do not resend yet. Escalate to the messaging team: our \
     sender needs registration for this destination.";
const ESCALATE_ACCOUNT: &str = "Do not resend yet. Escalate to the messaging team: our \
     account settings need attention.";
const RESEND_ONCE_THEN_ESCALATE: &str = "Resend once. If it fails again, escalate to the \
     messaging team with the message id.";
const ESCALATE_FILTERING: &str = "Do not resend the same text. Escalate to the messaging \
     team with the message id so they can review the content or sender.";
const ASK_FOR_MOBILE: &str = "Do not resend: this number cannot receive text messages. Ask \
     the user for a mobile number.";
const TOLL_FREE_REJECTED: &str = "Do not resend yet. Escalate to the messaging team: the \
     toll-free number's verification must be fixed and resubmitted.";

/// Twilio's numeric error codes (the `ErrorCode` of a status callback).
static TWILIO: &[ErrorNote] = &[
    ErrorNote {
        code: "30001",
        official_name: "Queue overflow",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Too many messages were waiting to go out from our number, and this one \
                  waited too long and was dropped before reaching the carrier.",
        next_step: "Resend once. If it keeps happening, escalate to the messaging team: we \
                    are sending faster than the number allows.",
    },
    ErrorNote {
        code: "30002",
        official_name: "Account suspended",
        finality: Final,
        category: "account/config",
        meaning: "Our messaging account with the provider is suspended, so the message was \
                  not sent. Nothing is wrong with the user's phone.",
        next_step: "Do not resend. Escalate to the messaging team now: every message will \
                    fail until the account is restored.",
    },
    ErrorNote {
        code: "30003",
        official_name: "Unreachable destination handset",
        finality: Maybe,
        category: "handset/unreachable",
        meaning: "The carrier could not reach the phone. It may be switched off, out of \
                  signal, or unable to take messages right now.",
        next_step: RESEND_IF_PHONE_OK,
    },
    ErrorNote {
        code: "30004",
        official_name: "Message blocked",
        finality: Final,
        category: "recipient opt-out/block",
        meaning: "The message was blocked on the way to the phone. The user may have \
                  blocked our number or opted out with their carrier; the carrier did not \
                  say which.",
        next_step: "Do not resend yet. Ask the user whether they blocked our number or \
                    texted STOP; if not, escalate to the messaging team.",
    },
    ErrorNote {
        code: "30005",
        official_name: "Unknown destination handset",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The carrier says this number does not exist or is no longer in service.",
        next_step: "Do not resend. Confirm the number with the user and correct it.",
    },
    ErrorNote {
        code: "30006",
        official_name: "Landline or unreachable carrier",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number is a landline, or its carrier cannot receive text messages \
                  from us.",
        next_step: ASK_FOR_MOBILE,
    },
    ErrorNote {
        code: "30007",
        official_name: "Message filtered",
        finality: Final,
        category: "carrier filtering/spam",
        meaning: "The carrier's filter stopped the message, usually because it looked like \
                  spam to the carrier.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30008",
        official_name: "Unknown error",
        finality: Maybe,
        category: "unknown",
        meaning: "The message was not delivered and the carrier did not say why.",
        next_step: "Ask the user to check the phone is on and has signal, then resend \
                    once. If it fails again, escalate to the messaging team.",
    },
    ErrorNote {
        code: "30009",
        official_name: "Missing inbound segment",
        finality: Final,
        category: "network/provider fault",
        meaning: "A long message travels in several parts, and at least one part went \
                  missing, so the whole message could not be put together.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "30010",
        official_name: "Message price exceeds max price",
        finality: Final,
        category: "account/config",
        meaning: "Sending this message would have cost more than the price limit set on \
                  our account, so it was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "30011",
        official_name: "MMS not supported by the receiving phone number in this region",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number cannot receive picture or media messages in its region. Plain \
                  text may still work.",
        next_step: "Do not resend as a media message. Escalate to the messaging team if a \
                    text-only version is needed.",
    },
    ErrorNote {
        code: "30017",
        official_name: "Carrier network congestion",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The carrier's network was too busy to take the message. This is usually \
                  temporary.",
        next_step: "Wait a few minutes, then resend once.",
    },
    ErrorNote {
        code: "30018",
        official_name: "Destination carrier requires sender ID pre-registration",
        finality: Maybe,
        category: "sender registration/compliance",
        meaning: "The user's carrier only accepts messages from sender names registered \
                  with it in advance, and ours is not registered there.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30019",
        official_name: "Content size exceeds carrier limit",
        finality: Final,
        category: "content",
        meaning: "The message, or its attachment, was larger than the carrier accepts.",
        next_step: "Do not resend as it is. Escalate to the messaging team to shorten the \
                    message.",
    },
    ErrorNote {
        code: "30020",
        official_name: "Internal Failure with Message Scheduling",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The provider had a fault while handling a scheduled message. The user's \
                  phone and carrier were not involved.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "30021",
        official_name: "Internal Failure with messaging service orchestrator",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The provider had a fault while choosing how to send the message. The \
                  user's phone and carrier were not involved.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "30022",
        official_name: "US A2P 10DLC - Rate Limits Exceeded",
        finality: Maybe,
        category: "rate/queue",
        meaning: "We sent messages faster than US carriers allow for our registered \
                  sender, so this one was refused.",
        next_step: "Resend once in a few minutes. If it keeps happening, escalate to the \
                    messaging team.",
    },
    ErrorNote {
        code: "30023",
        official_name: "US A2P 10DLC - Daily Message Cap Reached",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Our US sender reached the daily number of messages carriers allow it, so \
                  this one was refused.",
        next_step: "Resend after the daily limit resets. Escalate to the messaging team if \
                    the user cannot wait.",
    },
    ErrorNote {
        code: "30024",
        official_name: "Numeric Sender ID Not Provisioned on Carrier",
        finality: Maybe,
        category: "sender registration/compliance",
        meaning: "The user's carrier does not recognize the number we send from, so it \
                  refused the message.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30025",
        official_name: "US A2P 10DLC - 50% T-Mobile Daily Message Limit Consumed",
        finality: NotFinal,
        category: "rate/queue",
        meaning: "A warning only: our US sender has used half of its daily allowance for \
                  T-Mobile numbers. This message can still go through.",
        next_step: "Nothing to do for the user; wait for the next status. Tell the \
                    messaging team if it shows up often.",
    },
    ErrorNote {
        code: "30026",
        official_name: "US A2P 10DLC - 70% T-Mobile Daily Message Limit Consumed",
        finality: NotFinal,
        category: "rate/queue",
        meaning: "A warning only: our US sender has used 70% of its daily allowance for \
                  T-Mobile numbers. This message can still go through.",
        next_step: "Nothing to do for the user; wait for the next status. Tell the \
                    messaging team, as the limit may be hit later today.",
    },
    ErrorNote {
        code: "30027",
        official_name: "US A2P 10DLC - T-Mobile Daily Message Limit Reached",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Our US sender used up its daily allowance for T-Mobile numbers, so \
                  messages to T-Mobile users are refused until it resets.",
        next_step: "Resend after the daily limit resets. Escalate to the messaging team if \
                    the user cannot wait.",
    },
    ErrorNote {
        code: "30032",
        official_name: "Toll-Free Number Has Not Been Verified",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "We sent from a toll-free number that has not been verified, and carriers \
                  block messages from unverified toll-free numbers.",
        next_step: "Do not resend yet. Escalate to the messaging team: the toll-free number \
                    needs verification.",
    },
    ErrorNote {
        code: "30033",
        official_name: "US A2P 10DLC - Campaign Suspended",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The US registration our sending number relies on is suspended, so \
                  carriers block its messages.",
        next_step: "Do not resend. Escalate to the messaging team: our US registration \
                    needs attention.",
    },
    ErrorNote {
        code: "30034",
        official_name: "US A2P 10DLC - Message from an Unregistered Number",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Our sending number is not registered for business texting in the US, so \
                  carriers block its messages.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30035",
        official_name: "US A2P 10DLC - Message from a number still being configured",
        finality: Maybe,
        category: "sender registration/compliance",
        meaning: "Our sending number's US registration is still being set up, so carriers \
                  are not taking its messages yet.",
        next_step: "Resend once the messaging team confirms the number is ready. Escalate \
                    if it lasts more than a day.",
    },
    ErrorNote {
        code: "30036",
        official_name: "Validity Period Expired",
        finality: Maybe,
        category: "rate/queue",
        meaning: "The message waited longer than the time limit set for it, so it was \
                  dropped instead of being sent late.",
        next_step: "Resend once if the message is still useful. If it keeps happening, \
                    escalate to the messaging team.",
    },
    ErrorNote {
        code: "30037",
        official_name: "Outbound Messaging Disabled",
        finality: Final,
        category: "account/config",
        meaning: "Sending messages is switched off for our account, so the message was not \
                  sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "30038",
        official_name: "OTP Message Body Filtered",
        finality: Final,
        category: "content",
        meaning: "The message contained a one-time code in a form that is not allowed from \
                  this sender, so it was blocked.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30039",
        official_name: "Filtered to Prevent Message Loops",
        finality: Final,
        category: "content",
        meaning: "The message was stopped because it looked like two automatic systems \
                  texting each other in a loop.",
        next_step: "Do not resend. Escalate to the messaging team if a real person was \
                    meant to get it.",
    },
    ErrorNote {
        code: "30040",
        official_name: "Destination carrier requires Sender ID pre-registration",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The user's carrier only accepts messages from sender names registered \
                  with it in advance, and ours is not registered there.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30041",
        official_name: "Message from an unregistered number sent to a United Kingdom number",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The message went to a UK number from a sender that is not registered for \
                  the UK, so it was blocked.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30042",
        official_name: "The Sender ID is blocked as generic or it contains special characters",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The sender name we used was refused because it is too generic or contains \
                  characters that are not allowed.",
        next_step: "Do not resend. Escalate to the messaging team: the sender name must \
                    change.",
    },
    ErrorNote {
        code: "30043",
        official_name: "International SMS via Domestic Gateway",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The message to this number went through a route meant for messages within \
                  one country only, so it was refused.",
        next_step: "Do not resend. Escalate to the messaging team: the sending route for \
                    this country needs changing.",
    },
    ErrorNote {
        code: "30044",
        official_name: "Trial Message Length Exceeded",
        finality: Final,
        category: "account/config",
        meaning: "Our account is a trial account, and the message was longer than trial \
                  accounts may send.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "30046",
        official_name: "Message delivery not confirmed [unconfirmed]",
        finality: Maybe,
        category: "unknown",
        meaning: "No delivery confirmation came back for this message, so it may or may not \
                  have arrived; the carrier did not say why.",
        next_step: "Ask the user whether the message arrived. If not, ask them to check the \
                    phone is on and has signal, then resend once.",
    },
    ErrorNote {
        code: "30110",
        official_name: "Domain is blocked",
        finality: Final,
        category: "content",
        meaning: "The message contained a web link to a site that is blocked, so the \
                  message was stopped.",
        next_step: "Do not resend with the same link. Escalate to the messaging team with \
                    the message id.",
    },
    ErrorNote {
        code: "30410",
        official_name: "Provider Timeout Error",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The carrier took too long to answer, so it is not known whether it took \
                  the message.",
        next_step: "Wait a few minutes for a later status. If none comes, resend once.",
    },
    ErrorNote {
        code: "30450",
        official_name: "Message delivery blocked",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "The message was blocked before delivery, usually by a spam or fraud \
                  filter; the exact reason was not given.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30453",
        official_name: "Message couldn't be delivered",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "The message was not delivered, most likely because a filter on the way \
                  stopped it; the carrier did not say why.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30454",
        official_name: "Account exceeded the messages limit",
        finality: Maybe,
        category: "account/config",
        meaning: "Our account reached its limit on how many messages it may send, so this \
                  one was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "30485",
        official_name: "Message couldn't be delivered",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "The message was not delivered, most likely because a filter on the way \
                  stopped it; the carrier did not say why.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30500",
        official_name: "Twilio Internal Error",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The SMS provider had an internal fault while handling the message. The \
                  user's phone and carrier were not involved.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "21211",
        official_name: "Invalid 'To' Phone Number",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number the message was addressed to is not a valid phone number.",
        next_step: "Do not resend. Confirm the number with the user and correct it.",
    },
    ErrorNote {
        code: "21408",
        official_name: "Permission to send an SMS or MMS has not been enabled for the region \
                        indicated by the 'To' number",
        finality: Final,
        category: "account/config",
        meaning: "Our account is not allowed to send messages to the country of this \
                  number, so the message was not sent.",
        next_step: "Do not resend yet. Escalate to the messaging team: sending to this \
                    country must be switched on.",
    },
    ErrorNote {
        code: "21606",
        official_name: "The 'From' phone number provided is not a valid message-capable \
                        Twilio phone number for this destination/account",
        finality: Final,
        category: "account/config",
        meaning: "The number we tried to send from cannot send messages to this \
                  destination, so the message was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "21610",
        official_name: "Attempt to send to unsubscribed recipient",
        finality: Final,
        category: "recipient opt-out/block",
        meaning: "This number has opted out of messages from our number (for example by \
                  replying STOP), so the message was not sent.",
        next_step: "Do not resend yet. Ask the user to reply START to our number to opt \
                    back in, then resend.",
    },
    ErrorNote {
        code: "21611",
        official_name: "This 'From' number has exceeded the maximum number of queued messages",
        finality: Final,
        category: "rate/queue",
        meaning: "Too many messages were already waiting to go out from our number, so this \
                  one was refused.",
        next_step: "Resend once in a few minutes. If it keeps happening, escalate to the \
                    messaging team.",
    },
    ErrorNote {
        code: "21612",
        official_name: "Message cannot be sent with the current combination of 'To' and/or \
                        'From' parameters",
        finality: Final,
        category: "account/config",
        meaning: "Messages cannot go from the number we send from to this number, so it was \
                  not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "21614",
        official_name: "'To' number is not a valid mobile number",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number is not a mobile number, so it cannot receive text messages.",
        next_step: ASK_FOR_MOBILE,
    },
    ErrorNote {
        code: "21635",
        official_name: "'To' number cannot be a landline",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number is a landline, so it cannot receive text messages.",
        next_step: ASK_FOR_MOBILE,
    },
    ErrorNote {
        code: "30445",
        official_name: "Toll Free verification rejection - Could not validate business \
                        information",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Verification of our toll-free sending number was turned down because our \
                  business details could not be confirmed, so carriers block its messages.",
        next_step: TOLL_FREE_REJECTED,
    },
    ErrorNote {
        code: "30446",
        official_name: "Toll Free verification rejection - Opt-in not sufficient: express \
                        consent required",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Verification of our toll-free sending number was turned down because the \
                  way users agree to get our messages was not explicit enough.",
        next_step: TOLL_FREE_REJECTED,
    },
    ErrorNote {
        code: "30476",
        official_name: "Toll Free verification rejection - Opt-in not provided",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Verification of our toll-free sending number was turned down because we \
                  did not show how users agree to get our messages.",
        next_step: TOLL_FREE_REJECTED,
    },
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Every numeric Twilio code of `error_codes.tsv`, with its finality column,
    /// copied here because CI runs without the research folder.
    const TSV_TWILIO: [(&str, &str); 54] = [
        ("30001", "maybe"),
        ("30002", "yes"),
        ("30003", "maybe"),
        ("30004", "yes"),
        ("30005", "yes"),
        ("30006", "yes"),
        ("30007", "yes"),
        ("30008", "maybe"),
        ("30009", "yes"),
        ("30010", "yes"),
        ("30011", "yes"),
        ("30017", "maybe"),
        ("30018", "maybe"),
        ("30019", "yes"),
        ("30020", "maybe"),
        ("30021", "maybe"),
        ("30022", "maybe"),
        ("30023", "maybe"),
        ("30024", "maybe"),
        ("30025", "no"),
        ("30026", "no"),
        ("30027", "maybe"),
        ("30032", "yes"),
        ("30033", "yes"),
        ("30034", "yes"),
        ("30035", "maybe"),
        ("30036", "maybe"),
        ("30037", "yes"),
        ("30038", "yes"),
        ("30039", "yes"),
        ("30040", "yes"),
        ("30041", "yes"),
        ("30042", "yes"),
        ("30043", "yes"),
        ("30044", "yes"),
        ("30046", "maybe"),
        ("30110", "yes"),
        ("30410", "maybe"),
        ("30450", "maybe"),
        ("30453", "maybe"),
        ("30454", "maybe"),
        ("30485", "maybe"),
        ("30500", "maybe"),
        ("21211", "yes"),
        ("21408", "yes"),
        ("21606", "yes"),
        ("21610", "yes"),
        ("21611", "yes"),
        ("21612", "yes"),
        ("21614", "yes"),
        ("21635", "yes"),
        ("30445", "yes"),
        ("30446", "yes"),
        ("30476", "yes"),
    ];

    const CATEGORIES: [&str; 10] = [
        "rate/queue",
        "account/config",
        "handset/unreachable",
        "recipient opt-out/block",
        "number invalid/not capable",
        "carrier filtering/spam",
        "unknown",
        "network/provider fault",
        "sender registration/compliance",
        "content",
    ];

    fn words(text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    }

    /// Whether `text` claims a person saw the message: no provider knows that.
    fn claims_it_was_read(text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        words(text)
            .iter()
            .any(|w| matches!(w.as_str(), "read" | "seen"))
            || ["received by", "user received", "user got", "user saw"]
                .iter()
                .any(|phrase| lower.contains(phrase))
    }

    #[test]
    fn every_numeric_twilio_code_of_the_research_table_is_explained() {
        for (code, finality) in TSV_TWILIO {
            let note = explain("twilio", code).unwrap_or_else(|| panic!("{code} missing"));
            let expected = match finality {
                "yes" => Final,
                "no" => NotFinal,
                _ => Maybe,
            };
            assert_eq!(note.finality, expected, "{code}");
        }
        assert_eq!(TWILIO.len(), TSV_TWILIO.len(), "a code not in the table");
    }

    #[test]
    fn codes_are_unique_and_numeric() {
        let mut seen = HashSet::new();
        for note in TWILIO {
            assert!(seen.insert(note.code), "{} twice", note.code);
            assert!(
                !note.code.is_empty() && note.code.bytes().all(|b| b.is_ascii_digit()),
                "{:?}",
                note.code
            );
        }
    }

    #[test]
    fn notes_are_filled_in_and_short() {
        for note in TWILIO {
            for (field, text) in [
                ("official_name", note.official_name),
                ("meaning", note.meaning),
                ("next_step", note.next_step),
            ] {
                assert_eq!(text.trim(), text, "{} {field} has stray spaces", note.code);
                assert!(!text.is_empty(), "{} {field} is empty", note.code);
                assert!(
                    !text.contains("  "),
                    "{} {field} has a double space",
                    note.code
                );
            }
            for (field, text) in [("meaning", note.meaning), ("next_step", note.next_step)] {
                assert!(
                    text.ends_with('.'),
                    "{} {field} is not a sentence",
                    note.code
                );
                let sentences = text.matches(". ").count() + 1;
                assert!(
                    sentences <= 2,
                    "{} {field} has {sentences} sentences",
                    note.code
                );
            }
            assert!(
                CATEGORIES.contains(&note.category),
                "{} has category {:?}",
                note.code,
                note.category
            );
        }
    }

    #[test]
    fn official_names_are_kept_verbatim() {
        let by_code = |code| explain("twilio", code).map(|n| n.official_name);
        assert_eq!(by_code("30003"), Some("Unreachable destination handset"));
        assert_eq!(
            by_code("30046"),
            Some("Message delivery not confirmed [unconfirmed]")
        );
        assert_eq!(by_code("21211"), Some("Invalid 'To' Phone Number"));
        assert_eq!(
            by_code("21408"),
            Some(
                "Permission to send an SMS or MMS has not been enabled for the region \
                 indicated by the 'To' number"
            )
        );
        assert_eq!(
            by_code("30446"),
            Some(
                "Toll Free verification rejection - Opt-in not sufficient: express consent \
                 required"
            )
        );
    }

    #[test]
    fn provider_is_matched_case_insensitively() {
        for provider in ["twilio", "Twilio", "TWILIO", " twilio "] {
            assert_eq!(
                explain(provider, "30003").map(|n| n.code),
                Some("30003"),
                "{provider:?}"
            );
        }
    }

    #[test]
    fn unknown_codes_and_providers_have_no_note() {
        for code in [
            "",
            "0",
            "3000",
            "300030",
            "99999",
            "status:delivered",
            "delivered",
        ] {
            assert_eq!(explain("twilio", code), None, "{code:?}");
        }
        for provider in ["vonage", "telnyx", "sinch", "", "twilio2", "twil"] {
            assert_eq!(explain(provider, "30003"), None, "{provider:?}");
        }
    }

    #[test]
    fn the_next_steps_use_the_agreed_wording() {
        let step = |code| explain("twilio", code).map(|n| n.next_step);
        assert_eq!(
            step("30003"),
            Some("Ask the user to check the phone is on and has signal, then resend once.")
        );
        assert!(step("21610").is_some_and(|s| s.contains("reply START")));
        for code in ["30018", "30034", "30040", "30041"] {
            assert!(
                step(code).is_some_and(|s| s.contains("needs registration")),
                "{code}"
            );
        }
        for code in ["30005", "30006", "21211", "21614", "21635"] {
            assert!(
                step(code).is_some_and(|s| s.starts_with("Do not resend")),
                "{code}"
            );
        }
    }

    #[test]
    fn codes_that_give_no_reason_say_so() {
        for code in ["30008", "30046", "30453", "30485"] {
            let meaning = explain("twilio", code)
                .map(|n| n.meaning)
                .unwrap_or_default();
            assert!(meaning.contains("did not say why"), "{code}: {meaning}");
        }
    }

    #[test]
    fn no_note_claims_a_person_read_the_message() {
        for status in DeliveryStatus::ALL {
            let note = status_note(status);
            assert!(!note.is_empty(), "{status}");
            assert!(!claims_it_was_read(note), "{status}: {note}");
        }
        for note in TWILIO {
            assert!(!claims_it_was_read(note.meaning), "{}", note.code);
            assert!(!claims_it_was_read(note.next_step), "{}", note.code);
        }
        // The check itself catches the claims it is there for.
        assert!(claims_it_was_read("The user has read it."));
        assert!(claims_it_was_read("It was received by the user."));
        assert!(!claims_it_was_read(
            "It has reached the phone; we are ready."
        ));
    }

    #[test]
    fn status_notes_stay_within_what_each_status_proves() {
        let note = status_note;
        assert!(note(DeliveryStatus::Accepted).contains("taken our request"));
        assert!(note(DeliveryStatus::Sent).contains("no delivery confirmation yet"));
        assert!(note(DeliveryStatus::Delivered).contains("carrier reported"));
        assert!(note(DeliveryStatus::Delivered).contains("does not show"));
        let distinct: HashSet<_> = DeliveryStatus::ALL.into_iter().map(note).collect();
        assert_eq!(distinct.len(), DeliveryStatus::ALL.len());
    }
}
