//! `/`: one box for a phone number or an identifier, filters, and keyset
//! pagination, newest first. Numbers are searched by POST only, throttled
//! per agent and audited (masked).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::error::UiError;
use super::numbers::number_path;
use super::page::{Chrome, audit_by, given, is_plain_date, render, time_bound};
use super::session::{Agent, ClientAddr, CsrfForm};
use crate::app::AppState;
use crate::domain::DeliveryStatus;
use crate::domain::account::AuditAction;
use crate::domain::outbound::RetryKind;
use crate::domain::search::{SearchTerm, classify};
use crate::domain::timezones::format_instant;
use crate::store::{MessageQuery, MessageRecord, SearchKey};

const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SearchForm {
    q: String,
    status: String,
    country: String,
    provider: String,
    sender: String,
    template: String,
    use_case: String,
    /// `yes` or `no`: only messages with (or without) a final status;
    /// `timed_out`: without one, and smstrail's timeout gave up on them.
    #[serde(rename = "final")]
    finality: String,
    /// A retry kind: only messages that were retried that way.
    retry: String,
    from: String,
    to: String,
    /// `created_at_us~id` of the last row of the previous page.
    #[serde(skip_serializing_if = "String::is_empty")]
    before: String,
}

impl SearchForm {
    /// The fields that are set, for a short link.
    fn non_empty(&self) -> Vec<(&'static str, &str)> {
        [
            ("q", &self.q),
            ("status", &self.status),
            ("country", &self.country),
            ("provider", &self.provider),
            ("sender", &self.sender),
            ("template", &self.template),
            ("use_case", &self.use_case),
            ("final", &self.finality),
            ("retry", &self.retry),
            ("from", &self.from),
            ("to", &self.to),
            ("before", &self.before),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect()
    }

    /// Whether the date boxes can show the bounds (a dashboard link gives
    /// exact instants, shown as text).
    fn dates_are_days(&self) -> bool {
        is_plain_date(&self.from) && is_plain_date(&self.to)
    }

    fn has_filters(&self) -> bool {
        [
            &self.status,
            &self.country,
            &self.provider,
            &self.sender,
            &self.template,
            &self.use_case,
            &self.finality,
            &self.retry,
            &self.from,
            &self.to,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }
}

pub struct Row {
    id: String,
    recipient_masked: String,
    status: String,
    is_final: bool,
    country: String,
    provider: String,
    template: String,
    use_case: String,
    created: String,
    updated: String,
    matched: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    form: SearchForm,
    statuses: Vec<&'static str>,
    retry_kinds: Vec<&'static str>,
    zone: String,
    filters_open: bool,
    rows: Vec<Row>,
    show_matched: bool,
    matched: Option<String>,
    hint: Option<String>,
    error: Option<String>,
    next_page: Option<String>,
    /// The next page of a phone search, as a form to post.
    next_form: Option<SearchForm>,
    /// A number search: its page (`/numbers/{ref}`) and what it holds.
    number_page: Option<(String, String)>,
}

/// `GET /`: identifiers and filters, in a link that can be shared. A phone
/// number is not searched here: in a URL it would land in proxy logs,
/// browser history and a login redirect's `next`.
pub async fn search(
    State(state): State<AppState>,
    agent: Agent,
    token: CsrfToken,
    Query(mut form): Query<SearchForm>,
) -> Result<Response, UiError> {
    if let SearchTerm::Phone(_) = classify(&form.q) {
        form.q.clear();
        let mut page = SearchPage::new(&token, &agent, form)?;
        page.error = Some(NUMBER_IN_LINK.to_owned());
        return Ok((StatusCode::BAD_REQUEST, render(token, page)).into_response());
    }
    let page = SearchPage::new(&token, &agent, form)?;
    results(&state, &agent, token, page).await
}

const NUMBER_IN_LINK: &str = "Phone numbers are not searched from links, which end up in \
    logs and browser history: type the number in the box and press Search.";

/// `POST /`: the search box. A phone number is searched here and its results
/// answered directly, so the number never appears in a URL; anything else
/// is sent on to the shareable `GET /` link.
pub async fn search_post(
    State(state): State<AppState>,
    agent: Agent,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<SearchForm>,
) -> Result<Response, UiError> {
    let SearchTerm::Phone(number) = classify(&form.q) else {
        let query = serde_urlencoded::to_string(form.non_empty()).unwrap_or_default();
        return Ok(Redirect::to(&format!("/?{query}")).into_response());
    };
    if let Err(wait) = state.search_limiter.check(&agent.user.id) {
        // Not audited: a flood must not be able to fill the audit log.
        tracing::warn!(user = %agent.user.id, "phone search throttled");
        return Err(UiError::TooManyAttempts {
            what: "phone-number searches",
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let mut entry = audit_by(&agent, &addr, AuditAction::PhoneSearch);
    // Masked: the audit log must not become a list of numbers.
    entry.detail = Some(number.masked());
    let page = SearchPage::new(&token, &agent, form)?;
    // The audit row commits while the search reads (its commit waits for
    // the disk); no result leaves before it has committed, and none at all
    // if it failed.
    let (audited, answer) = tokio::join!(
        state.store.append_audit(&entry),
        results(&state, &agent, token, page)
    );
    audited?;
    answer
}

impl SearchPage {
    fn new(token: &CsrfToken, agent: &Agent, form: SearchForm) -> Result<Self, UiError> {
        Ok(SearchPage {
            chrome: Chrome::new(token, Some(agent), "search")?,
            statuses: DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect(),
            retry_kinds: RetryKind::ALL.iter().map(|k| k.as_str()).collect(),
            zone: agent.zone.name().to_owned(),
            filters_open: form.has_filters(),
            rows: Vec::new(),
            show_matched: false,
            matched: None,
            hint: None,
            error: None,
            next_page: None,
            next_form: None,
            number_page: None,
            form,
        })
    }
}

async fn results(
    state: &AppState,
    agent: &Agent,
    token: CsrfToken,
    mut page: SearchPage,
) -> Result<Response, UiError> {
    let mut query = match build_query(&page.form, agent.zone) {
        Ok(query) => query,
        Err(error) => {
            page.error = Some(error);
            return Ok(render(token, page));
        }
    };
    let term = classify(&page.form.q);
    let identifier = match &term {
        SearchTerm::Empty => None,
        SearchTerm::Phone(number) => {
            let hash = state.cipher.phone_hash(number.e164());
            let traffic = state.store.number_traffic(&hash).await?;
            let link = number_path(&hash);
            // A number that only wrote to us (a STOP, a reply) has no
            // message to list: its own page is the answer.
            if traffic.outbound == 0
                && traffic.inbound > 0
                && !page.form.has_filters()
                && page.form.before.is_empty()
            {
                return Ok(Redirect::to(&link).into_response());
            }
            if !traffic.is_empty() {
                page.number_page = Some((
                    link,
                    format!(
                        "{} sent to it, {} received from it, and its opt-out history",
                        plural(traffic.outbound, "message"),
                        plural(traffic.inbound, "message"),
                    ),
                ));
            }
            query.key = Some(SearchKey::RecipientHash(hash));
            page.matched = Some(format!(
                "Searched by phone number {} (matched through its keyed hash).",
                number.masked()
            ));
            None
        }
        SearchTerm::Identifier { text, phone_hint } => {
            page.hint = phone_hint.clone();
            query.key = Some(SearchKey::Identifier(text.clone()));
            Some(text.clone())
        }
        SearchTerm::InvalidPhone(error) => {
            page.error = Some(error.clone());
            return Ok(render(token, page));
        }
    };
    query.limit = PAGE_SIZE + 1;
    let mut found = state.store.search_messages(&query).await?;
    let more = found.len() as i64 > PAGE_SIZE;
    found.truncate(PAGE_SIZE as usize);
    if more && let Some(last) = found.last() {
        let mut next = page.form.clone();
        next.before = format!("{}~{}", last.created_at_us, last.id);
        if matches!(term, SearchTerm::Phone(_)) {
            // The next page of a number is posted too.
            page.next_form = Some(next);
        } else {
            page.next_page = serde_urlencoded::to_string(next.non_empty())
                .ok()
                .map(|q| format!("/?{q}"));
        }
    }
    if let Some(text) = &identifier {
        let mut keys: Vec<&str> = found.iter().flat_map(|m| matched_keys(m, text)).collect();
        keys.sort_unstable();
        keys.dedup();
        page.show_matched = true;
        if !keys.is_empty() {
            page.matched = Some(format!("{text:?} matched the {}.", keys.join(", the ")));
        }
    }
    page.rows = found
        .iter()
        .map(|m| row(m, agent.zone, identifier.as_deref()))
        .collect();
    Ok(render(token, page))
}

fn plural(count: i64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Whether a query string would search by phone number: such a link must
/// not be carried on (as a login redirect's `next`, for one).
pub fn query_names_a_number(query: &str) -> bool {
    serde_urlencoded::from_str::<SearchForm>(query)
        .is_ok_and(|form| matches!(classify(&form.q), SearchTerm::Phone(_)))
}

fn build_query(form: &SearchForm, zone: Tz) -> Result<MessageQuery, String> {
    let status = given(&Some(form.status.clone()));
    if let Some(status) = &status
        && !DeliveryStatus::ALL.iter().any(|s| s.as_str() == status)
    {
        return Err(format!("Unknown status {status:?}."));
    }
    let country = given(&Some(form.country.clone())).map(|c| c.to_uppercase());
    if let Some(country) = &country
        && (country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()))
    {
        return Err(format!(
            "Country {country:?} is not a two-letter ISO code (e.g. US)."
        ));
    }
    let bound = |text: &str, end, field| {
        time_bound(Some(text), zone, end, field).map_err(|e| match e {
            UiError::Page { message, .. } => message,
            other => format!("{other:?}"),
        })
    };
    let before = match given(&Some(form.before.clone())) {
        None => None,
        Some(cursor) => {
            let parsed = cursor
                .split_once('~')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())));
            Some(parsed.ok_or("The page link is damaged: start the search again.")?)
        }
    };
    let (is_final, timed_out) = match form.finality.trim() {
        "" => (None, false),
        "yes" => (Some(true), false),
        "no" => (Some(false), false),
        "timed_out" => (Some(false), true),
        other => {
            return Err(format!(
                "Final: {other:?} is neither yes, no nor timed_out."
            ));
        }
    };
    let retry = given(&Some(form.retry.clone()));
    if let Some(kind) = &retry
        && RetryKind::parse(kind).is_none()
    {
        return Err(format!("Unknown retry kind {kind:?}."));
    }
    Ok(MessageQuery {
        key: None,
        is_final,
        timed_out,
        retry,
        status,
        country,
        provider: given(&Some(form.provider.clone())).map(|p| p.to_lowercase()),
        sender_identity: given(&Some(form.sender.clone())),
        template_key: given(&Some(form.template.clone())),
        use_case: given(&Some(form.use_case.clone())),
        from_us: bound(&form.from, false, "From")?,
        to_us: bound(&form.to, true, "To")?,
        before,
        limit: PAGE_SIZE,
    })
}

fn matched_keys<'a>(m: &MessageRecord, text: &str) -> Vec<&'a str> {
    let mut keys = Vec::new();
    if m.id == text {
        keys.push("message id");
    }
    if m.provider_message_id.as_deref() == Some(text) {
        keys.push("provider message id");
    }
    if m.user_ref.as_deref() == Some(text) {
        keys.push("user ref");
    }
    if m.product_action_ref.as_deref() == Some(text) {
        keys.push("product action ref");
    }
    keys
}

fn row(m: &MessageRecord, zone: Tz, identifier: Option<&str>) -> Row {
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
    Row {
        id: m.id.clone(),
        recipient_masked: m.recipient_masked.clone(),
        status: m.current_status.as_str().to_owned(),
        is_final: m.is_final,
        country: text(&m.destination_country),
        provider: m.provider.clone(),
        template: text(&m.template_key),
        use_case: text(&m.use_case),
        created: format_instant(m.created_at_us, zone),
        updated: format_instant(m.updated_at_us, zone),
        matched: identifier
            .map(|t| matched_keys(m, t).join(", "))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SearchForm {
        SearchForm::default()
    }

    #[test]
    fn filters_are_checked_and_normalized() {
        let query = build_query(
            &SearchForm {
                status: "delivered".into(),
                country: "us".into(),
                provider: "Twilio".into(),
                ..form()
            },
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(query.status.as_deref(), Some("delivered"));
        assert_eq!(query.country.as_deref(), Some("US"));
        assert_eq!(query.provider.as_deref(), Some("twilio"));
        for bad in [
            SearchForm {
                status: "read".into(),
                ..form()
            },
            SearchForm {
                country: "USA".into(),
                ..form()
            },
            SearchForm {
                from: "2026-13-01".into(),
                ..form()
            },
            SearchForm {
                before: "garbage".into(),
                ..form()
            },
        ] {
            assert!(build_query(&bad, Tz::UTC).is_err());
        }
    }

    #[test]
    fn date_ranges_are_whole_days_in_the_agents_zone() {
        let query = build_query(
            &SearchForm {
                from: "2026-03-08".into(),
                to: "2026-03-08".into(),
                ..form()
            },
            chrono_tz::America::New_York,
        )
        .unwrap();
        // Midnight EST is 05:00Z; the DST day is 23 hours long.
        assert_eq!(query.from_us, Some(1_772_946_000_000_000));
        assert_eq!(
            query.to_us.unwrap() - query.from_us.unwrap(),
            23 * 3_600_000_000
        );
    }
}
