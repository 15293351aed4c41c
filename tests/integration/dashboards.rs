//! `/dashboards` (issue 11): figures checked against a small fixture
//! computed by hand, on whichever backend the run uses; the page, its
//! filters and its links to search; and the rollups equal to a recount
//! from the base tables after randomized ingest (dashboard_rollups.rs).

use reqwest::StatusCode;
use serde_json::{Value, json};
use smstrail::domain::DeliveryStatus;
use smstrail::domain::dashboard::{Counts, Period, PeriodChoice};
use smstrail::reconcile::{CHUNK, run_pass};
use smstrail::store::{DashboardData, DashboardFilter, LatencyKind};

use crate::helpers::*;
use crate::ui_helpers::UiClient;

const S: i64 = 1_000_000;

pub async fn api_post(app: &TestApp, path: &str, body: &Value) -> Value {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(API_TOKEN)
        .json(body)
        .send()
        .await
        .expect("request");
    assert!(
        response.status().is_success(),
        "POST {path} {body}: {}",
        response.status()
    );
    response.json().await.expect("json")
}

fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .expect("instant")
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A Standard Webhooks status callback with the provider's own time.
pub async fn standard_status(
    app: &TestApp,
    webhook_id: &str,
    pmid: &str,
    status: &str,
    at_us: i64,
) {
    let body = json!({"type": "message.status", "timestamp": rfc3339(at_us),
        "data": {"provider_message_id": pmid, "status": status, "occurred_at": rfc3339(at_us)}});
    let response = app.standard(webhook_id, now_unix(), &body).await;
    assert_eq!(response.status(), StatusCode::OK, "{webhook_id}");
}

fn total(data: &DashboardData) -> Counts {
    let mut all = Counts::default();
    for row in &data.counts {
        all.add(&row.counts);
    }
    all
}

fn last_hour() -> Period {
    PeriodChoice::LastHour
        .resolve(now_us(), chrono_tz::UTC)
        .expect("period")
}

async fn dashboard(app: &TestApp, filter: DashboardFilter) -> DashboardData {
    app.state
        .store
        .dashboard(&last_hour(), &filter)
        .await
        .expect("dashboard")
}

