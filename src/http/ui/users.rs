//! `/users/{user_ref}`: everything about one of the product's users, newest
//! first — the messages registered with that user ref, the events of their
//! OTP verifications, the retries of those messages, and the replies and
//! opt-outs from the numbers those messages went to (see
//! `store::user_history` for what belongs to a user). Each stream can be
//! shown on its own (`?messages=1&inbound=1`; none named shows all), and the
//! page is cut by a keyset cursor (`before`), 50 rows at a time, so a user
//! with 10,000 messages costs one page per stream. Numbers stay masked.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum_csrf::CsrfToken;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::error::UiError;
use super::message::Times;
use super::numbers::{InboundRow, OutboundRow, agent_zones, number_path};
use super::page::{Chrome, render};
use super::session::Agent;
use crate::app::AppState;
use crate::domain::retention::removed_note;
use crate::domain::user_timeline::{Entry, Position, RowId, Stream, StreamSet, bound_for, merge};
use crate::store::StoreError;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/users/{user_ref}", get(user))
}

const PAGE_SIZE: usize = 50;
/// The send API refuses longer user refs, so none is stored.
const MAX_USER_REF_CHARS: usize = 255;

/// Everything but the unreserved characters of RFC 3986 is escaped, so any
/// user ref (`/`, `?`, `#`, `%`, spaces, non-ASCII) stays one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The page of the user with this ref, as a link.
pub(super) fn user_path(user_ref: &str) -> String {
    let segment = utf8_percent_encode(user_ref, SEGMENT).to_string();
    // `.` and `..` would be resolved away by browsers as path steps.
    let segment = match segment.as_str() {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => segment,
    };
    format!("/users/{segment}")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserQuery {
    messages: String,
    verifications: String,
    retries: String,
    inbound: String,
    /// The position of the last row of the previous page.
    before: String,
}

impl UserQuery {
    fn streams(&self) -> StreamSet {
        StreamSet::of(Stream::ALL.into_iter().filter(|s| {
            !match s {
                Stream::Messages => &self.messages,
                Stream::Verifications => &self.verifications,
                Stream::Retries => &self.retries,
                Stream::Inbound => &self.inbound,
            }
            .is_empty()
        }))
    }
}

/// The query string of a page showing `streams`, from `before` on.
fn page_query(streams: StreamSet, before: Option<&Position>) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if !streams.is_every() {
        pairs.extend(streams.iter().map(|s| (s.as_str(), "1".to_owned())));
    }
    if let Some(position) = before {
        pairs.push(("before", position.encode()));
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

pub(super) enum Item {
    Message {
        row: OutboundRow,
        recipient_masked: String,
        number_link: String,
    },
    Verification {
        verification_id: String,
        kind: &'static str,
        message_id: Option<String>,
    },
    Retry {
        message_id: String,
        kind: String,
        new_message_id: Option<String>,
        reason: Option<String>,
    },
    Inbound(InboundRow),
}

pub(super) struct Row {
    at: Times,
    stream: &'static str,
    item: Item,
}

struct StreamChoice {
    name: &'static str,
    label: &'static str,
    checked: bool,
    only_link: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    user_ref: String,
    path: String,
    agent_zone: String,
    choices: Vec<StreamChoice>,
    filtered: bool,
    rows: Vec<Row>,
    first_page: Option<String>,
    next_page: Option<String>,
}

async fn user(
    State(state): State<AppState>,
    agent: Agent,
    token: CsrfToken,
    Path(user_ref): Path<String>,
    Query(query): Query<UserQuery>,
) -> Result<Response, UiError> {
    let plausible =
        user_ref.chars().count() <= MAX_USER_REF_CHARS && !user_ref.chars().any(char::is_control);
    if !plausible || !state.store.user_ref_known(&user_ref).await? {
        return Err(nothing_found(&user_ref));
    }
    let streams = query.streams();
    let cursor = match query.before.trim() {
        "" => None,
        text => Some(Position::parse(text).map_err(|e| UiError::bad_request(capital(e)))?),
    };
    let page = load_rows(&state, &user_ref, streams, cursor.as_ref(), agent.zone).await?;
    let path = user_path(&user_ref);
    let choices = Stream::ALL
        .into_iter()
        .map(|s| StreamChoice {
            name: s.as_str(),
            label: label(s),
            checked: !streams.is_every() && streams.contains(s),
            only_link: format!("{path}{}", page_query(StreamSet::of([s]), None)),
        })
        .collect();
    let page = UserPage {
        chrome: Chrome::new(&token, Some(&agent), "search")?,
        user_ref,
        agent_zone: agent.zone.name().to_owned(),
        choices,
        filtered: !streams.is_every(),
        rows: page.0,
        first_page: cursor
            .is_some()
            .then(|| format!("{path}{}", page_query(streams, None))),
        next_page: page
            .1
            .map(|next| format!("{path}{}", page_query(streams, Some(&next)))),
        path,
    };
    Ok(render(token, page))
}

fn capital(error: impl std::fmt::Display) -> String {
    super::account::capitalize(&error.to_string())
}

fn nothing_found(user_ref: &str) -> UiError {
    let shown: String = user_ref.chars().take(80).collect();
    let ellipsis = if shown.len() < user_ref.len() {
        "…"
    } else {
        ""
    };
    UiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "Nothing found for user ref {shown:?}{ellipsis}: no message or OTP verification names it."
        ),
    )
}

