//! `/dashboards`: delivery outcomes, OTP completion, callback latency,
//! messages with no final state, retries and a provider scorecard, for a
//! period and filters, from the rollups the writers keep (support and
//! admin). Every figure that counts messages links to the search that
//! lists them.

mod charts;
mod links;
mod view;

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use serde::Deserialize;

use super::error::UiError;
use super::page::{Chrome, now_us, render};
use super::session::Agent;
use crate::app::AppState;
use crate::domain::dashboard::{Period, PeriodChoice};
use crate::domain::outbound::USE_CASES;
use crate::domain::timezones::format_instant;
use crate::store::{DashboardData, DashboardFilter};

pub use links::Links;
use view::Views;

/// The page's query: the period and the filters.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct DashboardForm {
    pub period: String,
    pub from: String,
    pub to: String,
    pub country: String,
    pub provider: String,
    pub use_case: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboards.html")]
struct DashboardPage {
    chrome: Chrome,
    form: DashboardForm,
    periods: Vec<(&'static str, &'static str)>,
    providers: Vec<&'static str>,
    use_cases: Vec<&'static str>,
    countries: Vec<String>,
    zone: String,
    /// "2026-03-10 13:15 – 14:15 (Europe/Paris)".
    period_label: String,
    error: Option<String>,
    v: Views,
}

pub async fn dashboards(
    State(state): State<AppState>,
    agent: Agent,
    token: CsrfToken,
    Query(form): Query<DashboardForm>,
) -> Result<Response, UiError> {
    let chrome = Chrome::new(&token, Some(&agent), "dashboards")?;
    let parsed = parse(&form, agent.zone);
    let (period, filter, error) = match parsed {
        Ok((period, filter)) => (Some(period), filter, None),
        Err(message) => (None, DashboardFilter::default(), Some(message)),
    };
    let data = match &period {
        Some(period) => state.store.dashboard(period, &filter).await?,
        None => DashboardData::default(),
    };
    let links = period.map(|p| Links::new(&p, &filter));
    let page = DashboardPage {
        chrome,
        periods: vec![
            ("1h", "Last hour"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
            ("custom", "Dates below"),
        ],
        providers: crate::providers::KNOWN.to_vec(),
        use_cases: USE_CASES.to_vec(),
        countries: view::countries(&data),
        zone: agent.zone.name().to_owned(),
        period_label: period
            .map(|p| period_label(&p, agent.zone))
            .unwrap_or_default(),
        v: Views::build(&data, links.as_ref()),
        error,
        form: DashboardForm {
            period: PeriodChoice::parse(&form.period, &form.from, &form.to)
                .map(|c| c.key().to_owned())
                .unwrap_or_else(|_| form.period.clone()),
            ..form
        },
    };
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, render(token, page)).into_response())
}

/// An empty field is no filter.
fn given(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// The period and filters, checked; the message says what to fix.
fn parse(form: &DashboardForm, zone: chrono_tz::Tz) -> Result<(Period, DashboardFilter), String> {
    let choice = PeriodChoice::parse(&form.period, &form.from, &form.to)
        .map_err(|e| format!("Period: {e}."))?;
    let period = choice
        .resolve(now_us(), zone)
        .map_err(|e| format!("Period: {e}."))?;
    let country = given(&form.country).map(str::to_uppercase);
    if let Some(country) = &country
        && (country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()))
    {
        return Err(format!(
            "Country {country:?} is not a two-letter ISO code (e.g. US)."
        ));
    }
    let provider = given(&form.provider).map(str::to_lowercase);
    if let Some(provider) = &provider
        && !crate::providers::KNOWN.contains(&provider.as_str())
    {
        return Err(format!("Unknown provider {provider:?}."));
    }
    let use_case = given(&form.use_case).map(str::to_owned);
    if let Some(use_case) = &use_case
        && !USE_CASES.contains(&use_case.as_str())
    {
        return Err(format!("Unknown use case {use_case:?}."));
    }
    Ok((
        period,
        DashboardFilter {
            country,
            provider,
            use_case,
        },
    ))
}

