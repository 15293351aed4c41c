//! The OTP verification timeline (CONTRACT §4): what happened to one code the
//! product sent, and how it ended.

use serde::Serialize;

/// What can happen to an OTP verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationEventKind {
    Requested,
    Resent,
    Checked,
    Completed,
    Failed,
    Expired,
    Abandoned,
}

impl VerificationEventKind {
    pub const ALL: [Self; 7] = [
        Self::Requested,
        Self::Resent,
        Self::Checked,
        Self::Completed,
        Self::Failed,
        Self::Expired,
        Self::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Resent => "resent",
            Self::Checked => "checked",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether the verification is over once this happened.
    pub fn ends_verification(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Expired | Self::Abandoned
        )
    }
}

impl TryFrom<String> for VerificationEventKind {
    type Error = super::UnknownValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or_else(|| super::UnknownValue::new("verification event kind", text))
    }
}

/// How a verification stands given its events as `(kind, occurred_at_us)`:
/// the latest ending event wins (a user may fail, then complete on a resend);
/// without one it is still pending.
pub fn outcome(events: &[(VerificationEventKind, i64)]) -> &'static str {
    events
        .iter()
        .enumerate()
        .filter(|(_, (kind, _))| kind.ends_verification())
        // Later time wins; at equal times the later recorded one.
        .max_by_key(|(index, (_, at))| (*at, *index))
        .map(|(_, (kind, _))| kind.as_str())
        .unwrap_or("pending")
}

#[cfg(test)]
mod tests {
    use super::VerificationEventKind::*;
    use super::*;

    #[test]
    fn every_kind_round_trips_and_others_are_refused() {
        for kind in VerificationEventKind::ALL {
            assert_eq!(VerificationEventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(VerificationEventKind::parse("Completed"), None);
        assert_eq!(VerificationEventKind::parse("done"), None);
    }

    #[test]
    fn pending_until_an_ending_event() {
        assert_eq!(outcome(&[]), "pending");
        assert_eq!(
            outcome(&[(Requested, 1), (Resent, 2), (Checked, 3)]),
            "pending"
        );
    }

    #[test]
    fn the_latest_ending_event_decides_whatever_the_arrival_order() {
        assert_eq!(
            outcome(&[(Requested, 1), (Failed, 2), (Completed, 5)]),
            "completed"
        );
        assert_eq!(
            outcome(&[(Completed, 5), (Requested, 1), (Failed, 2)]),
            "completed"
        );
        assert_eq!(
            outcome(&[(Requested, 1), (Completed, 3), (Expired, 3)]),
            "expired"
        );
    }
}
