//! Long inbound messages that a provider delivers part by part (Vonage's SMS
//! API sends one webhook per part). Each part is stored as it comes, under its
//! own provider message id, so a retried part is a duplicate like any other
//! callback and no part waits for another; support reads them here, put back
//! together into one message.

use std::collections::{BTreeMap, HashMap};

use super::InboundPart;

/// Parts of one message arrive within the provider's retry horizon (Vonage:
/// 24 hours). The same small reference from the same sender outside it is
/// another message.
pub const PART_SPAN_US: i64 = 24 * 60 * 60 * 1_000_000;

/// An inbound message as read back, opened for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundText {
    pub provider: String,
    pub sender_hash: Vec<u8>,
    /// Our number or sender identity that received it.
    pub to: String,
    /// Provider time, else receive time.
    pub at_us: i64,
    pub keyword: Option<String>,
    pub body: String,
    /// Set on one part of a long message.
    pub part: Option<InboundPart>,
}

/// The parts of each long message merged into one [`InboundText`]: its time
/// is the earliest part's, its body the parts in part order, with a marker
/// where parts have not arrived. Standalone messages pass through. Each
/// merged message takes the place of its first part in `messages`, so a list
/// sorted newest first stays so.
///
/// Parts belong together when provider, sender, recipient, reference and
/// part count agree, no part number repeats, and they arrived within
/// [`PART_SPAN_US`] of the first: the reference is one byte on most handsets
/// and comes round again.
pub fn roll_up(messages: Vec<InboundText>) -> Vec<InboundText> {
    let group_of = assign_groups(&messages);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (index, group) in group_of.iter().enumerate() {
        if let Some(group) = *group {
            if groups.len() <= group {
                groups.resize_with(group + 1, Vec::new);
            }
            groups[group].push(index);
        }
    }

    let mut slots: Vec<Option<InboundText>> = messages.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    let mut emitted = vec![false; groups.len()];
    for index in 0..slots.len() {
        match group_of[index] {
            None => out.extend(slots[index].take()),
            Some(group) if !emitted[group] => {
                emitted[group] = true;
                let parts: Vec<InboundText> = groups[group]
                    .iter()
                    .filter_map(|&i| slots[i].take())
                    .collect();
                out.extend(merge(parts));
            }
            Some(_) => {}
        }
    }
    out
}

/// For each message, the group its part belongs to (`None`: standalone).
/// Parts are assigned oldest first, so a reused reference starts a new group.
fn assign_groups(messages: &[InboundText]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..messages.len())
        .filter(|&i| messages[i].part.is_some())
        .collect();
    order.sort_by_key(|&i| (messages[i].at_us, i));

    type Key<'a> = (&'a str, &'a [u8], &'a str, &'a str, u16);
    struct Open {
        id: usize,
        first_at_us: i64,
        numbers: Vec<u16>,
    }
    let mut open: HashMap<Key<'_>, Vec<Open>> = HashMap::new();
    let mut group_of = vec![None; messages.len()];
    let mut next_id = 0;
    for index in order {
        let message = &messages[index];
        let Some(part) = &message.part else { continue };
        let key = (
            message.provider.as_str(),
            message.sender_hash.as_slice(),
            message.to.as_str(),
            part.group.as_str(),
            part.total,
        );
        let candidates = open.entry(key).or_default();
        let fitting = candidates.iter_mut().rev().find(|g| {
            message.at_us - g.first_at_us <= PART_SPAN_US && !g.numbers.contains(&part.number)
        });
        let id = match fitting {
            Some(group) => {
                group.numbers.push(part.number);
                group.id
            }
            None => {
                candidates.push(Open {
                    id: next_id,
                    first_at_us: message.at_us,
                    numbers: vec![part.number],
                });
                next_id += 1;
                next_id - 1
            }
        };
        group_of[index] = Some(id);
    }
    group_of
}

/// One message from its parts (all of one group, at least one).
fn merge(parts: Vec<InboundText>) -> Option<InboundText> {
    let at_us = parts.iter().map(|p| p.at_us).min()?;
    let mut bodies: BTreeMap<u16, String> = BTreeMap::new();
    let mut total = 0;
    let mut first = None;
    for part in parts {
        let Some(position) = &part.part else { continue };
        total = total.max(position.total);
        bodies.insert(position.number, part.body.clone());
        first.get_or_insert(part);
    }
    let mut first = first?;
    let last = bodies.keys().next_back().copied().unwrap_or(0).max(total);

    let mut body = String::new();
    let mut missing_from: Option<u16> = None;
    for number in 1..=last {
        match bodies.get(&number) {
            Some(text) => {
                if let Some(from) = missing_from.take() {
                    body.push_str(&missing_marker(from, number - 1, total));
                }
                body.push_str(text);
            }
            None => {
                missing_from.get_or_insert(number);
            }
        }
    }
    if let Some(from) = missing_from {
        body.push_str(&missing_marker(from, last, total));
    }

    first.at_us = at_us;
    first.body = body;
    first.keyword = None;
    first.part = None;
    Some(first)
}