/// The fixture, with every figure below counted by hand:
///
/// | message | country | provider | template | what happens | status |
/// |---|---|---|---|---|---|
/// | u1 | US | twilio | otp_login (otp) | delivered | delivered |
/// | u2 | US | twilio | otp_login (otp) | failed; resent as u6 | failed |
/// | u3 | US | twilio | promo | sent; timed out; delivered late | delivered |
/// | u4 | US | twilio | promo | nothing; timed out | unknown (timed out) |
/// | u5 | US | twilio | promo | undelivered | undelivered |
/// | u6 | US | twilio | otp_login (otp) | delivered | delivered |
/// | f1 | FR | standard | otp_login (otp) | delivered 4 s after sending, twice | delivered |
/// | f2 | FR | standard | promo | delivered | delivered |
/// | f3 | FR | standard | promo | expired | expired |
/// | g1 | GB | twilio | (none) | callback before registration, delivered | delivered |
///
/// Verifications: v1 (u1) completed; v2 (u2) expired, its SMS failed →
/// "not delivered"; v3 (f1) abandoned after delivery → "abandoned"; v4 (u3,
/// still in flight when asked) open.
async fn fixture(app: &TestApp) {
    let sent = now_us() - 60 * S;
    let register = |key: &str, to: &str, provider: &str, template: Option<&str>, use_case: &str| {
        let mut body = json!({"idempotency_key": key, "to": to, "provider": provider,
            "provider_message_id": format!("pm-{key}"), "use_case": use_case,
            "sender_identity": if provider == "twilio" { "+15017122661" } else { "Acme" },
            "sent_at": rfc3339(sent)});
        if let Some(template) = template {
            body["template_key"] = json!(template);
        }
        body
    };
    // g1's callback arrives before g1 is registered.
    assert_eq!(
        app.twilio_status("pm-g1", "delivered").await.status(),
        StatusCode::OK
    );
    let mut ids = std::collections::HashMap::new();
    for (key, to, provider, template, use_case) in [
        ("u1", "+14155550101", "twilio", Some("otp_login"), "otp"),
        ("u2", "+14155550102", "twilio", Some("otp_login"), "otp"),
        ("u3", "+14155550103", "twilio", Some("promo"), "marketing"),
        ("u4", "+14155550104", "twilio", Some("promo"), "marketing"),
        ("u5", "+14155550105", "twilio", Some("promo"), "marketing"),
        ("u6", "+14155550106", "twilio", Some("otp_login"), "otp"),
        ("f1", "+33612345601", "standard", Some("otp_login"), "otp"),
        ("f2", "+33612345602", "standard", Some("promo"), "marketing"),
        ("f3", "+33612345603", "standard", Some("promo"), "marketing"),
        ("g1", "+442079460958", "twilio", None, "transactional"),
    ] {
        ids.insert(
            key,
            app.register_id(&register(key, to, provider, template, use_case))
                .await,
        );
    }
    for (pmid, status) in [
        ("pm-u1", "delivered"),
        ("pm-u2", "failed"),
        ("pm-u3", "sent"),
        ("pm-u5", "undelivered"),
        ("pm-u6", "delivered"),
    ] {
        assert_eq!(
            app.twilio_status(pmid, status).await.status(),
            StatusCode::OK
        );
    }
    standard_status(app, "wh-f1", "pm-f1", "delivered", sent + 4 * S).await;
    standard_status(app, "wh-f1", "pm-f1", "delivered", sent + 4 * S).await; // a repeat
    standard_status(app, "wh-f2", "pm-f2", "delivered", sent + 6 * S).await;
    standard_status(app, "wh-f3", "pm-f3", "expired", sent + 90 * S).await;
    api_post(
        app,
        &format!("/api/v1/messages/{}/retries", ids["u2"]),
        &json!({"kind": "resend", "new_message_id": ids["u6"]}),
    )
    .await;
    // Past every window: u3 (sent) and u4 (accepted) time out.
    let report = run_pass(
        &app.state.writes,
        &app.state.cipher,
        now_us() + 4 * 24 * 3600 * S,
        CHUNK,
    )
    .await
    .expect("reconcile");
    assert_eq!(report.timed_out, 2);
    assert_eq!(
        app.twilio_status("pm-u3", "delivered").await.status(),
        StatusCode::OK
    );
    for (message, ending) in [
        ("u1", Some("completed")),
        ("u2", Some("expired")),
        ("f1", Some("abandoned")),
        ("u3", None),
    ] {
        let created = api_post(
            app,
            "/api/v1/verifications",
            &json!({"message_id": ids[message]}),
        )
        .await;
        if let Some(kind) = ending {
            let path = format!(
                "/api/v1/verifications/{}/events",
                created["id"].as_str().unwrap()
            );
            api_post(app, &path, &json!({"kind": kind})).await;
        }
    }
}

#[tokio::test]
async fn the_figures_are_the_fixtures_counted_by_hand() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let data = dashboard(&app, DashboardFilter::default()).await;
    let all = total(&data);
    assert_eq!(all.messages(), 10);
    assert_eq!(all.of(DeliveryStatus::Delivered), 6);
    assert_eq!(all.of(DeliveryStatus::Failed), 1);
    assert_eq!(all.of(DeliveryStatus::Undelivered), 1);
    assert_eq!(all.of(DeliveryStatus::Expired), 1);
    assert_eq!(all.of(DeliveryStatus::Unknown), 1);
    assert_eq!(all.not_final(), 1, "u4");
    assert_eq!(
        (all.timeouts, all.timed_out_now),
        (2, 1),
        "u3 got its receipt late"
    );
    // Twilio: g1, u1, u2, u3 ×2, u5, u6; standard: f1, f2, f3.
    assert_eq!(all.callbacks, 10);
    assert_eq!(all.duplicates, 1);
    assert_eq!(all.retries, [0, 1, 0, 0], "one resend");

    let by_template = |template: &str| {
        let mut c = Counts::default();
        for row in data.counts.iter().filter(|r| r.template == template) {
            c.add(&row.counts);
        }
        c
    };
    assert_eq!(by_template("otp_login").messages(), 4);
    assert_eq!(by_template("promo").messages(), 5);
    assert_eq!(by_template("").messages(), 1, "g1 has no template");

    let mut otp = smstrail::domain::dashboard::OtpCounts::default();
    for row in &data.otp {
        otp.add(&row.counts);
    }
    // completed, not delivered, not verified, expired, abandoned, open.
    assert_eq!(otp.0, [1, 1, 0, 0, 1, 1]);
    assert_eq!(otp.completion_rate(), Some(0.25));

    // f1 was delivered 4 s after it was sent: "≤ 5 s" to a final status.
    let finals: Vec<_> = data
        .latency
        .iter()
        .filter(|r| r.kind == LatencyKind::ToFinal && r.provider == "standard")
        .collect();
    let mut standard = smstrail::domain::dashboard::Histogram::default();
    for row in finals {
        standard.add(&row.histogram);
    }
    assert_eq!(standard.count(), 3, "f1, f2, f3");
    assert_eq!(
        standard.percentile(1).map(|p| p.label()).as_deref(),
        Some("≤ 5 s")
    );
    assert_eq!(
        standard.percentile(50).map(|p| p.label()).as_deref(),
        Some("≤ 7 s")
    );
    assert_eq!(
        standard.percentile(99).map(|p| p.label()).as_deref(),
        Some("≤ 2 min")
    );
    let timed: i64 = data
        .latency
        .iter()
        .filter(|r| r.kind == LatencyKind::Callback)
        .map(|r| r.histogram.count())
        .sum();
    assert_eq!(
        timed, 3,
        "only the standard callbacks carry a provider time"
    );

    let drift = app.state.store.rollup_drift().await.expect("drift");
    assert!(drift.is_empty(), "{drift:#?}");
}