fn label(stream: Stream) -> &'static str {
    match stream {
        Stream::Messages => "Messages",
        Stream::Verifications => "OTP verifications",
        Stream::Retries => "Retries and fallbacks",
        Stream::Inbound => "Replies and opt-outs",
    }
}

/// One page of rows, newest first, and the cursor of the next.
async fn load_rows(
    state: &AppState,
    user_ref: &str,
    streams: StreamSet,
    cursor: Option<&Position>,
    zone: chrono_tz::Tz,
) -> Result<(Vec<Row>, Option<Position>), StoreError> {
    let store = &state.store;
    // One more than a page per stream tells whether an older page exists.
    let limit = PAGE_SIZE as i64 + 1;
    let zones = agent_zones(zone);
    let removed = removed_note(state.config.retain_raw_payloads);
    let mut parts: Vec<Vec<Entry<Row>>> = Vec::new();
    for stream in streams.iter() {
        let bound = bound_for(stream, cursor);
        let bound = bound.as_ref();
        let entries: Vec<Entry<Row>> = match stream {
            Stream::Messages => store
                .user_messages(user_ref, bound, limit)
                .await?
                .into_iter()
                .map(|m| {
                    let item = Item::Message {
                        row: OutboundRow::new(&m, &zones),
                        recipient_masked: m.recipient_masked.clone(),
                        number_link: number_path(&m.recipient_hash),
                    };
                    entry(stream, m.created_at_us, RowId::Text(m.id), item, &zones)
                })
                .collect(),
            Stream::Verifications => store
                .user_verification_events(user_ref, bound, limit)
                .await?
                .into_iter()
                .map(|e| {
                    let item = Item::Verification {
                        verification_id: e.verification_id,
                        kind: e.kind.as_str(),
                        message_id: e.message_id,
                    };
                    entry(stream, e.occurred_at_us, RowId::Int(e.id), item, &zones)
                })
                .collect(),
            Stream::Retries => store
                .user_retries(user_ref, bound, limit)
                .await?
                .into_iter()
                .map(|r| {
                    let item = Item::Retry {
                        message_id: r.message_id,
                        kind: r.kind.as_str().replace('_', " "),
                        new_message_id: r.new_message_id,
                        reason: r.reason,
                    };
                    entry(stream, r.created_at_us, RowId::Int(r.id), item, &zones)
                })
                .collect(),
            Stream::Inbound => store
                .user_inbound(user_ref, bound, limit)
                .await?
                .into_iter()
                .map(|i| {
                    let at = i.provider_occurred_at_us.unwrap_or(i.received_at_us);
                    let item = Item::Inbound(InboundRow::new(&i, &zones, &state.cipher, &removed));
                    entry(stream, at, RowId::Int(i.id), item, &zones)
                })
                .collect(),
        };
        parts.push(entries);
    }
    let page = merge(parts, PAGE_SIZE);
    Ok((
        page.entries.into_iter().map(|e| e.item).collect(),
        page.next,
    ))
}

fn entry(
    stream: Stream,
    at_us: i64,
    id: RowId,
    item: Item,
    zones: &super::message::Zones,
) -> Entry<Row> {
    Entry {
        position: Position { at_us, stream, id },
        item: Row {
            at: zones.times(at_us),
            stream: stream.as_str(),
            item,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_refs_become_one_safe_path_segment() {
        assert_eq!(user_path("user-42"), "/users/user-42");
        assert_eq!(user_path("a/b?c#d"), "/users/a%2Fb%3Fc%23d");
        assert_eq!(user_path("50% off"), "/users/50%25%20off");
        assert_eq!(user_path("x\"><script>"), "/users/x%22%3E%3Cscript%3E");
        assert_eq!(user_path("José"), "/users/Jos%C3%A9");
        assert_eq!(user_path("."), "/users/%2E");
        assert_eq!(user_path(".."), "/users/%2E%2E");
        assert_eq!(user_path("a.b_c~d"), "/users/a.b_c~d");
    }

    #[test]
    fn no_stream_named_shows_all_and_links_keep_the_choice() {
        let all = UserQuery::default();
        assert!(all.streams().is_every());
        assert_eq!(page_query(all.streams(), None), "");
        let some = UserQuery {
            inbound: "1".into(),
            messages: "on".into(),
            ..UserQuery::default()
        };
        let streams = some.streams();
        assert!(streams.contains(Stream::Inbound) && !streams.contains(Stream::Retries));
        let next = Position {
            at_us: 5,
            stream: Stream::Inbound,
            id: RowId::Int(9),
        };
        assert_eq!(
            page_query(streams, Some(&next)),
            "?messages=1&inbound=1&before=5%7Einbound%7E9"
        );
    }
}
