//! `/numbers/{ref}`: everything about one phone number — the messages sent
//! to it, the messages it sent us, its opt-out state over time — and
//! `POST /numbers/{ref}/reveal`, the audited reveal (the same use case as a
//! message's). A number that only ever wrote to us (a STOP, a reply) has no
//! message page; this is its page.
//!
//! `ref` is the number's keyed hash (HMAC-SHA256 under the data key),
//! base64url: it names the number in links, logs and the audit log without
//! saying anything about it to someone without the key. The number itself
//! never appears in a URL.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_csrf::CsrfToken;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono_tz::Tz;

use super::error::UiError;
use super::message::{Times, Zones, open_masked};
use super::page::{Chrome, now_us, render};
use super::reveal::RevealForm;
use super::session::{Agent, ClientAddr, CsrfForm};
use crate::app::AppState;
use crate::crypto::DataCipher;
use crate::domain::InboundKeyword;
use crate::domain::opt_out::{KeywordMessage, OptOutState, history};
use crate::domain::timezones::format_instant;
use crate::store::{InboundRecord, MessageRecord};
use crate::usecase::reveal::RevealTarget;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/numbers/{reference}", get(number))
        .route("/numbers/{reference}/reveal", post(reveal))
}

/// Rows of each list the page shows (newest first); the page says when
/// there are more.
const SHOWN: i64 = 100;
/// Keyword messages replayed for the opt-out history.
const KEYWORDS_REPLAYED: i64 = 500;
const USER_REFS_SHOWN: i64 = 20;

/// The page of the number with this keyed hash.
pub(super) fn number_path(hash: &[u8]) -> String {
    format!("/numbers/{}", URL_SAFE_NO_PAD.encode(hash))
}

/// The keyed hash a page reference names; `None` for anything that is not
/// one (wrong alphabet, padding, length).
fn parse_reference(reference: &str) -> Option<Vec<u8>> {
    let hash = URL_SAFE_NO_PAD.decode(reference).ok()?;
    (hash.len() == 32).then_some(hash)
}

/// A message sent to the number, in a list.
pub(super) struct OutboundRow {
    pub id: String,
    pub status: String,
    pub is_final: bool,
    pub template: String,
    pub use_case: String,
    pub requested: Times,
    pub user_ref: Option<(String, String)>,
}

impl OutboundRow {
    pub fn new(m: &MessageRecord, zones: &Zones) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
        Self {
            id: m.id.clone(),
            status: m.current_status.as_str().to_owned(),
            is_final: m.is_final,
            template: text(&m.template_key),
            use_case: text(&m.use_case),
            requested: zones.times(m.created_at_us),
            user_ref: m
                .user_ref
                .as_ref()
                .map(|r| (r.clone(), super::users::user_path(r))),
        }
    }
}

/// A message from the number, in a list.
pub(super) struct InboundRow {
    pub at: Times,
    pub from_masked: String,
    pub number_link: String,
    pub to: String,
    pub keyword: Option<&'static str>,
    pub body: String,
    pub body_removed: bool,
}

impl InboundRow {
    /// `removed`: how the retention policy's removal of a body reads.
    pub fn new(i: &InboundRecord, zones: &Zones, cipher: &DataCipher, removed: &str) -> Self {
        let body_removed = i.body_sealed.is_empty();
        Self {
            at: zones.times(i.provider_occurred_at_us.unwrap_or(i.received_at_us)),
            from_masked: i.sender_masked.clone(),
            number_link: number_path(&i.sender_hash),
            to: i.recipient_identity.clone(),
            keyword: i
                .keyword
                .as_deref()
                .and_then(InboundKeyword::parse)
                .map(InboundKeyword::as_str),
            body: if body_removed {
                format!("({removed})")
            } else {
                open_masked(cipher, &i.body_sealed)
            },
            body_removed,
        }
    }
}

struct OptOutRow {
    at: Times,
    keyword: &'static str,
    to: String,
    effect: &'static str,
    changed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "number.html")]
struct NumberPage {
    chrome: Chrome,
    reference: String,
    masked: String,
    revealed: Option<String>,
    reveal_error: Option<String>,
    grant_until: Option<String>,
    agent_zone: String,
    outbound_total: i64,
    inbound_total: i64,
    /// `opted out` / `opted back in` / `never opted out`.
    state: &'static str,
    state_class: &'static str,
    state_since: Option<Times>,
    opt_outs: Vec<OptOutRow>,
    keywords_capped: bool,
    user_refs: Vec<(String, String)>,
    outbound: Vec<OutboundRow>,
    inbound: Vec<InboundRow>,
    shown: i64,
}

async fn number(
    State(state): State<AppState>,
    agent: Agent,
    token: CsrfToken,
    Path(reference): Path<String>,
) -> Result<Response, UiError> {
    let page = load_page(&state, &agent, &token, &reference).await?;
    Ok(render(token, page))
}

