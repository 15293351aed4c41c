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
            Self::Delivered | Self::Undelivered | Self::Failed | Self::Expired | Self::Rejected => {
                4
            }
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

impl TryFrom<String> for DeliveryStatus {
    type Error = UnknownStatus;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
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

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::DeliveryStatus::*;
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        match Utc.timestamp_opt(1_700_000_000 + seconds, 0) {
            chrono::LocalResult::Single(at) => at,
            _ => panic!("test instant out of range"),
        }
    }

    fn at(status: DeliveryStatus, seconds: i64) -> StatusAt {
        StatusAt {
            status,
            at: t(seconds),
        }
    }

    /// CONTRACT §2, written out by hand rather than derived from the code
    /// under test: status, final, precedence.
    const TABLE: [(DeliveryStatus, &str, bool, u8); 8] = [
        (Accepted, "accepted", false, 1),
        (Sent, "sent", false, 2),
        (Delivered, "delivered", true, 4),
        (Undelivered, "undelivered", true, 4),
        (Failed, "failed", true, 4),
        (Expired, "expired", true, 4),
        (Rejected, "rejected", true, 4),
        (Unknown, "unknown", false, 3),
    ];

    #[test]
    fn final_and_precedence_follow_the_contract_table() {
        assert_eq!(DeliveryStatus::ALL.len(), TABLE.len());
        for (status, name, is_final, precedence) in TABLE {
            assert!(DeliveryStatus::ALL.contains(&status));
            assert_eq!(status.as_str(), name);
            assert_eq!(status.to_string(), name);
            assert_eq!(status.is_final(), is_final, "{name}");
            assert_eq!(status.precedence(), precedence, "{name}");
        }
    }

    #[test]
    fn from_str_round_trips_and_matches_serde() {
        for status in DeliveryStatus::ALL {
            assert_eq!(status.as_str().parse::<DeliveryStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<DeliveryStatus>(&json).unwrap(),
                status
            );
        }
    }

    #[test]
    fn from_str_rejects_unknown_and_differently_cased_strings() {
        for text in [
            "",
            "DELIVERED",
            "Delivered",
            " delivered",
            "delivered ",
            "queued",
            "undeliverable",
            "deliver",
            "accepted\n",
        ] {
            assert_eq!(
                text.parse::<DeliveryStatus>(),
                Err(UnknownStatus(text.to_owned())),
                "{text:?}"
            );
        }
    }

    /// Whether a candidate replaces the current status, by CONTRACT §2.
    #[derive(Clone, Copy, Debug)]
    enum Rule {
        /// Always, whatever the times.
        Yes,
        /// Never, whatever the times.
        No,
        /// Only when the candidate's provider time is strictly later.
        Later,
    }

    /// Rows: current status, columns: candidate, both in `ALL` order
    /// (accepted, sent, delivered, undelivered, failed, expired, rejected,
    /// unknown).
    const SUPERSEDES: [[Rule; 8]; 8] = {
        use Rule::{Later as L, No as N, Yes as Y};
        [
            [N, Y, Y, Y, Y, Y, Y, Y], // accepted
            [N, N, Y, Y, Y, Y, Y, Y], // sent
            [N, N, L, L, L, L, L, N], // delivered
            [N, N, L, L, L, L, L, N], // undelivered
            [N, N, L, L, L, L, L, N], // failed
            [N, N, L, L, L, L, L, N], // expired
            [N, N, L, L, L, L, L, N], // rejected
            [N, N, Y, Y, Y, Y, Y, N], // unknown
        ]
    };

    #[test]
    fn every_ordered_pair_supersedes_as_the_contract_says() {
        let mut checked = 0;
        for (row, current) in DeliveryStatus::ALL.into_iter().enumerate() {
            for (column, candidate) in DeliveryStatus::ALL.into_iter().enumerate() {
                let rule = SUPERSEDES[row][column];
                for (offset, label) in [(-60, "earlier"), (0, "same time"), (60, "later")] {
                    let expected = match rule {
                        Rule::Yes => true,
                        Rule::No => false,
                        Rule::Later => offset > 0,
                    };
                    let current_at = at(current, 0);
                    let candidate_at = at(candidate, offset);
                    assert_eq!(
                        current_at.is_superseded_by(&candidate_at),
                        expected,
                        "{current} then {candidate} ({label}), rule {rule:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 64 * 3);
    }

    #[test]
    fn a_later_failure_after_delivered_wins_an_earlier_one_does_not() {
        let delivered = at(Delivered, 10);
        assert!(delivered.is_superseded_by(&at(Failed, 11)));
        assert!(!delivered.is_superseded_by(&at(Failed, 9)));
        assert_eq!(
            StatusAt::fold(at(Accepted, 0), [at(Delivered, 10), at(Failed, 20)]),
            at(Failed, 20)
        );
        assert_eq!(
            StatusAt::fold(at(Accepted, 0), [at(Failed, 20), at(Delivered, 10)]),
            at(Failed, 20)
        );
    }

    #[test]
    fn a_final_tie_keeps_the_first_stored() {
        let first = at(Delivered, 10);
        let second = at(Failed, 10);
        assert!(!first.is_superseded_by(&second));
        assert!(!second.is_superseded_by(&first));
        assert_eq!(StatusAt::fold(at(Accepted, 0), [first, second]), first);
        assert_eq!(StatusAt::fold(at(Accepted, 0), [second, first]), second);
        // Non-finals in between change nothing about which final came first.
        assert_eq!(
            StatusAt::fold(
                at(Accepted, 0),
                [at(Sent, 1), second, at(Unknown, 50), first]
            ),
            second
        );
    }

    #[test]
    fn a_repeated_non_final_status_keeps_the_first_stored_time() {
        // The status is order-independent; its time is not: the first
        // report of a non-final status stays, later repeats are ignored.
        assert_eq!(
            StatusAt::fold(at(Accepted, 0), [at(Sent, 5), at(Sent, 1)]),
            at(Sent, 5)
        );
        assert_eq!(
            StatusAt::fold(at(Accepted, 0), [at(Sent, 1), at(Sent, 5)]),
            at(Sent, 1)
        );
    }

    #[test]
    fn folding_nothing_keeps_the_initial_status() {
        let initial = at(Accepted, 0);
        assert_eq!(StatusAt::fold(initial, []), initial);
        assert_eq!(StatusAt::fold(initial, [at(Accepted, 5)]), initial);
    }

    const INSTANTS: i64 = 4;
    const FINALS: [DeliveryStatus; 5] = [Delivered, Undelivered, Failed, Expired, Rejected];
    const NON_FINALS: [DeliveryStatus; 3] = [Accepted, Sent, Unknown];

    /// Report sequences without two different final statuses at one instant,
    /// the one case where the contract makes order matter: every final report
    /// at instant `k` carries the status chosen for `k`.
    fn reports() -> impl Strategy<Value = Vec<StatusAt>> {
        let final_for_instant = prop::array::uniform4(prop::sample::select(FINALS.to_vec()));
        let report = (
            any::<bool>(),
            prop::sample::select(NON_FINALS.to_vec()),
            0..INSTANTS,
        );
        (final_for_instant, prop::collection::vec(report, 0..12)).prop_map(|(finals, reports)| {
            reports
                .into_iter()
                .map(|(is_final, non_final, k)| {
                    let status = if is_final {
                        finals[k as usize]
                    } else {
                        non_final
                    };
                    at(status, k * 60)
                })
                .collect()
        })
    }

    /// A reordering of `reports` with some of them repeated: the order and
    /// duplication a provider's retries can produce.
    fn reordered_with_repeats(
        reports: &[StatusAt],
        repeats: &[prop::sample::Index],
        keys: &[u32],
    ) -> Vec<StatusAt> {
        let mut all = reports.to_vec();
        if !reports.is_empty() {
            all.extend(repeats.iter().map(|index| *index.get(reports)));
        }
        let mut keyed: Vec<(u32, StatusAt)> = keys.iter().copied().zip(all).collect();
        keyed.sort_by_key(|(key, _)| *key);
        keyed.into_iter().map(|(_, report)| report).collect()
    }

    proptest! {
        #[test]
        fn fold_ignores_order_and_duplicates(
            reports in reports(),
            repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            keys in prop::collection::vec(any::<u32>(), 18),
        ) {
            let initial = at(Accepted, 0);
            let in_order = StatusAt::fold(initial, reports.iter().copied());
            let shuffled = reordered_with_repeats(&reports, &repeats, &keys);
            prop_assert_eq!(shuffled.len(), reports.len() + if reports.is_empty() { 0 } else { repeats.len() });
            let reordered = StatusAt::fold(initial, shuffled);
            prop_assert_eq!(reordered.status, in_order.status);
            if in_order.status.is_final() {
                // The winning final is unique: latest instant, one status there.
                prop_assert_eq!(reordered, in_order);
            }
        }

        #[test]
        fn fold_reaches_the_highest_precedence_and_any_final(reports in reports()) {
            let initial = at(Accepted, 0);
            let result = StatusAt::fold(initial, reports.iter().copied());
            let highest = reports
                .iter()
                .map(|r| r.status.precedence())
                .chain([initial.status.precedence()])
                .max();
            prop_assert_eq!(Some(result.status.precedence()), highest);
            if reports.iter().any(|r| r.status.is_final()) {
                prop_assert!(result.status.is_final());
                let latest_final = reports
                    .iter()
                    .filter(|r| r.status.is_final())
                    .map(|r| r.at)
                    .max();
                prop_assert_eq!(Some(result.at), latest_final);
            }
            prop_assert!(result == initial || reports.contains(&result));
        }

        #[test]
        fn fold_never_leaves_a_final_status(
            reports in reports(),
            later in prop::collection::vec(prop::sample::select(NON_FINALS.to_vec()), 1..6),
        ) {
            let initial = at(Accepted, 0);
            let settled = StatusAt::fold(initial, reports.iter().copied());
            let after = StatusAt::fold(
                settled,
                later.into_iter().map(|status| StatusAt { status, at: t(0) + Duration::days(1) }),
            );
            if settled.status.is_final() {
                prop_assert_eq!(after, settled);
            }
            prop_assert!(after.status.precedence() >= settled.status.precedence());
        }
    }
}
