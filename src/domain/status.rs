//! The normalized delivery status of CONTRACT §2 and the rule that decides
//! which callback a message summary follows.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Normalized delivery status. The raw provider string is always kept beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Accepted,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Expired,
    Rejected,
    Unknown,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 8] = [
        Self::Accepted,
        Self::Sent,
        Self::Delivered,
        Self::Undelivered,
        Self::Failed,
        Self::Expired,
        Self::Rejected,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Unknown => "unknown",
        }
    }

    /// A final status is one the carrier or provider will not move on from by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Undelivered | Self::Failed | Self::Expired | Self::Rejected
        )
    }

    pub fn precedence(self) -> u8 {
        match self {
            Self::Accepted => 1,
            Self::Sent => 2,
            Self::Unknown => 3,
            Self::Delivered | Self::Undelivered | Self::Failed | Self::Expired | Self::Rejected => 4,
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown delivery status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for DeliveryStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A status at the instant the provider says it happened (or, when the
/// provider gives no time, the instant we received it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusAt {
    pub status: DeliveryStatus,
    pub at: DateTime<Utc>,
}

impl StatusAt {
    /// Whether `candidate` replaces `self` as the message's current status.
    ///
    /// Never from final to non-final, never to a lower precedence; between two
    /// finals the later provider time wins and a tie keeps what is there.
    /// Equal non-final statuses keep what is there, so duplicates change nothing.
    pub fn is_superseded_by(&self, candidate: &StatusAt) -> bool {
        match (self.status.is_final(), candidate.status.is_final()) {
            (true, true) => candidate.at > self.at,
            (true, false) => false,
            (false, true) => true,
            (false, false) => candidate.status.precedence() > self.status.precedence(),
        }
    }

    /// Folds a sequence of reports into the summary they lead to, starting from `initial`.
    pub fn fold(initial: StatusAt, reports: impl IntoIterator<Item = StatusAt>) -> StatusAt {
        reports.into_iter().fold(initial, |current, next| {
            if current.is_superseded_by(&next) {
                next
            } else {
                current
            }
        })
    }
}
