//! What one message, one callback and one OTP verification contribute to
//! the dashboards' rollups. The writers apply these rules as summaries
//! change, and the recount that proves the rollups right applies the same
//! definitions in SQL; both rest on the functions here.

use super::buckets::bucket_of;
use crate::domain::DeliveryStatus;
use crate::domain::limbo::is_timeout;
use crate::domain::verification::{VerificationEventKind, outcome};

/// A message's place in the outcome rollup: its current status, whether
/// smstrail's timeout is why it has none, and (once final) the bucket of
/// its time to that final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageState {
    pub status: DeliveryStatus,
    /// `unknown` because smstrail's reconcile job gave up waiting.
    pub timed_out_now: bool,
    /// From sent (else registered) to the final status's time.
    pub to_final_bucket: Option<usize>,
}

impl MessageState {
    /// `started_us`: when the message was sent, else registered.
    pub fn of(
        status: DeliveryStatus,
        is_final: bool,
        raw_status: Option<&str>,
        status_at_us: i64,
        started_us: i64,
    ) -> Self {
        Self {
            status,
            timed_out_now: !is_final && raw_status.is_some_and(is_timeout),
            to_final_bucket: is_final.then(|| bucket_of(status_at_us.saturating_sub(started_us))),
        }
    }
}

/// What one stored delivery event adds once it belongs to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFact {
    /// smstrail's own timeout: counted as a timeout, never as a callback.
    Timeout,
    /// A provider's callback, and how long it took to reach us when the
    /// provider said when it happened.
    Callback { latency_us: Option<i64> },
}

pub fn event_fact(
    raw_status: &str,
    provider_occurred_at_us: Option<i64>,
    received_at_us: i64,
) -> EventFact {
    if is_timeout(raw_status) {
        EventFact::Timeout
    } else {
        EventFact::Callback {
            latency_us: provider_occurred_at_us.map(|at| received_at_us.saturating_sub(at)),
        }
    }
}

/// Where an OTP verification stands, for the completion funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OtpCategory {
    Completed,
    /// Ended without success and none of its messages was delivered.
    NotDelivered,
    /// A message was delivered, and the user failed the code.
    NotVerified,
    /// A message was delivered, and the code expired unused.
    Expired,
    /// A message was delivered, and the user walked away.
    Abandoned,
    /// No ending event yet.
    Open,
}

impl OtpCategory {
    pub const ALL: [Self; 6] = [
        Self::Completed,
        Self::NotDelivered,
        Self::NotVerified,
        Self::Expired,
        Self::Abandoned,
        Self::Open,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::NotDelivered => "not_delivered",
            Self::NotVerified => "not_verified",
            Self::Expired => "expired",
            Self::Abandoned => "abandoned",
            Self::Open => "open",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::NotDelivered => "SMS not delivered",
            Self::NotVerified => "delivered, code not verified",
            Self::Expired => "delivered, code expired",
            Self::Abandoned => "delivered, abandoned",
            Self::Open => "still open",
        }
    }
}

/// The category of a verification from its events `(kind, occurred_at_us)`
/// (in time order, as stored) and whether any of its messages is delivered
/// now. Completion wins whatever the SMS did; an attempt that ended
/// otherwise is lost to delivery when no SMS arrived, else to what the
/// product reported.
pub fn otp_category(events: &[(VerificationEventKind, i64)], any_delivered: bool) -> OtpCategory {
    match outcome(events) {
        "completed" => OtpCategory::Completed,
        "pending" => OtpCategory::Open,
        _ if !any_delivered => OtpCategory::NotDelivered,
        "expired" => OtpCategory::Expired,
        "abandoned" => OtpCategory::Abandoned,
        _ => OtpCategory::NotVerified,
    }
}

/// The message whose country, provider and use case a verification is
/// counted under: that of its earliest event naming one, by occurrence time
/// then by the order stored. Events are `(id, occurred_at_us, message_id)`.
pub fn counted_message<'a>(events: &[(i64, i64, Option<&'a str>)]) -> Option<&'a str> {
    events
        .iter()
        .filter_map(|&(id, at, message)| Some(((at, id), message?)))
        .min_by_key(|(order, _)| *order)
        .map(|(_, message)| message)
}

#[cfg(test)]
mod tests {
    use super::VerificationEventKind::*;
    use super::*;
    use crate::domain::limbo::TIMEOUT_RAW_STATUS;

    const S: i64 = 1_000_000;

    #[test]
    fn a_message_counts_its_status_and_once_final_its_time_to_it() {
        let sent = MessageState::of(DeliveryStatus::Sent, false, Some("sent"), 5 * S, 0);
        assert_eq!(sent.to_final_bucket, None);
        assert!(!sent.timed_out_now);
        let delivered =
            MessageState::of(DeliveryStatus::Delivered, true, Some("delivered"), 4 * S, S);
        assert_eq!(delivered.to_final_bucket, Some(bucket_of(3 * S)));
        let timed_out = MessageState::of(
            DeliveryStatus::Unknown,
            false,
            Some(TIMEOUT_RAW_STATUS),
            600 * S,
            0,
        );
        assert!(timed_out.timed_out_now);
        let provider_unknown =
            MessageState::of(DeliveryStatus::Unknown, false, Some("unknown"), 0, 0);
        assert!(
            !provider_unknown.timed_out_now,
            "a provider's own unknown is no timeout"
        );
    }

    #[test]
    fn timeouts_are_not_callbacks_and_latency_needs_a_provider_time() {
        assert_eq!(
            event_fact(TIMEOUT_RAW_STATUS, Some(0), 9 * S),
            EventFact::Timeout
        );
        assert_eq!(
            event_fact("delivered", Some(S), 3 * S),
            EventFact::Callback {
                latency_us: Some(2 * S)
            }
        );
        assert_eq!(
            event_fact("sent", None, 3 * S),
            EventFact::Callback { latency_us: None }
        );
    }

    #[test]
    fn completion_wins_and_losses_go_to_delivery_first() {
        assert_eq!(otp_category(&[(Requested, 1)], false), OtpCategory::Open);
        assert_eq!(
            otp_category(&[(Requested, 1), (Completed, 2)], false),
            OtpCategory::Completed
        );
        assert_eq!(
            otp_category(&[(Requested, 1), (Expired, 9)], false),
            OtpCategory::NotDelivered
        );
        assert_eq!(
            otp_category(&[(Requested, 1), (Expired, 9)], true),
            OtpCategory::Expired
        );
        assert_eq!(
            otp_category(&[(Requested, 1), (Abandoned, 9)], true),
            OtpCategory::Abandoned
        );
        assert_eq!(
            otp_category(&[(Requested, 1), (Failed, 9)], true),
            OtpCategory::NotVerified
        );
        assert_eq!(
            otp_category(&[(Requested, 1), (Failed, 3), (Completed, 5)], true),
            OtpCategory::Completed,
            "a failed code then a completed resend"
        );
        for category in OtpCategory::ALL {
            assert_eq!(OtpCategory::parse(category.as_str()), Some(category));
        }
    }

    #[test]
    fn a_verification_counts_under_its_earliest_message() {
        assert_eq!(counted_message(&[(1, 10, None)]), None);
        assert_eq!(
            counted_message(&[(1, 10, None), (2, 30, Some("m2")), (3, 20, Some("m3"))]),
            Some("m3")
        );
        assert_eq!(
            counted_message(&[(5, 20, Some("later-stored")), (4, 20, Some("first-stored"))]),
            Some("first-stored")
        );
    }
}
