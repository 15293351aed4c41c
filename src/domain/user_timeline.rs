//! One user's history (`/users/{user_ref}`): four streams of rows —
//! messages, OTP verification events, retries and inbound replies — merged
//! newest first and cut into pages by a keyset cursor, so that a user with
//! 10,000 messages costs one page of rows per stream, never all of them.
//!
//! Every row has a position `(at_us, stream, id)`; the page lists rows in
//! descending position. Within one instant the streams are ordered by their
//! rank (inbound above retries above verifications above messages) and
//! within one stream by the id the database orders by. The merge never
//! compares ids itself: each stream arrives already ordered by the database,
//! and a stable sort on `(at_us, stream)` keeps that order, so the cursor
//! (compared by the database too) and the page always agree.

use std::fmt;

/// The four kinds of rows, in rank order (lowest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    Messages,
    Verifications,
    Retries,
    Inbound,
}

impl Stream {
    pub const ALL: [Self; 4] = [
        Self::Messages,
        Self::Verifications,
        Self::Retries,
        Self::Inbound,
    ];

    /// The name in query strings and cursors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Verifications => "verifications",
            Self::Retries => "retries",
            Self::Inbound => "inbound",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether its rows are keyed by an integer id (all but messages).
    pub fn has_integer_ids(self) -> bool {
        self != Self::Messages
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which streams a page shows. None chosen means all: a filter form with
/// every box cleared shows everything rather than an empty page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSet([bool; 4]);

impl StreamSet {
    pub const EVERY: Self = Self([true; 4]);

    pub fn of(chosen: impl IntoIterator<Item = Stream>) -> Self {
        let mut set = [false; 4];
        for stream in chosen {
            set[stream as usize] = true;
        }
        if set.iter().any(|&on| on) {
            Self(set)
        } else {
            Self::EVERY
        }
    }

    pub fn contains(self, stream: Stream) -> bool {
        self.0[stream as usize]
    }

    pub fn is_every(self) -> bool {
        self == Self::EVERY
    }

    pub fn iter(self) -> impl Iterator<Item = Stream> {
        Stream::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

/// A row's id: message ids are text, the other streams' integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowId {
    Text(String),
    Int(i64),
}

impl fmt::Display for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) => f.write_str(text),
            Self::Int(n) => write!(f, "{n}"),
        }
    }
}

/// Where a row sits in the merged order; the last row of a page is the
/// cursor of the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub at_us: i64,
    pub stream: Stream,
    pub id: RowId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the page link is damaged: start from the newest entries again")]
pub struct BadCursor;

/// The longest id a cursor may carry: ours are UUIDs and integers.
const MAX_CURSOR_ID: usize = 64;

impl Position {
    /// `at_us~stream~id`, for a link.
    pub fn encode(&self) -> String {
        format!("{}~{}~{}", self.at_us, self.stream, self.id)
    }

    pub fn parse(text: &str) -> Result<Self, BadCursor> {
        let mut parts = text.splitn(3, '~');
        let at_us = parts
            .next()
            .and_then(|at| at.parse::<i64>().ok())
            .ok_or(BadCursor)?;
        let stream = parts.next().and_then(Stream::parse).ok_or(BadCursor)?;
        let id = parts
            .next()
            .filter(|id| !id.is_empty() && id.len() <= MAX_CURSOR_ID)
            .ok_or(BadCursor)?;
        let id = if stream.has_integer_ids() {
            RowId::Int(id.parse().map_err(|_| BadCursor)?)
        } else if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            RowId::Text(id.to_owned())
        } else {
            return Err(BadCursor);
        };
        Ok(Self { at_us, stream, id })
    }
}

/// The rows of one stream that come after a cursor, as a condition on that
/// stream's time column and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// `at < at_us`.
    Before(i64),
    /// `at <= at_us`: a stream ranked below the cursor's may still have rows
    /// at the cursor's instant.
    AtOrBefore(i64),
    /// `at < at_us OR (at = at_us AND id < id)`: the cursor's own stream.
    BeforeRow { at_us: i64, id: RowId },
}