#[tokio::test]
async fn a_country_filter_and_an_empty_period() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let france = dashboard(
        &app,
        DashboardFilter {
            country: Some("FR".into()),
            ..DashboardFilter::default()
        },
    )
    .await;
    let all = total(&france);
    assert_eq!(all.messages(), 3);
    assert_eq!(all.of(DeliveryStatus::Delivered), 2);
    assert_eq!(all.of(DeliveryStatus::Expired), 1);
    assert_eq!((all.callbacks, all.duplicates), (3, 1));
    assert!(france.counts.iter().all(|r| r.country == "FR"));
    let otp: Vec<_> = france.otp.iter().map(|r| r.counts.0).collect();
    assert_eq!(
        otp,
        vec![[0, 0, 0, 0, 1, 0]],
        "only v3, abandoned after delivery"
    );

    let twilio_otp = dashboard(
        &app,
        DashboardFilter {
            provider: Some("twilio".into()),
            use_case: Some("otp".into()),
            ..DashboardFilter::default()
        },
    )
    .await;
    assert_eq!(total(&twilio_otp).messages(), 3, "u1, u2, u6");

    let long_ago = PeriodChoice::parse("custom", "2020-01-01", "2020-01-31")
        .unwrap()
        .resolve(now_us(), chrono_tz::UTC)
        .unwrap();
    let empty = app
        .state
        .store
        .dashboard(&long_ago, &DashboardFilter::default())
        .await
        .unwrap();
    assert_eq!(empty, DashboardData::default());
}

#[tokio::test]
async fn the_page_shows_the_figures_and_links_them_to_search() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let (agent, _) = app.logged_in("agent@example.com", "support").await;
    let page = agent.get("/dashboards?period=1h").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let text = page.text();
    assert!(
        text.contains("id=\"total-messages\"><a href=\"/?"),
        "totals link to search"
    );
    for figure in [
        "<title id=\"by-country-title\">Delivery outcome by country</title>",
        "<title id=\"latency-callback-title\">Callback latency by provider</title>",
        "id=\"otp-completion\">25.0 %</strong>",
        "id=\"limbo-timeouts\">2</span>",
        "id=\"retries-total\">1</span>",
    ] {
        assert!(text.contains(figure), "{figure} missing");
    }
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("style-src 'self'")
    );
    assert!(
        !page.body.contains("style="),
        "no inline style under the CSP"
    );

    // The US row's "delivered" figure lists exactly those messages.
    let marker = "status=delivered";
    let href = text
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|href| {
            href.contains(marker) && href.contains("country=US") && !href.contains("template")
        })
        .expect("a link to the US delivered messages")
        .to_owned();
    let results = agent.get(&href).await;
    assert_eq!(results.status, StatusCode::OK, "{href}: {}", results.body);
    assert_eq!(results.message_links().len(), 3, "u1, u3, u6 via {href}");

    let not_final_href = text
        .split("id=\"total-not-final\"><a href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the not-final figure links to its messages");
    let not_final = agent.get(not_final_href).await;
    assert_eq!(not_final.message_links().len(), 1, "u4");

    let france = agent.get("/dashboards?period=1h&country=fr").await.text();
    assert!(france.contains("id=\"total-messages\"><a href=\"/?"));
    assert!(
        france.contains(">3</a></span> messages"),
        "three French messages"
    );
    let empty = agent
        .get("/dashboards?period=custom&from=2020-01-01&to=2020-01-02")
        .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.text().contains("No messages in this period."));
    let bad = agent
        .get("/dashboards?period=custom&from=2020-01-05&to=2020-01-02")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("is after To"));
    let anonymous = UiClient::new(&app).get("/dashboards").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "login first");
}

