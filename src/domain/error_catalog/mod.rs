//! Plain-language notes on provider error codes and status words, written
//! for support agents who read them out to users, plus the notes on our own
//! normalized statuses.
//!
//! The official names, finality and categories come from the team's research
//! table (`error_codes.tsv`; the rows covered are copied to
//! `testdata/error_codes.tsv` and checked by the tests); the meanings and next
//! steps are ours. They say no more than the code does: when a code does not
//! tell why, the note says so, and "delivered" is always the carrier's report,
//! never proof that a person looked at the message.
//!
//! # Lookup keys: what a provider module stores as `error_code`
//!
//! [`explain`] takes the provider name as stored on the message (`twilio`,
//! `vonage`, `telnyx`, `plivo`, `standard`, any letter case) and the
//! provider's raw code string exactly as parsed, trimmed of surrounding
//! spaces and nothing else. No prefix is added and no leading zero removed:
//!
//! | provider | field | example keys |
//! |---|---|---|
//! | `twilio` | `ErrorCode` | `30003`, `21610` |
//! | `vonage` | SMS API DLR `err-code` | `0`, `5`, `99` |
//! | `vonage` | Messages API `error.title` (a JSON number: store its digits) | `1320`, `1330`, `1360` |
//! | `telnyx` | `data.payload.errors[].code` | `40001`, `40300` |
//! | `plivo` | `ErrorCode` | `30`, `200`, `1000` |
//! | any | an SMPP `command_status` that a gateway passes on | `0x0000000B` (any case, or shorter: `0xB`), `ESME_RINVDSTADR` |
//!
//! Vonage's two APIs share one table: SMS API DLR codes are below 100 and
//! Messages API codes are 1000 and above, so a key cannot mean both. The
//! Messages API codes that mirror a DLR code (1180 = 2, …) carry the same
//! note; they are not in the research table and their names are marked
//! `[unconfirmed]` where only a secondary source gave them.
//!
//! SMPP is not a route of its own. Its `command_status` values have a shape no
//! provider's own codes have (`0x…`, `ESME_…`), so they are recognized for
//! every provider, which is how a Standard Webhooks sender in front of an
//! SMPP link gets notes. The `err:` field of an SMPP delivery receipt text
//! (`id:… stat:UNDELIV err:011 …`) is network- or message-centre-specific
//! (SMPP 3.4, Appendix B), so no catalog can say what it means: store it as
//! `err:011` and it gets the generic note naming the raw code.
//!
//! # Status words versus error codes
//!
//! Rows of the research table whose code has a prefix are not error codes:
//! `status:delivered` (Twilio, Vonage, Telnyx, Plivo) is the provider's raw
//! status word, and `stat:DELIVRD` (SMPP) is the `stat:` word of a delivery
//! receipt. [`explain_status`] holds their notes, looked up by the raw status
//! string as stored (`delivered`, `delivery_failed`, `DELIVRD` or
//! `stat:DELIVRD`); the message page shows them as the status note, and
//! [`status_note`] covers every raw word the catalog does not know through
//! its normalized status. The SMPP words are recognized for every provider,
//! in upper case or with the `stat:` prefix only, so that a Standard Webhooks
//! sender's own lower-case `expired` is not taken for SMPP's.
//!
//! # Codes the catalog does not know
//!
//! [`explain_or_generic`] never leaves a code without a note: an unknown code
//! gets a generic one that names the raw code and says it is not in the
//! catalog, so the page never shows an empty cell.

mod plivo;
mod smpp;
mod telnyx;
mod twilio;
mod vonage;

#[cfg(test)]
mod tests;

use super::status::DeliveryStatus;

/// Whether a message carrying this error can still change status by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Finality {
    Final,
    NotFinal,
    /// The provider's documentation leaves it open, or it depends on the carrier.
    Maybe,
}

/// What an error code (or a provider's status word) means, for an agent
/// talking to a user.
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

/// One provider's notes.
struct ProviderCatalog {
    /// Error codes, matched exactly.
    errors: &'static [ErrorNote],
    /// Raw status words, matched without regard to letter case.
    statuses: &'static [ErrorNote],
}

fn catalog(provider: &str) -> Option<&'static ProviderCatalog> {
    let provider = provider.trim().to_ascii_lowercase();
    Some(match provider.as_str() {
        "twilio" => &twilio::CATALOG,
        "vonage" => &vonage::CATALOG,
        "telnyx" => &telnyx::CATALOG,
        "plivo" => &plivo::CATALOG,
        _ => return None,
    })
}

/// The note for a provider's error code (see the module docs for the keys);
/// `None` for codes not in the catalog.
pub fn explain(provider: &str, code: &str) -> Option<&'static ErrorNote> {
    let code = code.trim();
    if code.is_empty() {
        return None;
    }
    catalog(provider)
        .and_then(|c| c.errors.iter().find(|note| note.code == code))
        .or_else(|| smpp::command_status(code))
}

/// The note for a provider's raw status word (`delivered`, `DELIVRD`);
/// `None` for words not in the catalog.
pub fn explain_status(provider: &str, raw_status: &str) -> Option<&'static ErrorNote> {
    let word = raw_status.trim();
    if word.is_empty() {
        return None;
    }
    catalog(provider)
        .and_then(|c| {
            c.statuses
                .iter()
                .find(|note| note.code.eq_ignore_ascii_case(word))
        })
        .or_else(|| smpp::receipt_stat(word))
}

