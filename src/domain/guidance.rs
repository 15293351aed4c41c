//! "What should happen next" for one message, from its current status and
//! the error note of its current error code. Says only what the evidence
//! supports: a delivery report is not proof that someone read the text.

use super::error_catalog::{
    ErrorNote, RESEND_IF_PHONE_OK, UNKNOWN_CODE_NEXT_STEP, WAIT_FOR_REPORT,
};
use super::status::DeliveryStatus;

/// Messages without any report after this long are worth a look.
pub const SILENCE_AFTER_US: i64 = 60 * 60 * 1_000_000;

pub fn next_step(
    status: DeliveryStatus,
    note: Option<&ErrorNote>,
    has_error_code: bool,
    age_us: i64,
) -> &'static str {
    if let Some(note) = note {
        return note.next_step;
    }
    match status {
        DeliveryStatus::Delivered => {
            "The carrier reported delivery to the phone. If the user says nothing arrived, \
             ask them to check blocked senders and spam filtering for texts, and that the \
             number shown matches theirs."
        }
        DeliveryStatus::Accepted | DeliveryStatus::Sent if age_us >= SILENCE_AFTER_US => {
            "No final report after an hour: the carrier may never confirm. Ask the user \
             whether it arrived; if not, resend once, then escalate with the message id."
        }
        DeliveryStatus::Accepted | DeliveryStatus::Sent => WAIT_FOR_REPORT,
        DeliveryStatus::Expired => RESEND_IF_PHONE_OK,
        DeliveryStatus::Undelivered | DeliveryStatus::Failed | DeliveryStatus::Rejected
            if has_error_code =>
        {
            UNKNOWN_CODE_NEXT_STEP
        }
        DeliveryStatus::Undelivered | DeliveryStatus::Failed | DeliveryStatus::Rejected => {
            "The provider gave no reason. Check the number with the user, resend once, and \
             escalate with the message id if it fails again."
        }
        DeliveryStatus::Unknown => {
            "The provider cannot say what happened. Ask the user whether it arrived; if not, \
             resend once."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error_catalog::explain;

    #[test]
    fn a_known_error_code_gives_its_own_next_step() {
        let note = explain("twilio", "30003").unwrap();
        assert_eq!(
            next_step(DeliveryStatus::Undelivered, Some(note), true, 0),
            note.next_step
        );
    }

    #[test]
    fn delivered_never_claims_the_user_read_it() {
        let text = next_step(DeliveryStatus::Delivered, None, false, 0).to_lowercase();
        assert!(!text.contains(" read"));
        assert!(text.contains("reported delivery"));
    }

    #[test]
    fn silence_turns_waiting_into_asking() {
        let waiting = next_step(DeliveryStatus::Sent, None, false, 60_000_000);
        let silent = next_step(DeliveryStatus::Sent, None, false, SILENCE_AFTER_US);
        assert_ne!(waiting, silent);
        assert!(silent.contains("an hour"));
    }

    #[test]
    fn unknown_codes_and_missing_codes_are_told_apart() {
        assert_ne!(
            next_step(DeliveryStatus::Failed, None, true, 0),
            next_step(DeliveryStatus::Failed, None, false, 0)
        );
    }
}