#[tokio::test]
async fn the_message_page_says_when_a_country_rarely_sends_receipts() {
    let app = TestApp::spawn().await;
    let sent = rfc3339(now_us() - 60 * S);
    // 21 Indian messages: 15 delivered, 6 never get a receipt (29 %).
    for i in 0..21 {
        let pmid = format!("SMin{i:02}");
        app.register_id(
            &json!({"idempotency_key": pmid, "to": format!("+9198765432{i:02}"),
            "provider": "twilio", "provider_message_id": pmid, "sent_at": sent}),
        )
        .await;
        if i < 15 {
            app.twilio_status(&pmid, "delivered").await;
        }
    }
    run_pass(
        &app.state.writes,
        &app.state.cipher,
        now_us() + 4 * 24 * 3600 * S,
        CHUNK,
    )
    .await
    .unwrap();
    let (agent, _) = app.logged_in("agent@example.com", "support").await;
    let id = app
        .state
        .store
        .message_by_provider_id("SMin20")
        .await
        .unwrap()
        .unwrap()
        .id;
    let page = agent.get(&format!("/messages/{id}")).await.text();
    assert!(
        page.contains("This country often sends no receipt: 6 of 21 settled messages to IN"),
        "{page}"
    );
    let delivered = app
        .state
        .store
        .message_by_provider_id("SMin00")
        .await
        .unwrap()
        .unwrap()
        .id;
    let page = agent.get(&format!("/messages/{delivered}")).await.text();
    assert!(
        !page.contains("often sends no receipt"),
        "a final message needs no excuse"
    );
}

#[tokio::test]
async fn never_final_links_list_timeouts_not_a_providers_own_unknown() {
    let app = TestApp::spawn().await;
    let sent = rfc3339(now_us() - 60 * S);
    // Two US messages that never got a receipt: smstrail times them out.
    for key in ["t1", "t2"] {
        app.register_id(&json!({"idempotency_key": key, "to": "+14155550111",
            "provider": "twilio", "provider_message_id": format!("pm-{key}"), "sent_at": sent}))
            .await;
    }
    let report = run_pass(
        &app.state.writes,
        &app.state.cipher,
        now_us() + 4 * 24 * 3600 * S,
        CHUNK,
    )
    .await
    .expect("reconcile");
    assert_eq!(report.timed_out, 2);
    // A third whose provider itself says "unknown": not final, not a timeout.
    app.register_id(&json!({"idempotency_key": "p1", "to": "+14155550112",
        "provider": "standard", "provider_message_id": "pm-p1", "sent_at": sent}))
        .await;
    standard_status(&app, "wh-p1", "pm-p1", "unknown", now_us() - 30 * S).await;

    let all = total(&dashboard(&app, DashboardFilter::default()).await);
    assert_eq!((all.of(DeliveryStatus::Unknown), all.timed_out_now), (3, 2));
    let (agent, _) = app.logged_in("agent@example.com", "support").await;
    let text = agent.get("/dashboards?period=1h").await.text();
    let href = |marker: &str| {
        text.split(marker)
            .nth(1)
            .and_then(|rest| rest.split("href=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no link after {marker}"))
            .to_owned()
    };
    // "…still have none": the total, and the US row of the limbo table.
    let timed_out = agent.get(&href("id=\"limbo-timed-out\"")).await;
    assert_eq!(timed_out.status, StatusCode::OK, "{}", timed_out.body);
    assert_eq!(timed_out.message_links().len(), 2, "t1, t2");
    let row = text
        .split("id=\"limbo-table\"")
        .nth(1)
        .expect("limbo table");
    let cells: Vec<&str> = row.split("<td>").skip(1).take(4).collect();
    let never_final = cells[3]
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the never-final cell links");
    assert!(never_final.contains("final=timed_out"), "{never_final}");
    assert_eq!(agent.get(never_final).await.message_links().len(), 2);
    // The search form offers the same filter.
    let search = agent.get("/?final=timed_out").await;
    assert_eq!(search.message_links().len(), 2);
    assert!(search.text().contains("value=\"timed_out\" selected"));
}