async fn reveal(
    State(state): State<AppState>,
    agent: Agent,
    addr: ClientAddr,
    Path(reference): Path<String>,
    CsrfForm { form, token }: CsrfForm<RevealForm>,
) -> Result<Response, UiError> {
    // The page first: an unknown number is a 404, not an audited attempt.
    let mut page = load_page(&state, &agent, &token, &reference).await?;
    let hash = parse_reference(&reference).unwrap_or_default();
    let target = RevealTarget::Number {
        hash: &hash,
        reference: &reference,
    };
    let answer = super::reveal::answer(&state, &agent, &addr, target, &form.reason).await?;
    page.revealed = answer.revealed;
    page.reveal_error = answer.error;
    Ok((answer.status, render(token, page)).into_response())
}

fn not_found() -> UiError {
    UiError::new(
        StatusCode::NOT_FOUND,
        "Nothing found for this number: no message went to it and none came from it.",
    )
}

async fn load_page(
    state: &AppState,
    agent: &Agent,
    token: &CsrfToken,
    reference: &str,
) -> Result<NumberPage, UiError> {
    let hash = parse_reference(reference).ok_or_else(not_found)?;
    let store = &state.store;
    let traffic = store.number_traffic(&hash).await?;
    if traffic.is_empty() {
        return Err(not_found());
    }
    let outbound = store.messages_to_number(&hash, SHOWN).await?;
    let inbound = store.inbound_from(&hash, SHOWN).await?;
    let keywords = store.keywords_from(&hash, KEYWORDS_REPLAYED).await?;
    let user_refs = store.user_refs_of_number(&hash, USER_REFS_SHOWN).await?;
    let grant = store.live_grant(&agent.user.id, now_us()).await?;
    let masked = outbound
        .first()
        .map(|m| m.recipient_masked.clone())
        .or_else(|| inbound.first().map(|i| i.sender_masked.clone()))
        .unwrap_or_default();

    let zones = agent_zones(agent.zone);
    let keywords_capped = keywords.len() as i64 >= KEYWORDS_REPLAYED;
    let replay: Vec<KeywordMessage> = keywords
        .iter()
        .filter_map(|k| {
            Some(KeywordMessage {
                at_us: k.at_us,
                id: k.id,
                keyword: InboundKeyword::parse(&k.keyword)?,
            })
        })
        .collect();
    let opt_out = history(replay);
    let (state_text, state_class, since) = match opt_out.current {
        OptOutState::NeverOptedOut => ("never opted out", "delivered", None),
        OptOutState::OptedOut { since_us } => ("opted out", "stop", Some(since_us)),
        OptOutState::OptedBackIn { since_us } => ("opted back in", "delivered", Some(since_us)),
    };
    let sent_to: HashMap<i64, &str> = keywords
        .iter()
        .map(|k| (k.id, k.recipient_identity.as_str()))
        .collect();
    let removed = crate::domain::retention::removed_note(state.config.retain_raw_payloads);
    Ok(NumberPage {
        chrome: Chrome::new(token, Some(agent), "search")?,
        reference: reference.to_owned(),
        masked,
        revealed: None,
        reveal_error: None,
        grant_until: grant.map(|g| format_instant(g.expires_at_us, agent.zone)),
        agent_zone: agent.zone.name().to_owned(),
        outbound_total: traffic.outbound,
        inbound_total: traffic.inbound,
        state: state_text,
        state_class,
        state_since: since.map(|us| zones.times(us)),
        // Newest first, like the other lists.
        opt_outs: opt_out
            .entries
            .iter()
            .rev()
            .map(|e| OptOutRow {
                at: zones.times(e.message.at_us),
                keyword: e.message.keyword.as_str(),
                to: sent_to
                    .get(&e.message.id)
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
                effect: e.effect.describe(),
                changed: e.effect.changed_state(),
            })
            .collect(),
        keywords_capped,
        user_refs: user_refs
            .into_iter()
            .map(|r| {
                let link = super::users::user_path(&r);
                (r, link)
            })
            .collect(),
        outbound: outbound
            .iter()
            .map(|m| OutboundRow::new(m, &zones))
            .collect(),
        inbound: inbound
            .iter()
            .map(|i| InboundRow::new(i, &zones, &state.cipher, &removed))
            .collect(),
        shown: SHOWN,
    })
}

/// Agent and UTC only: a number's own zone is a message's business.
pub(super) fn agent_zones(agent: Tz) -> Zones {
    Zones {
        agent,
        recipient: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_and_refuse_anything_but_a_hash() {
        let hash: Vec<u8> = (0..32).collect();
        let path = number_path(&hash);
        let reference = path.strip_prefix("/numbers/").unwrap();
        assert_eq!(parse_reference(reference), Some(hash));
        assert!(!reference.contains(['/', '+', '=']), "{reference}");
        for bad in [
            "",
            "+14155550100",
            "14155550100",
            "AAEC",
            &"A".repeat(44),
            &format!("{reference}="),
            "../../etc/passwd",
        ] {
            assert_eq!(parse_reference(bad), None, "{bad:?}");
        }
    }
}
