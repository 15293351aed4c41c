//! A number's opt-out state over time, from the keywords it sent us (STOP,
//! START, HELP; see [`InboundKeyword`]): what state it is in now, since
//! when, and what each keyword did.
//!
//! Carriers apply the keywords as a switch: STOP opts the number out of
//! messages from the number it wrote to, START opts it back in, HELP
//! changes nothing. A second STOP while opted out changes nothing either,
//! so "since" is the first keyword of the current run, not the latest.
//! smstrail only sees what the product's numbers received; it cannot tell
//! which of our sender numbers an opt-out applies to beyond the `to` of
//! each inbound message, which the pages show beside it.

use super::InboundKeyword;

/// One keyword message of the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeywordMessage {
    /// When the number sent it (provider time, else when we received it).
    pub at_us: i64,
    /// Its row id: breaks ties between keywords of one instant by arrival.
    pub id: i64,
    pub keyword: InboundKeyword,
}

/// Where the number stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOutState {
    /// No STOP ever seen.
    NeverOptedOut,
    OptedOut {
        since_us: i64,
    },
    /// Opted out once, then back in.
    OptedBackIn {
        since_us: i64,
    },
}

/// What one keyword did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    OptedOut,
    /// STOP while already opted out.
    StillOptedOut,
    OptedBackIn,
    /// START while not opted out.
    NoChange,
    /// HELP: asks for information, changes nothing.
    Help,
}

impl Effect {
    pub fn describe(self) -> &'static str {
        match self {
            Self::OptedOut => "opted out",
            Self::StillOptedOut => "already opted out: no change",
            Self::OptedBackIn => "opted back in",
            Self::NoChange => "was not opted out: no change",
            Self::Help => "asked for help: no change",
        }
    }

    /// Whether this keyword moved the state.
    pub fn changed_state(self) -> bool {
        matches!(self, Self::OptedOut | Self::OptedBackIn)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub message: KeywordMessage,
    pub effect: Effect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutHistory {
    pub current: OptOutState,
    /// Oldest first.
    pub entries: Vec<HistoryEntry>,
}

/// Replays the keywords in the order the number sent them (any order in).
pub fn history(mut messages: Vec<KeywordMessage>) -> OptOutHistory {
    messages.sort_by_key(|m| (m.at_us, m.id));
    let mut current = OptOutState::NeverOptedOut;
    let entries = messages
        .into_iter()
        .map(|message| {
            let opted_out = matches!(current, OptOutState::OptedOut { .. });
            let effect = match (message.keyword, opted_out) {
                (InboundKeyword::Stop, false) => {
                    current = OptOutState::OptedOut {
                        since_us: message.at_us,
                    };
                    Effect::OptedOut
                }
                (InboundKeyword::Stop, true) => Effect::StillOptedOut,
                (InboundKeyword::Start, true) => {
                    current = OptOutState::OptedBackIn {
                        since_us: message.at_us,
                    };
                    Effect::OptedBackIn
                }
                (InboundKeyword::Start, false) => Effect::NoChange,
                (InboundKeyword::Help, _) => Effect::Help,
            };
            HistoryEntry { message, effect }
        })
        .collect();
    OptOutHistory { current, entries }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InboundKeyword::{Help, Start, Stop};

    fn k(at_us: i64, id: i64, keyword: InboundKeyword) -> KeywordMessage {
        KeywordMessage { at_us, id, keyword }
    }

    fn effects(h: &OptOutHistory) -> Vec<Effect> {
        h.entries.iter().map(|e| e.effect).collect()
    }

    #[test]
    fn no_keywords_means_never_opted_out() {
        let h = history(vec![]);
        assert_eq!(h.current, OptOutState::NeverOptedOut);
        assert!(h.entries.is_empty());
        let h = history(vec![k(5, 1, Help), k(6, 2, Start)]);
        assert_eq!(h.current, OptOutState::NeverOptedOut);
        assert_eq!(effects(&h), [Effect::Help, Effect::NoChange]);
    }

    #[test]
    fn stop_then_start_then_stop_is_replayed_in_time_order() {
        // Given out of order: the newest first, as the store reads them.
        let h = history(vec![k(30, 3, Stop), k(20, 2, Start), k(10, 1, Stop)]);
        assert_eq!(
            effects(&h),
            [Effect::OptedOut, Effect::OptedBackIn, Effect::OptedOut]
        );
        assert_eq!(h.current, OptOutState::OptedOut { since_us: 30 });
        let at: Vec<i64> = h.entries.iter().map(|e| e.message.at_us).collect();
        assert_eq!(at, [10, 20, 30]);
    }

    #[test]
    fn a_repeated_stop_keeps_the_first_as_since() {
        let h = history(vec![k(10, 1, Stop), k(20, 2, Stop), k(25, 3, Help)]);
        assert_eq!(h.current, OptOutState::OptedOut { since_us: 10 });
        assert_eq!(
            effects(&h),
            [Effect::OptedOut, Effect::StillOptedOut, Effect::Help]
        );
        assert!(!Effect::StillOptedOut.changed_state());
    }

    #[test]
    fn opted_back_in_since_the_start_that_ended_the_opt_out() {
        let h = history(vec![k(10, 1, Stop), k(20, 2, Start), k(30, 3, Start)]);
        assert_eq!(h.current, OptOutState::OptedBackIn { since_us: 20 });
        assert_eq!(
            effects(&h),
            [Effect::OptedOut, Effect::OptedBackIn, Effect::NoChange]
        );
    }

    #[test]
    fn keywords_of_one_instant_apply_in_arrival_order() {
        let h = history(vec![k(10, 2, Start), k(10, 1, Stop)]);
        assert_eq!(h.current, OptOutState::OptedBackIn { since_us: 10 });
    }

    #[test]
    fn stored_keywords_parse_back() {
        for keyword in [Stop, Start, Help] {
            assert_eq!(InboundKeyword::parse(keyword.as_str()), Some(keyword));
        }
        assert_eq!(InboundKeyword::parse("STOP"), None);
        assert_eq!(InboundKeyword::parse(""), None);
    }
}