/// What the page shows for an error code: the catalog's note, or a generic
/// one that names the raw code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeNote {
    /// The code as the provider sent it, trimmed.
    pub code: String,
    /// The catalog's note; `None` when the code is not in the catalog.
    pub entry: Option<&'static ErrorNote>,
    pub official_name: &'static str,
    pub finality: Finality,
    pub category: &'static str,
    pub meaning: String,
    pub next_step: &'static str,
}

/// The next step for a code the catalog does not know.
pub const UNKNOWN_CODE_NEXT_STEP: &str = "This error code is not in our catalog yet: look it \
     up in the provider's documentation, resend once, and escalate with the message id if it \
     fails again.";

/// Long enough for any real provider code; a longer one is cut in the note.
const MAX_CODE_SHOWN: usize = 40;

/// The note for any error code: the catalog's when it knows the code, else a
/// generic note naming the raw code. `None` only for a blank code, which is
/// no code at all.
pub fn explain_or_generic(provider: &str, code: &str) -> Option<CodeNote> {
    let code = code.trim();
    if code.is_empty() {
        return None;
    }
    Some(match explain(provider, code) {
        Some(note) => CodeNote {
            code: code.to_owned(),
            entry: Some(note),
            official_name: note.official_name,
            finality: note.finality,
            category: note.category,
            meaning: note.meaning.to_owned(),
            next_step: note.next_step,
        },
        None => {
            let shown: String = if code.chars().count() > MAX_CODE_SHOWN {
                code.chars().take(MAX_CODE_SHOWN).chain(['…']).collect()
            } else {
                code.to_owned()
            };
            CodeNote {
                code: code.to_owned(),
                entry: None,
                official_name: "Not in our catalog",
                finality: Finality::Maybe,
                category: "unknown",
                meaning: format!(
                    "The provider reported error code {shown}, which our catalog does not \
                     explain yet. The status shows what happened to the message."
                ),
                next_step: UNKNOWN_CODE_NEXT_STEP,
            }
        }
    })
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

/// The note on the page for a message's raw status: the provider's own word
/// when the catalog knows it, else the normalized status's note.
pub fn raw_status_note(
    provider: &str,
    raw_status: Option<&str>,
    status: DeliveryStatus,
) -> &'static str {
    raw_status
        .and_then(|raw| explain_status(provider, raw))
        .map_or_else(|| status_note(status), |note| note.meaning)
}

// Next steps shared by several providers' notes: the same advice in the same words.

pub(crate) const RESEND_IF_PHONE_OK: &str =
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
const CORRECT_THE_NUMBER: &str = "Do not resend. Confirm the number with the user and correct it.";
const OPT_BACK_IN: &str = "Do not resend yet. Ask the user to reply START to our number to \
     opt back in, then resend.";
const ACCOUNT_SUSPENDED: &str = "Do not resend. Escalate to the messaging team now: every \
     message will fail until the account is restored.";
const COUNTRY_NOT_ENABLED: &str = "Do not resend yet. Escalate to the messaging team: \
     sending to this country must be switched on.";
const SHORTEN_THE_MESSAGE: &str = "Do not resend as it is. Escalate to the messaging team to \
     shorten the message.";
const RESEND_SOON: &str = "Resend once in a few minutes. If it keeps happening, escalate to \
     the messaging team.";
const RESEND_AFTER_NETWORK_FAULT: &str = "Wait a few minutes, then resend once.";
const ASK_WHETHER_IT_ARRIVED: &str = "Ask the user whether the message arrived. If not, ask \
     them to check the phone is on and has signal, then resend once.";
const NO_REASON_GIVEN: &str = "Ask the user to check the phone is on and has signal, then \
     resend once. If it fails again, escalate to the messaging team.";
const MESSAGE_LOOP: &str = "Do not resend. Escalate to the messaging team if a real person \
     was meant to get it.";

// Next steps of status words.

pub(crate) const WAIT_FOR_REPORT: &str =
    "Wait a few minutes for the delivery report; most arrive within a minute or two.";
const WAIT_THEN_ASK: &str = "Wait a few minutes for a later status. If none comes, ask the \
     user whether it arrived.";
const DELIVERED_NEXT_STEP: &str = "Nothing to fix. If the user says nothing arrived, ask them \
     to check blocked senders and spam filtering for texts.";
const FOLLOW_THE_ERROR_CODE: &str = "Follow the error code's next step. If there is no error \
     code, check the number with the user and resend once.";

// Meanings shared by several providers' status words.

const DELIVERED_MEANING: &str = "The mobile carrier reported that the message reached the \
     phone. This does not show whether anyone has opened or looked at it.";
const SENT_MAYBE_LAST: &str = "The message was handed to the mobile carrier. A delivery report \
     may follow, but some carriers never send one, so this can be the last status.";
const UNDELIVERED_MEANING: &str = "The mobile carrier reported that it could not get the \
     message to the phone. The error code, when there is one, may say why.";
