//! Per-event notes for a message's timeline page: which callbacks moved the
//! summary, which came in late, and how long each took to reach us.
//!
//! The replay goes through `StatusAt::is_superseded_by`, the same step the
//! store's summary takes for each callback (and `StatusAt::fold` repeats), so
//! the page cannot disagree with the stored summary about what changed it.

use chrono::DateTime;

use super::status::{DeliveryStatus, StatusAt};

/// One stored delivery callback, as the timeline page has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineEvent {
    pub id: i64,
    /// `None` when the provider's raw status is not in our mapping.
    pub status: Option<DeliveryStatus>,
    pub provider_at_us: Option<i64>,
    pub received_at_us: i64,
}

impl TimelineEvent {
    /// The report the summary sees: the provider's time where given, else ours.
    /// `None` when the status is unmapped or the instant cannot be represented,
    /// neither of which the summary acts on.
    fn as_status_at(&self) -> Option<StatusAt> {
        let status = self.status?;
        let at =
            DateTime::from_timestamp_micros(self.provider_at_us.unwrap_or(self.received_at_us))?;
        Some(StatusAt { status, at })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventAnnotation {
    /// Applying this event, when it arrived, moved the summary's status or its time.
    pub changed_summary: bool,
    /// An event with a later provider time had already been received.
    pub arrived_out_of_order: bool,
    /// Received minus provider time; negative when the provider's clock is ahead.
    pub latency_us: Option<i64>,
}

/// Annotates `events` (returned in the same order) by replaying them in the
/// order we received them, starting from `initial`: the message's status at
/// creation (accepted, at its creation time).
pub fn annotate(initial: StatusAt, events: &[TimelineEvent]) -> Vec<EventAnnotation> {
    let mut arrival: Vec<usize> = (0..events.len()).collect();
    // The id breaks ties because it is the order the store inserted them in.
    arrival.sort_by_key(|&i| (events[i].received_at_us, events[i].id));

    let mut annotations = vec![EventAnnotation::default(); events.len()];
    let mut current = initial;
    let mut latest_provider_at: Option<i64> = None;
    for i in arrival {
        let event = &events[i];
        let arrived_out_of_order = match (event.provider_at_us, latest_provider_at) {
            (Some(at), Some(latest)) => latest > at,
            _ => false,
        };
        let changed_summary = match event.as_status_at() {
            Some(candidate) if current.is_superseded_by(&candidate) => {
                current = candidate;
                true
            }
            _ => false,
        };
        latest_provider_at = latest_provider_at.max(event.provider_at_us);
        annotations[i] = EventAnnotation {
            changed_summary,
            arrived_out_of_order,
            latency_us: event
                .provider_at_us
                .and_then(|at| event.received_at_us.checked_sub(at)),
        };
    }
    annotations
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::DeliveryStatus::*;
    use super::*;

    const T0: i64 = 1_760_000_000_000_000;
    const S: i64 = 1_000_000;

    fn accepted_at_creation() -> StatusAt {
        StatusAt {
            status: Accepted,
            at: DateTime::from_timestamp_micros(T0).unwrap_or_default(),
        }
    }

    fn event(
        id: i64,
        status: Option<DeliveryStatus>,
        provider_s: Option<i64>,
        received_s: i64,
    ) -> TimelineEvent {
        TimelineEvent {
            id,
            status,
            provider_at_us: provider_s.map(|s| T0 + s * S),
            received_at_us: T0 + received_s * S,
        }
    }

    fn changed(annotations: &[EventAnnotation]) -> Vec<bool> {
        annotations.iter().map(|a| a.changed_summary).collect()
    }

    fn out_of_order(annotations: &[EventAnnotation]) -> Vec<bool> {
        annotations.iter().map(|a| a.arrived_out_of_order).collect()
    }

    /// What the stored summary ends as: the fold over the events in arrival order.
    fn stored_summary(initial: StatusAt, events: &[TimelineEvent]) -> StatusAt {
        let mut arrival = events.to_vec();
        arrival.sort_by_key(|e| (e.received_at_us, e.id));
        StatusAt::fold(
            initial,
            arrival.iter().filter_map(TimelineEvent::as_status_at),
        )
    }

    #[test]
    fn sent_then_delivered_in_order_both_change_the_summary() {
        let events = [
            event(1, Some(Sent), Some(1), 2),
            event(2, Some(Delivered), Some(5), 6),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        assert_eq!(changed(&annotations), [true, true]);
        assert_eq!(out_of_order(&annotations), [false, false]);
        assert_eq!(annotations[0].latency_us, Some(S));
    }

    #[test]
    fn a_late_sent_after_delivered_is_out_of_order_and_changes_nothing() {
        let events = [
            event(1, Some(Delivered), Some(5), 6),
            event(2, Some(Sent), Some(1), 9),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        assert_eq!(changed(&annotations), [true, false]);
        assert_eq!(out_of_order(&annotations), [false, true]);
        assert_eq!(annotations[1].latency_us, Some(8 * S));
    }

    #[test]
    fn results_follow_input_order_while_the_replay_follows_arrival() {
        // Same events as above, listed newest first as a page might hold them.
        let events = [
            event(2, Some(Sent), Some(1), 9),
            event(1, Some(Delivered), Some(5), 6),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        assert_eq!(changed(&annotations), [false, true]);
        assert_eq!(out_of_order(&annotations), [true, false]);
    }

    #[test]
    fn arrival_ties_are_broken_by_id() {
        let events = [
            event(7, Some(Sent), Some(1), 3),
            event(4, Some(Sent), Some(2), 3),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        // Id 4 came first: it changed the summary; the repeat did not and is late.
        assert_eq!(changed(&annotations), [false, true]);
        assert_eq!(out_of_order(&annotations), [true, false]);
    }

    #[test]
    fn an_unmapped_status_changes_nothing() {
        let events = [
            event(1, None, Some(1), 2),
            event(2, Some(Sent), Some(3), 4),
            event(3, None, Some(5), 6),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        assert_eq!(changed(&annotations), [false, true, false]);
        assert_eq!(annotations[0].latency_us, Some(S));
    }

    #[test]
    fn a_mapped_unknown_status_follows_precedence() {
        // `unknown` is a status of its own, ranked above sent and below finals.
        let events = [
            event(1, Some(Sent), Some(1), 2),
            event(2, Some(Unknown), Some(3), 4),
            event(3, Some(Sent), Some(5), 6),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        assert_eq!(changed(&annotations), [true, true, false]);
        assert_eq!(
            stored_summary(accepted_at_creation(), &events).status,
            Unknown
        );
    }

    #[test]
    fn a_contradicting_final_follows_the_store_precedence() {
        let initial = accepted_at_creation();
        let cases: [(&[TimelineEvent], [bool; 2], DeliveryStatus); 3] = [
            // A later failure replaces delivered.
            (
                &[
                    event(1, Some(Delivered), Some(5), 6),
                    event(2, Some(Failed), Some(8), 9),
                ],
                [true, true],
                Failed,
            ),
            // An earlier failure received late does not.
            (
                &[
                    event(1, Some(Delivered), Some(5), 6),
                    event(2, Some(Failed), Some(4), 9),
                ],
                [true, false],
                Delivered,
            ),
            // Same provider time: the first stored final stays.
            (
                &[
                    event(1, Some(Delivered), Some(5), 6),
                    event(2, Some(Failed), Some(5), 9),
                ],
                [true, false],
                Delivered,
            ),
        ];
        for (events, expected, summary) in cases {
            let annotations = annotate(initial, events);
            assert_eq!(changed(&annotations), expected, "{events:?}");
            let stored = stored_summary(initial, events);
            assert_eq!(stored.status, summary, "{events:?}");
            // The event the page marks last as changing is the one the store kept.
            let last = events
                .iter()
                .zip(&annotations)
                .filter(|(_, a)| a.changed_summary)
                .max_by_key(|(e, _)| (e.received_at_us, e.id))
                .and_then(|(e, _)| e.as_status_at());
            assert_eq!(last, Some(stored));
        }
    }

    #[test]
    fn without_a_provider_time_our_time_orders_the_summary() {
        let events = [
            event(1, Some(Delivered), None, 5),
            event(2, Some(Failed), None, 9),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        assert_eq!(changed(&annotations), [true, true]);
        assert_eq!(out_of_order(&annotations), [false, false]);
        assert!(annotations.iter().all(|a| a.latency_us.is_none()));
    }

    #[test]
    fn latency_needs_a_provider_time_and_may_be_negative() {
        let events = [
            event(1, Some(Sent), Some(10), 12),
            event(2, Some(Delivered), None, 20),
            event(3, Some(Failed), Some(25), 24),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        let latencies: Vec<_> = annotations.iter().map(|a| a.latency_us).collect();
        assert_eq!(latencies, [Some(2 * S), None, Some(-S)]);
    }

    #[test]
    fn events_without_provider_time_neither_are_nor_make_others_out_of_order() {
        let events = [
            event(1, Some(Sent), Some(10), 11),
            event(2, Some(Sent), None, 12),
            event(3, Some(Delivered), Some(11), 13),
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        assert_eq!(out_of_order(&annotations), [false, false, false]);
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let events = [
            TimelineEvent {
                id: 1,
                status: Some(Delivered),
                provider_at_us: Some(i64::MIN),
                received_at_us: i64::MAX,
            },
            TimelineEvent {
                id: 2,
                status: Some(Failed),
                provider_at_us: None,
                received_at_us: i64::MIN,
            },
        ];
        let annotations = annotate(accepted_at_creation(), &events);
        assert_eq!(changed(&annotations), [false, false]);
        assert_eq!(annotations[0].latency_us, None, "overflow is no latency");
        assert!(annotate(accepted_at_creation(), &[]).is_empty());
    }

    fn arbitrary_events() -> impl Strategy<Value = Vec<TimelineEvent>> {
        let status =
            prop::option::weighted(0.85, prop::sample::select(DeliveryStatus::ALL.to_vec()));
        let one = (status, prop::option::of(0i64..6), 0i64..6);
        prop::collection::vec(one, 0..10).prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (status, provider_s, received_s))| {
                    event(i as i64 + 1, status, provider_s, received_s)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn the_replay_matches_the_store_fold_step_by_step(events in arbitrary_events()) {
            let initial = accepted_at_creation();
            let annotations = annotate(initial, &events);
            prop_assert_eq!(annotations.len(), events.len());

            let mut arrival: Vec<usize> = (0..events.len()).collect();
            arrival.sort_by_key(|&i| (events[i].received_at_us, events[i].id));
            let mut before = initial;
            for (n, &i) in arrival.iter().enumerate() {
                let prefix: Vec<_> = arrival[..=n].iter().map(|&j| events[j]).collect();
                let after = stored_summary(initial, &prefix);
                prop_assert_eq!(annotations[i].changed_summary, after != before);
                let late = events[i].provider_at_us.is_some_and(|at| {
                    arrival[..n].iter().any(|&j| events[j].provider_at_us > Some(at))
                });
                prop_assert_eq!(annotations[i].arrived_out_of_order, late);
                before = after;
            }
            prop_assert_eq!(before, stored_summary(initial, &events));
            for (event, annotation) in events.iter().zip(&annotations) {
                prop_assert_eq!(
                    annotation.latency_us,
                    event.provider_at_us.map(|at| event.received_at_us - at)
                );
            }
        }

        #[test]
        fn after_a_final_only_a_later_final_moves_the_summary(events in arbitrary_events()) {
            let annotations = annotate(accepted_at_creation(), &events);
            let mut arrival: Vec<usize> = (0..events.len()).collect();
            arrival.sort_by_key(|&i| (events[i].received_at_us, events[i].id));
            let mut settled = false;
            let mut non_final_moves = 0;
            for i in arrival {
                let Some(status) = events[i].status.filter(|_| annotations[i].changed_summary)
                else {
                    continue;
                };
                prop_assert!(!settled || status.is_final(), "{status} moved a final summary");
                settled |= status.is_final();
                non_final_moves += usize::from(!status.is_final());
            }
            // accepted → sent → unknown is the longest climb before a final.
            prop_assert!(non_final_moves <= 2);
        }
    }
}