/// What `stream` must satisfy to come after `cursor` (nothing on the first
/// page).
pub fn bound_for(stream: Stream, cursor: Option<&Position>) -> Option<Bound> {
    let cursor = cursor?;
    Some(match stream.cmp(&cursor.stream) {
        std::cmp::Ordering::Less => Bound::AtOrBefore(cursor.at_us),
        std::cmp::Ordering::Equal => Bound::BeforeRow {
            at_us: cursor.at_us,
            id: cursor.id.clone(),
        },
        std::cmp::Ordering::Greater => Bound::Before(cursor.at_us),
    })
}

/// A row of any stream with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<T> {
    pub position: Position,
    pub item: T,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Newest first.
    pub entries: Vec<Entry<T>>,
    /// The cursor of the next (older) page, when there is one.
    pub next: Option<Position>,
}

/// Merges streams, each newest first as the database ordered it (and each
/// holding at least `limit + 1` rows past the cursor when it has them), into
/// the newest `limit` rows overall.
pub fn merge<T>(streams: Vec<Vec<Entry<T>>>, limit: usize) -> Page<T> {
    let mut entries: Vec<Entry<T>> = streams.into_iter().flatten().collect();
    // Stable: rows of one stream at one instant keep the database's order.
    entries.sort_by(|a, b| {
        (b.position.at_us, b.position.stream).cmp(&(a.position.at_us, a.position.stream))
    });
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next = if more {
        entries.last().map(|e| e.position.clone())
    } else {
        None
    };
    Page { entries, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_us: i64, stream: Stream, id: &str) -> Entry<String> {
        Entry {
            position: Position {
                at_us,
                stream,
                id: RowId::Text(id.to_owned()),
            },
            item: format!("{stream}:{id}"),
        }
    }

    fn items(page: &Page<String>) -> Vec<&str> {
        page.entries.iter().map(|e| e.item.as_str()).collect()
    }

    #[test]
    fn streams_merge_newest_first_with_ties_broken_by_stream_rank() {
        let page = merge(
            vec![
                vec![
                    entry(30, Stream::Messages, "m2"),
                    entry(10, Stream::Messages, "m1"),
                ],
                vec![entry(20, Stream::Verifications, "5")],
                vec![entry(30, Stream::Retries, "7")],
                vec![
                    entry(40, Stream::Inbound, "9"),
                    entry(30, Stream::Inbound, "8"),
                ],
            ],
            10,
        );
        assert_eq!(
            items(&page),
            [
                "inbound:9",
                "inbound:8",
                "retries:7",
                "messages:m2",
                "verifications:5",
                "messages:m1"
            ]
        );
        assert_eq!(page.next, None);
    }

    #[test]
    fn rows_of_one_stream_at_one_instant_keep_the_databases_order() {
        // PostgreSQL may order text ids by a collation: the merge must not
        // reorder them, or the cursor and the page would disagree.
        let page = merge(
            vec![vec![
                entry(5, Stream::Messages, "b"),
                entry(5, Stream::Messages, "c"),
                entry(5, Stream::Messages, "a"),
            ]],
            10,
        );
        assert_eq!(items(&page), ["messages:b", "messages:c", "messages:a"]);
    }

    #[test]
    fn a_full_page_names_its_last_row_as_the_next_cursor() {
        let page = merge(
            vec![
                vec![
                    entry(3, Stream::Messages, "m3"),
                    entry(1, Stream::Messages, "m1"),
                ],
                vec![entry(2, Stream::Inbound, "4")],
            ],
            2,
        );
        assert_eq!(items(&page), ["messages:m3", "inbound:4"]);
        assert_eq!(
            page.next,
            Some(Position {
                at_us: 2,
                stream: Stream::Inbound,
                id: RowId::Text("4".into())
            })
        );
        // Exactly `limit` rows: no next page.
        let page = merge(vec![vec![entry(3, Stream::Messages, "m3")]], 1);
        assert_eq!(page.next, None);
        let empty: Page<String> = merge(vec![vec![], vec![]], 5);
        assert!(empty.entries.is_empty() && empty.next.is_none());
    }

    #[test]
    fn bounds_continue_exactly_after_the_cursor_in_every_stream() {
        let cursor = Position {
            at_us: 100,
            stream: Stream::Retries,
            id: RowId::Int(7),
        };
        assert_eq!(bound_for(Stream::Messages, None), None);
        assert_eq!(
            bound_for(Stream::Messages, Some(&cursor)),
            Some(Bound::AtOrBefore(100))
        );
        assert_eq!(
            bound_for(Stream::Verifications, Some(&cursor)),
            Some(Bound::AtOrBefore(100))
        );
        assert_eq!(
            bound_for(Stream::Retries, Some(&cursor)),
            Some(Bound::BeforeRow {
                at_us: 100,
                id: RowId::Int(7)
            })
        );
        assert_eq!(
            bound_for(Stream::Inbound, Some(&cursor)),
            Some(Bound::Before(100))
        );
    }

    /// Paging through with the bounds visits every row once, in the order of
    /// one big merge, whatever the page size.
    #[test]
    fn paging_visits_every_row_once_in_order() {
        fn keep(bound: &Option<Bound>, e: &Entry<String>) -> bool {
            let (at, id) = (e.position.at_us, &e.position.id);
            match bound {
                None => true,
                Some(Bound::Before(t)) => at < *t,
                Some(Bound::AtOrBefore(t)) => at <= *t,
                Some(Bound::BeforeRow { at_us, id: cid }) => {
                    at < *at_us || (at == *at_us && id.to_string() < cid.to_string())
                }
            }
        }
        let mut all: Vec<Vec<Entry<String>>> = Stream::ALL
            .iter()
            .map(|&stream| {
                let mut rows: Vec<Entry<String>> = (0..13)
                    .map(|i| entry((i * 7 + stream as i64) % 5, stream, &format!("{i:02}")))
                    .collect();
                rows.sort_by_key(|r| {
                    std::cmp::Reverse((r.position.at_us, r.position.id.to_string()))
                });
                rows
            })
            .collect();
        let everything = items(&merge(all.clone(), usize::MAX))
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert_eq!(everything.len(), 52);
        for size in [1, 3, 5, 50, 52, 60] {
            let mut seen = Vec::new();
            let mut cursor: Option<Position> = None;
            loop {
                let streams = all
                    .iter_mut()
                    .map(|rows| {
                        let bound = rows
                            .first()
                            .and_then(|r| bound_for(r.position.stream, cursor.as_ref()));
                        rows.iter()
                            .filter(|e| keep(&bound, e))
                            .take(size + 1)
                            .cloned()
                            .collect()
                    })
                    .collect();
                let page = merge(streams, size);
                seen.extend(page.entries.iter().map(|e| e.item.clone()));
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            assert_eq!(seen, everything, "page size {size}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let position = Position {
            at_us: 1_772_946_000_000_000,
            stream: Stream::Messages,
            id: RowId::Text("0192f5a4-8c1e-7d2b-9a4f-1c2d3e4f5a6b".into()),
        };
        assert_eq!(Position::parse(&position.encode()), Ok(position));
        let negative = Position {
            at_us: -5,
            stream: Stream::Inbound,
            id: RowId::Int(12),
        };
        assert_eq!(Position::parse(&negative.encode()), Ok(negative));
        for bad in [
            "",
            "garbage",
            "12~messages",
            "12~messages~",
            "x~messages~m1",
            "12~letters~m1",
            "12~inbound~abc",
            "12~retries~1.5",
            "12~messages~a'b",
            "12~messages~a~b",
            &format!("12~messages~{}", "a".repeat(65)),
        ] {
            assert_eq!(Position::parse(bad), Err(BadCursor), "{bad:?}");
        }
    }

    #[test]
    fn no_stream_chosen_means_every_stream() {
        assert!(StreamSet::of([]).is_every());
        let some = StreamSet::of([Stream::Inbound, Stream::Messages]);
        assert!(!some.is_every());
        assert!(some.contains(Stream::Inbound) && some.contains(Stream::Messages));
        assert!(!some.contains(Stream::Retries));
        assert_eq!(
            some.iter().collect::<Vec<_>>(),
            [Stream::Messages, Stream::Inbound]
        );
        assert_eq!(
            StreamSet::of(Stream::ALL),
            StreamSet::EVERY,
            "all four chosen"
        );
    }
}