/// How many days back the message page looks to judge a country's receipts.
const RECEIPT_DAYS: i64 = 30;

/// For the message page of a message with no final status: "this country
/// often sends no receipt", when its messages of the last 30 days say so.
/// How long a country's receipt note is reused: a 30-day share moves
/// slowly, and computing it is a country-filtered dashboard read (~40 ms at
/// 300 k messages), far over a message page's budget.
const RECEIPT_NOTE_FRESH: std::time::Duration = std::time::Duration::from_secs(300);

/// The last receipt note per country, with when it was computed. Bounded by
/// the number of countries.
#[derive(Default)]
pub struct ReceiptNotes(std::sync::Mutex<HashMap<String, (std::time::Instant, Option<String>)>>);

impl ReceiptNotes {
    /// The note for `country`, from the cache while fresh.
    pub async fn note(
        &self,
        store: &crate::store::Store,
        country: &str,
    ) -> Result<Option<String>, crate::store::StoreError> {
        let cached = self.0.lock().ok().and_then(|notes| {
            notes
                .get(country)
                .filter(|(at, _)| at.elapsed() < RECEIPT_NOTE_FRESH)
                .map(|(_, note)| note.clone())
        });
        if let Some(note) = cached {
            return Ok(note);
        }
        let note = missing_receipt_note(store, country).await?;
        if let Ok(mut notes) = self.0.lock() {
            notes.insert(
                country.to_owned(),
                (std::time::Instant::now(), note.clone()),
            );
        }
        Ok(note)
    }
}

async fn missing_receipt_note(
    store: &crate::store::Store,
    country: &str,
) -> Result<Option<String>, crate::store::StoreError> {
    let Ok(period) = PeriodChoice::Last30Days.resolve(now_us(), chrono_tz::UTC) else {
        return Ok(None);
    };
    let filter = DashboardFilter {
        country: Some(country.to_owned()),
        ..DashboardFilter::default()
    };
    let mut counts = crate::domain::dashboard::Counts::default();
    for row in store.dashboard_counts(&period, &filter).await? {
        counts.add(&row.counts);
    }
    Ok(crate::domain::dashboard::figures::missing_receipt_note(
        country,
        &counts,
        RECEIPT_DAYS,
    ))
}

fn period_label(period: &Period, zone: chrono_tz::Tz) -> String {
    let short = |us: i64| {
        let full = format_instant(us, zone);
        // "2026-03-10 14:15:00.000 CET (UTC+01:00)" → "2026-03-10 14:15".
        full.get(..16).unwrap_or(&full).to_owned()
    };
    format!(
        "{} – {} ({})",
        short(period.from_us),
        short(period.to_us),
        zone.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> DashboardForm {
        let query = serde_urlencoded::to_string(pairs).unwrap();
        serde_urlencoded::from_str(&query).unwrap()
    }

    #[test]
    fn filters_are_checked_and_normalized() {
        let (period, filter) = parse(
            &form(&[("period", "24h"), ("country", "fr"), ("provider", "Twilio")]),
            chrono_tz::UTC,
        )
        .unwrap();
        assert_eq!(period.to_us - period.from_us, 24 * 3_600_000_000);
        assert_eq!(filter.country.as_deref(), Some("FR"));
        assert_eq!(filter.provider.as_deref(), Some("twilio"));
        for bad in [
            form(&[("country", "FRA")]),
            form(&[("provider", "carrier-pigeon")]),
            form(&[("use_case", "spam")]),
            form(&[("period", "2w")]),
            form(&[("period", "custom"), ("from", "2026-01-02")]),
        ] {
            assert!(parse(&bad, chrono_tz::UTC).is_err(), "{bad:?}");
        }
    }
}