/// Consecutive missing parts share one marker, however many there are.
fn missing_marker(from: u16, to: u16, total: u16) -> String {
    if from == to {
        format!("[part {from} of {total} not received]")
    } else {
        format!("[parts {from}–{to} of {total} not received]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60 * 1_000_000;

    fn standalone(at_min: i64, body: &str) -> InboundText {
        InboundText {
            provider: "vonage".to_owned(),
            sender_hash: vec![1],
            to: "+447700900001".to_owned(),
            at_us: at_min * MINUTE,
            keyword: None,
            body: body.to_owned(),
            part: None,
        }
    }

    fn part(at_min: i64, group: &str, number: u16, total: u16, body: &str) -> InboundText {
        InboundText {
            part: Some(InboundPart {
                group: group.to_owned(),
                number,
                total,
            }),
            ..standalone(at_min, body)
        }
    }

    fn bodies(messages: &[InboundText]) -> Vec<&str> {
        messages.iter().map(|m| m.body.as_str()).collect()
    }

    #[test]
    fn parts_in_any_order_make_one_message_in_part_order() {
        // Newest first, as the store lists them.
        let messages = vec![
            standalone(9, "later"),
            part(3, "7", 1, 3, "Hello "),
            part(2, "7", 3, 3, "again."),
            part(1, "7", 2, 3, "there, "),
            standalone(0, "earlier"),
        ];
        let rolled = roll_up(messages);
        assert_eq!(bodies(&rolled), ["later", "Hello there, again.", "earlier"]);
        assert_eq!(rolled[1].at_us, MINUTE, "the earliest part's time");
        assert_eq!(rolled[1].part, None);
    }

    #[test]
    fn missing_parts_are_marked_where_they_belong() {
        let rolled = roll_up(vec![part(1, "9", 3, 3, "c"), part(0, "9", 1, 3, "a")]);
        assert_eq!(bodies(&rolled), ["a[part 2 of 3 not received]c"]);
        let rolled = roll_up(vec![part(0, "9", 2, 5, "b")]);
        assert_eq!(
            bodies(&rolled),
            ["[part 1 of 5 not received]b[parts 3–5 of 5 not received]"]
        );
    }

    #[test]
    fn a_huge_claimed_total_gives_one_marker_not_thousands() {
        let rolled = roll_up(vec![part(0, "1", 1, u16::MAX, "x")]);
        assert_eq!(bodies(&rolled), ["x[parts 2–65535 of 65535 not received]"]);
    }

    #[test]
    fn a_reused_reference_starts_another_message() {
        let rolled = roll_up(vec![
            part(4, "5", 2, 2, "d"),
            part(3, "5", 1, 2, "c"),
            part(1, "5", 2, 2, "b"),
            part(0, "5", 1, 2, "a"),
        ]);
        assert_eq!(bodies(&rolled), ["cd", "ab"]);
        let day = PART_SPAN_US / MINUTE;
        let rolled = roll_up(vec![
            part(day + 1, "5", 2, 2, "late"),
            part(0, "5", 1, 2, "a"),
        ]);
        assert_eq!(
            bodies(&rolled),
            [
                "[part 1 of 2 not received]late",
                "a[part 2 of 2 not received]"
            ]
        );
    }

    #[test]
    fn parts_of_other_senders_recipients_or_counts_stay_apart() {
        let mut other_sender = part(1, "5", 2, 2, "x");
        other_sender.sender_hash = vec![2];
        let mut other_to = part(1, "5", 2, 2, "y");
        other_to.to = "+447700900002".to_owned();
        let mut other_provider = part(1, "5", 2, 2, "z");
        other_provider.provider = "plivo".to_owned();
        let rolled = roll_up(vec![
            other_sender,
            other_to,
            other_provider,
            part(1, "5", 2, 3, "w"),
            part(0, "5", 1, 2, "a"),
        ]);
        assert_eq!(rolled.len(), 5, "{rolled:?}");
    }

    #[test]
    fn standalone_messages_pass_through_untouched() {
        let mut stop = standalone(0, "STOP");
        stop.keyword = Some("stop".to_owned());
        assert_eq!(roll_up(vec![stop.clone()]), vec![stop]);
        assert!(roll_up(Vec::new()).is_empty());
    }
}
