//! The pages support agents work in, over real HTTP: search (identifiers,
//! phone numbers in any international spelling, filters, keyset pages), the
//! message page (times in three zones, the masked raw payload, duplicate,
//! late and error notes, inbound opt-outs) and the audited reveal.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::ui_helpers::*;

const FULL_DIGITS: &str = "4155550100";

fn us_message(key: &str, pmid: &str) -> Value {
    json!({
        "idempotency_key": key,
        "to": "+14155550100",
        "provider": "twilio",
        "provider_message_id": pmid,
    })
}

async fn agent(app: &TestApp) -> UiClient {
    app.logged_in("agent@example.com", "support").await.0
}

/// The search page for `query` (already URL-encoded), submitted through
/// the search form as a browser does (a number is answered at once, the
/// rest is sent on to a shareable link), checked to be a 200.
async fn search(client: &UiClient, query: &str) -> Page {
    let fields: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut page = client.post_from("/", "/", &fields).await;
    if page.status == StatusCode::SEE_OTHER {
        let link = page.location.clone().expect("a Location");
        page = client.get(&link).await;
    }
    assert_eq!(page.status, StatusCode::OK, "search {query}: {}", page.body);
    page
}

fn q(text: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
    format!("q={encoded}")
}

/// The text of the `id="matched"` notice.
fn matched(page: &Page) -> Option<String> {
    let start = page.body.find("id=\"matched\">")? + "id=\"matched\">".len();
    let end = page.body[start..].find("</p>")? + start;
    Some(unescape(&page.body[start..end]))
}

fn alert(page: &Page) -> Option<String> {
    let start = page.body.find("role=\"alert\">")? + "role=\"alert\">".len();
    let end = page.body[start..].find("</p>")? + start;
    Some(unescape(&page.body[start..end]))
}

// ---- search ---------------------------------------------------------------

struct Fixture {
    us: String,
    uk: String,
    us_other: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let us = app
        .register_id(&json!({
            "idempotency_key": "k-us",
            "to": "+14155550100",
            "provider": "twilio",
            "provider_message_id": "SM-search-us",
            "user_ref": "user-7",
            "product_action": {"kind": "login", "ref": "act-9"},
            "sender_identity": "ACME",
            "template_key": "otp_login",
            "use_case": "otp",
        }))
        .await;
    let uk = app
        .register_id(&json!({
            "idempotency_key": "k-uk",
            "to": "+442079460958",
            "provider": "twilio",
            "provider_message_id": "SM-search-uk",
            "user_ref": "user-8",
        }))
        .await;
    let us_other = app
        .register_id(&json!({
            "idempotency_key": "k-us-2",
            "to": "+14155550199",
            "provider": "twilio",
            "provider_message_id": "SM-search-us-2",
        }))
        .await;
    Fixture { us, uk, us_other }
}

#[tokio::test]
async fn search_finds_a_message_by_each_identifier_and_says_which_matched() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let client = agent(&app).await;
    for (text, key) in [
        (f.us.as_str(), "message id"),
        ("SM-search-us", "provider message id"),
        ("user-7", "user ref"),
        ("act-9", "product action ref"),
    ] {
        let page = search(&client, &q(text)).await;
        assert_eq!(page.message_links(), [f.us.as_str()], "{text}");
        assert_eq!(
            matched(&page),
            Some(format!("\"{text}\" matched the {key}.")),
            "{text}"
        );
        assert!(page.text().contains(&format!("<td>{key}</td>")), "{text}");
    }
    let uk = search(&client, &q("user-8")).await;
    assert_eq!(uk.message_links(), [f.uk.as_str()]);

    // Exact, not partial, matching.
    for text in ["SM-search", "user-", "act-"] {
        let page = search(&client, &q(text)).await;
        assert!(page.message_links().is_empty(), "{text}");
        assert!(page.body.contains("No messages match."), "{text}");
        assert_eq!(matched(&page), None, "{text}");
    }
}

#[tokio::test]
async fn search_finds_numbers_in_any_international_spelling() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let client = agent(&app).await;
    for spelling in ["+1 (415) 555-0100", "+14155550100", "001 415 555 0100"] {
        let page = search(&client, &q(spelling)).await;
        assert_eq!(page.message_links(), [f.us.as_str()], "{spelling}");
        assert_eq!(
            matched(&page).as_deref(),
            Some("Searched by phone number +1 •••• ••0100 (matched through its keyed hash)."),
            "{spelling}"
        );
        let results = &page.body[page.body.find("id=\"matched\"").expect("notice")..];
        assert!(!results.contains(FULL_DIGITS), "{spelling}: shown in full");
    }
    for spelling in ["+44 20 7946 0958", "0044 20 7946 0958"] {
        let page = search(&client, &q(spelling)).await;
        assert_eq!(page.message_links(), [f.uk.as_str()], "{spelling}");
        assert!(
            matched(&page).is_some_and(|m| m.contains("+44 •••• ••0958")),
            "{spelling}"
        );
    }
    let other = search(&client, &q("+1 415 555 0199")).await;
    assert_eq!(other.message_links(), [f.us_other.as_str()]);
}

#[tokio::test]
async fn national_and_invalid_numbers_get_a_hint_or_an_error() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let client = agent(&app).await;

    let national = search(&client, &q("(415) 555-0100")).await;
    assert!(national.message_links().is_empty());
    assert!(
        national.text().contains("add the country code"),
        "{}",
        national.body
    );
    assert_eq!(alert(&national), None, "a hint, not an error");

    let invalid = search(&client, &q("+999 1234567")).await;
    assert!(invalid.message_links().is_empty());
    let error = alert(&invalid).expect("an error notice");
    assert!(error.contains("is not a valid phone number"), "{error}");
    assert!(!invalid.body.contains("No messages match."));
}

#[tokio::test]
async fn search_filters_by_status_and_country_and_reports_bad_filters() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let delivered = app.twilio_status("SM-search-us", "delivered").await;
    assert_eq!(delivered.status(), StatusCode::OK);
    let client = agent(&app).await;

    let mut all = search(&client, "").await.message_links();
    all.sort();
    let mut expected = vec![f.us.clone(), f.uk.clone(), f.us_other.clone()];
    expected.sort();
    assert_eq!(all, expected);

    let page = search(&client, "status=delivered").await;
    assert_eq!(page.message_links(), [f.us.as_str()]);
    let page = search(&client, "status=accepted").await;
    assert_eq!(page.message_links(), [f.us_other.as_str(), f.uk.as_str()]);
    let page = search(&client, "country=GB").await;
    assert_eq!(page.message_links(), [f.uk.as_str()]);
    let page = search(&client, "country=us").await;
    assert_eq!(page.message_links(), [f.us_other.as_str(), f.us.as_str()]);
    let page = search(&client, "country=US&status=accepted").await;
    assert_eq!(page.message_links(), [f.us_other.as_str()]);
    let page = search(&client, &format!("{}&status=accepted", q("+14155550100"))).await;
    assert!(page.message_links().is_empty(), "number and filter combine");
    let page = search(&client, "provider=standard").await;
    assert!(page.message_links().is_empty());
    let page = search(&client, "provider=Twilio&use_case=otp").await;
    assert_eq!(page.message_links(), [f.us.as_str()]);
    let page = search(&client, "sender=ACME").await;
    assert_eq!(page.message_links(), [f.us.as_str()]);
    let page = search(&client, "template=otp_login").await;
    assert_eq!(page.message_links(), [f.us.as_str()]);
    let page = search(&client, "template=otp_signup").await;
    assert!(page.message_links().is_empty());

    for (query, says) in [
        ("status=bogus", "Unknown status \"bogus\"."),
        ("country=USA", "is not a two-letter ISO code"),
        ("from=yesterday", "is not a date"),
        ("before=garbage", "The page link is damaged"),
    ] {
        let page = search(&client, query).await;
        assert!(page.message_links().is_empty(), "{query}");
        let error = alert(&page).unwrap_or_default();
        assert!(error.contains(says), "{query}: {error}");
    }

    // Dates are whole days: today holds all three, a past range none.
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let page = search(&client, &format!("from={today}&to={today}")).await;
    assert_eq!(page.message_links().len(), 3);
    let page = search(&client, "from=2020-01-01&to=2020-12-31").await;
    assert!(page.message_links().is_empty());
}

/// A zone whose date differs from UTC's right now: a day ahead in the UTC
/// afternoon, a day behind in the UTC morning.
fn zone_on_another_day() -> (&'static str, String, String) {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    let zone = if now.hour() >= 12 {
        "Pacific/Kiritimati"
    } else {
        "Etc/GMT+12"
    };
    let tz: chrono_tz::Tz = zone.parse().expect("zone");
    let local = now
        .with_timezone(&tz)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let utc = now.date_naive().format("%Y-%m-%d").to_string();
    assert_ne!(local, utc, "{zone}");
    (zone, local, utc)
}

#[tokio::test]
async fn date_filters_are_whole_days_in_the_agent_zone() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let (zone, local, utc) = zone_on_another_day();
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    let set = client
        .post_from("/settings", "/settings/timezone", &[("timezone", zone)])
        .await;
    assert_eq!(set.status, StatusCode::OK);

    let today = search(&client, &format!("from={local}&to={local}")).await;
    assert_eq!(today.message_links().len(), 3, "{zone} {local}");
    assert!(today.text().contains(&format!("your time zone ({zone})")));
    let page = search(&client, &format!("from={local}")).await;
    assert_eq!(page.message_links().len(), 3);
    let page = search(&client, &format!("to={local}")).await;
    assert_eq!(page.message_links().len(), 3);
    // The UTC date is another day here: nothing of today is in it.
    let page = search(&client, &format!("from={utc}&to={utc}")).await;
    assert!(
        page.message_links().is_empty(),
        "{zone}: {utc} is not {local}"
    );
    assert_eq!(alert(&page), None);
    let page = search(&client, &format!("{}&from={local}", q("user-7"))).await;
    assert_eq!(page.message_links(), [f.us.as_str()]);

    // The audit log reads its dates in the admin's zone the same way.
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let set = admin
        .post_from("/settings", "/settings/timezone", &[("timezone", zone)])
        .await;
    assert_eq!(set.status, StatusCode::OK);
    let rows = |page: &Page| page.body.matches("<tr class=\"audit-").count();
    let local_rows = rows(
        &admin
            .get(&format!("/admin/audit?from={local}&to={local}"))
            .await,
    );
    let since_start = app
        .db
        .strings("SELECT action FROM audit_log WHERE at_us > 0")
        .await
        .len();
    assert_eq!(local_rows, since_start);
    let utc_rows = rows(
        &admin
            .get(&format!("/admin/audit?from={utc}&to={utc}"))
            .await,
    );
    assert_eq!(utc_rows, 0);
}

#[tokio::test]
async fn a_day_that_starts_at_one_in_the_morning_can_still_be_filtered() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let (client, _) = app.logged_in("admin@example.com", "admin").await;
    let set = client
        .post_from(
            "/settings",
            "/settings/timezone",
            &[("timezone", "America/Santiago")],
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    for query in [
        "from=2026-09-06",
        "to=2026-09-05",
        "from=2026-09-06&to=2026-09-06",
    ] {
        let page = search(&client, query).await;
        assert_eq!(alert(&page), None, "search {query}");
        let audit = client.get(&format!("/admin/audit?{query}")).await;
        assert_eq!(audit.status, StatusCode::OK, "audit {query}");
    }
}

/// Issue 8, item 10: a number in a URL lands in proxy logs, browser
/// history and the login link's `next`; it is searched by POST only.
#[tokio::test]
async fn a_phone_number_never_travels_in_a_url() {
    let app = TestApp::spawn().await;
    let id = app.register_id(&us_message("k-url", "SM-url")).await;
    let anonymous = UiClient::new(&app).get("/?q=%2B14155550100").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    let login = anonymous.location.expect("a login redirect");
    assert!(!login.contains("4155550100"), "{login}");

    let client = agent(&app).await;
    let linked = client.get("/?q=%2B14155550100").await;
    assert_eq!(linked.status, StatusCode::BAD_REQUEST);
    assert!(linked.message_links().is_empty());
    assert!(!linked.body.contains(FULL_DIGITS));

    let posted = client
        .post_from("/", "/", &[("q", "+1 415 555 0100")])
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    assert_eq!(posted.message_links(), [id]);

    // Anything else goes on to a link that can be shared.
    let by_id = client.post_from("/", "/", &[("q", "SM-url")]).await;
    assert_eq!(by_id.status, StatusCode::SEE_OTHER);
    assert_eq!(by_id.location.as_deref(), Some("/?q=SM-url"));
}

/// A phone search commits its audit record while it reads the results: if
/// the record cannot be written, no result leaves the server.
#[tokio::test]
async fn a_phone_search_whose_audit_record_fails_shows_no_result() {
    let app = TestApp::spawn().await;
    let id = app.register_id(&us_message("k-audit", "SM-audit")).await;
    let client = agent(&app).await;
    let token = client.get("/").await.csrf();
    let (refuse, allow) = if app.db.is_postgres() {
        (
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$; \
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION refuse_audit();",
            "DROP TRIGGER refuse_audit ON audit_log",
        )
    } else {
        (
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'refused by test'); END;",
            "DROP TRIGGER refuse_audit",
        )
    };
    app.db.execute(refuse).await;
    let page = client
        .post_with_token("/", &[("q", "+14155550100")], Some(&token))
        .await;
    assert!(page.status.is_server_error(), "{}", page.status);
    assert!(page.message_links().is_empty());
    assert!(
        !page.body.contains(&id),
        "no result without its audit record"
    );
    assert!(!page.body.contains("refused by test"), "no internal detail");
    assert!(app.db.audit("phone_search").await.is_empty());

    app.db.execute(allow).await;
    let page = client
        .post_with_token("/", &[("q", "+14155550100")], Some(&token))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.message_links().contains(&id),
        "{:?}",
        page.message_links()
    );
    assert_eq!(app.db.audit("phone_search").await.len(), 1);
}

/// Issue 8, item 4: searching by number answers "is it this one?", so it
/// is throttled per agent and audited without the number.
#[tokio::test]
async fn phone_searches_are_throttled_per_agent_and_audited_masked() {
    let app = TestApp::spawn().await;
    app.register_id(&us_message("k-enum", "SM-enum")).await;
    let client = agent(&app).await;
    let token = client.get("/").await.csrf();
    for n in 0..20 {
        let candidate = format!("+1415555{n:04}");
        let page = client
            .post_with_token("/", &[("q", &candidate)], Some(&token))
            .await;
        assert_eq!(page.status, StatusCode::OK, "search {n}");
    }
    let page = client
        .post_with_token("/", &[("q", "+14155550100")], Some(&token))
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = page
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=6).contains(&wait), "{wait}");
    assert!(page.message_links().is_empty());

    let rows = app.db.audit("phone_search").await;
    assert_eq!(rows.len(), 20, "throttled searches are not audited");
    for row in &rows {
        assert_eq!(row.actor_email.as_deref(), Some("agent@example.com"));
        let text = format!("{row:?}");
        assert!(!text.contains("415555"), "{text}");
        assert!(row.detail.as_deref().is_some_and(|d| d.contains("••")));
    }
    // Searching by an identifier is not held back, and neither is a colleague.
    assert_eq!(
        search(&client, &q("SM-enum")).await.message_links().len(),
        1
    );
    let (colleague, _) = app.logged_in("colleague@example.com", "support").await;
    assert_eq!(
        search(&colleague, &q("+14155550100"))
            .await
            .message_links()
            .len(),
        1
    );
}

#[tokio::test]
async fn search_pages_through_55_messages_50_at_a_time() {
    let app = TestApp::spawn().await;
    let mut registered = Vec::new();
    for n in 0..55 {
        registered.push(
            app.register_id(&us_message(&format!("k-page-{n}"), &format!("SM-page-{n}")))
                .await,
        );
    }
    let client = agent(&app).await;
    let first = search(&client, &q("+14155550100")).await;
    let first_rows = first.message_links();
    assert_eq!(first_rows.len(), 50);
    assert_eq!(first_rows[0], registered[54], "newest first");
    // A number's next page is a form to post, not a link.
    assert_eq!(first.next_link(), None);
    let next = first.hidden_fields("next-page");
    assert!(next.iter().any(|(k, _)| k == "before"), "{next:?}");
    let next: Vec<(&str, &str)> = next
        .iter()
        .filter(|(k, _)| k != "authenticity_token")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let second = client.post_from("/", "/", &next).await;
    assert_eq!(second.status, StatusCode::OK);
    let second_rows = second.message_links();
    assert_eq!(second_rows.len(), 5);
    assert_eq!(second.next_link(), None, "the last page");
    assert!(
        first_rows.iter().all(|id| !second_rows.contains(id)),
        "overlap"
    );

    let mut seen: Vec<String> = first_rows.into_iter().chain(second_rows).collect();
    let mut expected = registered.clone();
    expected.reverse();
    assert_eq!(seen, expected, "every message once, newest first");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 55);
}

// ---- the message page -------------------------------------------------------

/// One instant as the page's `times` macro writes it.
fn times(utc: &str, agent: &str, recipient: &str) -> String {
    format!(
        "<time class=\"utc\">{utc}</time><br><time class=\"agent\">{agent}</time>\
         <br><time class=\"recipient\">{recipient}</time>"
    )
}

#[tokio::test]
async fn the_message_page_shows_event_times_in_utc_the_agent_zone_and_the_recipient_zone() {
    let app = TestApp::spawn().await;
    let id = app
        .register_id(&json!({
            "idempotency_key": "k-dst",
            "to": "+14155550100",
            "provider": "standard",
            "provider_message_id": "std-dst",
            "recipient_timezone": "America/New_York",
        }))
        .await;
    for (webhook_id, status, at) in [
        ("msg_dst_1", "sent", "2026-03-08T06:59:59Z"),
        ("msg_dst_2", "delivered", "2026-03-08T07:00:00Z"),
    ] {
        let body = json!({"type": "message.status", "timestamp": at,
            "data": {"provider_message_id": "std-dst", "status": status, "occurred_at": at}});
        let response = app.standard(webhook_id, now_unix(), &body).await;
        assert_eq!(response.status(), StatusCode::OK, "{status}");
    }
    let client = agent(&app).await;

    let utc_only = client.get(&format!("/messages/{id}")).await;
    assert_eq!(utc_only.status, StatusCode::OK);
    let text = utc_only.text();
    let before = "2026-03-08 06:59:59.000 UTC (UTC+00:00)";
    assert!(
        text.contains(&times(
            before,
            before,
            "2026-03-08 01:59:59.000 EST (UTC\u{2212}05:00)"
        )),
        "{text}"
    );

    let zone = client
        .post_from(
            "/settings",
            "/settings/timezone",
            &[("timezone", "Asia/Kolkata")],
        )
        .await;
    assert_eq!(zone.status, StatusCode::OK);
    assert!(zone.text().contains("Time zone set to Asia/Kolkata."));
    let bad = client
        .post_from(
            "/settings",
            "/settings/timezone",
            &[("timezone", "Mars/Olympus")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("is not an IANA time zone name"));

    let page = client.get(&format!("/messages/{id}")).await;
    let text = page.text();
    assert!(text.contains("yours (Asia/Kolkata)"));
    assert!(text.contains("The recipient's zone, America/New_York, was given"));
    assert!(
        text.contains(&times(
            "2026-03-08 06:59:59.000 UTC (UTC+00:00)",
            "2026-03-08 12:29:59.000 IST (UTC+05:30)",
            "2026-03-08 01:59:59.000 EST (UTC\u{2212}05:00)",
        )),
        "one second before the change: {text}"
    );
    assert!(
        text.contains(&times(
            "2026-03-08 07:00:00.000 UTC (UTC+00:00)",
            "2026-03-08 12:30:00.000 IST (UTC+05:30)",
            "2026-03-08 03:00:00.000 EDT (UTC\u{2212}04:00)",
        )),
        "at the change: {text}"
    );
    assert!(
        !text.contains("02:00:00.000 EST"),
        "no local 2 o'clock that day"
    );
}

/// The timeline rows of a message page, as their HTML.
fn timeline_rows(page: &Page) -> Vec<String> {
    let Some(start) = page.body.find("id=\"timeline\"") else {
        return Vec::new();
    };
    let table = &page.body[start..];
    let table = &table[..table.find("</table>").unwrap_or(table.len())];
    table.split("<tr class=\"").skip(1).map(unescape).collect()
}

fn row_with_raw<'a>(rows: &'a [String], raw: &str) -> &'a str {
    let marker = format!("raw <code>{raw}</code>");
    let found: Vec<&String> = rows.iter().filter(|r| r.contains(&marker)).collect();
    assert_eq!(found.len(), 1, "one row with raw status {raw}: {rows:?}");
    found[0]
}

#[tokio::test]
async fn the_raw_payload_is_shown_with_the_number_masked() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-raw").await;
    assert_eq!(
        app.twilio_status("SM-raw", "sent").await.status(),
        StatusCode::OK
    );
    let client = agent(&app).await;
    let page = client.get(&format!("/messages/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let rows = timeline_rows(&page);
    let row = row_with_raw(&rows, "sent");
    assert!(
        row.contains("Raw payload (application/x-www-form-urlencoded"),
        "{row}"
    );
    assert!(row.contains("MessageSid = SM-raw"), "{row}");
    assert!(row.contains("To = +1••••••0100"), "{row}");
    assert!(
        !page.body.contains(FULL_DIGITS),
        "the full number on the page"
    );
    assert!(!page.text().contains(FULL_DIGITS));
    assert!(page.text().contains("+1 •••• ••0100"), "the masked number");
}

#[tokio::test]
async fn duplicates_late_reports_and_error_codes_are_explained() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-notes").await;
    for status in ["delivered", "delivered", "sent"] {
        assert_eq!(
            app.twilio_status("SM-notes", status).await.status(),
            StatusCode::OK
        );
    }
    let client = agent(&app).await;
    let page = client.get(&format!("/messages/{id}")).await;
    let rows = timeline_rows(&page);
    assert_eq!(rows.len(), 2, "the duplicate is not a row of its own");
    let delivered = row_with_raw(&rows, "delivered");
    assert!(
        delivered.contains("received 2 times (1 duplicate ignored)"),
        "{delivered}"
    );
    assert!(
        !delivered.contains("did not change the summary"),
        "{delivered}"
    );
    let sent = row_with_raw(&rows, "sent");
    assert!(sent.starts_with("no-change"), "{sent}");
    assert!(sent.contains("did not change the summary"), "{sent}");
    assert!(!sent.contains("received 2 times"), "{sent}");
    assert!(page.body.contains("id=\"current-status\">delivered<"));

    let failed = app.register_twilio("SM-30003").await;
    let mut params = twilio_status_params("SM-30003", "undelivered");
    params.push(("ErrorCode", "30003"));
    assert_eq!(app.twilio("status", &params).await.status(), StatusCode::OK);
    let page = client.get(&format!("/messages/{failed}")).await;
    let text = page.text();
    assert!(
        text.contains("Error 30003: Unreachable destination handset."),
        "summary: {text}"
    );
    assert!(text.contains("The carrier could not reach the phone."));
    let rows = timeline_rows(&page);
    let row = row_with_raw(&rows, "undelivered");
    assert!(row.contains("error <code>30003</code>"), "{row}");
    assert!(
        row.contains("<strong>Unreachable destination handset</strong>: The carrier could not reach the phone."),
        "{row}"
    );
}

#[tokio::test]
async fn an_inbound_stop_from_the_number_is_listed_on_the_message_page() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-stop").await;
    let other = app
        .register_id(&json!({"idempotency_key": "k-other", "to": "+442079460958",
            "provider": "twilio", "provider_message_id": "SM-other"}))
        .await;
    let response = app
        .twilio(
            "inbound",
            &[
                ("MessageSid", "SM-in-stop"),
                ("AccountSid", "AC123"),
                ("From", "+14155550100"),
                ("To", "+15017122661"),
                ("Body", "STOP"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let client = agent(&app).await;
    let page = client.get(&format!("/messages/{id}")).await;
    let text = page.text();
    let section = &text[text
        .find("Replies and opt-outs from this number")
        .expect("the section")..];
    assert!(
        section.contains("<span class=\"badge stop\">stop</span>"),
        "{section}"
    );
    assert!(section.contains("<td>STOP</td>"), "{section}");
    assert!(!section.contains("None received."));
    let page = client.get(&format!("/messages/{other}")).await;
    assert!(
        page.text().contains("None received."),
        "another number's page"
    );
}

#[tokio::test]
async fn an_unknown_message_is_a_404_page() {
    let app = TestApp::spawn().await;
    let client = agent(&app).await;
    let page = client.get("/messages/unknown").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text().contains("Message not found."));
    assert!(page.body.contains("<!doctype html>"));
    let reveal = client
        .post_from("/", "/messages/unknown/reveal", &[("reason", "ticket 1")])
        .await;
    assert_eq!(reveal.status, StatusCode::NOT_FOUND);
    assert!(app.db.audit("reveal").await.is_empty());
    assert!(app.db.audit("reveal_denied").await.is_empty());
    // Logged out, it is the login page that answers, not the 404.
    let anonymous = UiClient::new(&app).get("/messages/unknown").await;
    assert_eq!(
        anonymous.location.as_deref(),
        Some("/login?next=%2Fmessages%2Funknown")
    );
}

// ---- reveal -----------------------------------------------------------------

async fn reveal(client: &UiClient, id: &str, reason: &str) -> Page {
    client
        .post_from(
            &format!("/messages/{id}"),
            &format!("/messages/{id}/reveal"),
            &[("reason", reason)],
        )
        .await
}

#[tokio::test]
async fn reveal_with_a_live_grant_shows_the_number_and_is_audited() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-reveal").await;
    let admin = app.user("admin@example.com", "admin").await;
    let (client, agent_user) = app.logged_in("agent@example.com", "support").await;
    app.grant(&agent_user, &admin, 1).await;

    let page = reveal(&client, &id, "  ticket 4242: customer cannot log in ").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.text()
            .contains("<strong class=\"revealed\">+14155550100</strong>"),
        "{}",
        page.body
    );
    let rows = app.db.audit("reveal").await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.actor_email.as_deref(), Some("agent@example.com"));
    assert_eq!(row.actor_id.as_deref(), Some(agent_user.id.as_str()));
    assert_eq!(row.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        row.reason.as_deref(),
        Some("ticket 4242: customer cannot log in")
    );
    assert_eq!(row.client_addr.as_deref(), Some("127.0.0.1"));
    assert!(
        row.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("grant "))
    );
    assert!(app.db.audit("reveal_denied").await.is_empty());

    // The number is in that response only: the page itself stays masked.
    let again = client.get(&format!("/messages/{id}")).await;
    assert!(!again.body.contains(FULL_DIGITS));
}

#[tokio::test]
async fn reveal_without_a_live_grant_is_403_and_audited_as_denied() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-denied").await;
    let admin = app.user("admin@example.com", "admin").await;
    let (client, agent_user) = app.logged_in("agent@example.com", "support").await;

    // No grant at all.
    let page = reveal(&client, &id, "ticket 1").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.text().contains("You have no live reveal grant"));
    assert!(!page.body.contains(FULL_DIGITS));

    // An expired grant.
    app.grant(&agent_user, &admin, -1).await;
    let page = reveal(&client, &id, "ticket 2").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.body.contains(FULL_DIGITS));

    // A live grant, revoked.
    app.grant(&agent_user, &admin, 4).await;
    let live = app
        .db
        .strings("SELECT CAST(id AS TEXT) FROM reveal_grants ORDER BY id DESC")
        .await[0]
        .parse::<i64>()
        .expect("grant id");
    assert_eq!(
        reveal(&client, &id, "ticket 3").await.status,
        StatusCode::OK
    );
    app.state
        .store
        .revoke_grant(
            live,
            &admin.id,
            &smstrail::store::NewAuditEntry::new(
                smstrail::domain::account::AuditAction::GrantRevoke,
            ),
        )
        .await
        .expect("revoke");
    let page = reveal(&client, &id, "ticket 4").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.body.contains(FULL_DIGITS));

    let denied = app.db.audit("reveal_denied").await;
    let reasons: Vec<&str> = denied.iter().filter_map(|r| r.reason.as_deref()).collect();
    assert_eq!(reasons, ["ticket 1", "ticket 2", "ticket 4"]);
    for row in &denied {
        assert_eq!(row.actor_email.as_deref(), Some("agent@example.com"));
        assert_eq!(row.message_id.as_deref(), Some(id.as_str()));
        assert_eq!(row.client_addr.as_deref(), Some("127.0.0.1"));
    }
    let granted = app.db.audit("reveal").await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].reason.as_deref(), Some("ticket 3"));
}

#[tokio::test]
async fn reveal_without_a_reason_is_422_and_not_audited_with_a_grant() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-reason").await;
    let admin = app.user("admin@example.com", "admin").await;
    let (client, agent_user) = app.logged_in("agent@example.com", "support").await;
    app.grant(&agent_user, &admin, 1).await;
    let too_long = "x".repeat(501);
    for reason in ["", "   ", too_long.as_str()] {
        let page = reveal(&client, &id, reason).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{reason:?}");
        assert!(page.text().contains("Give a reason"));
        assert!(!page.body.contains(FULL_DIGITS), "{reason:?}");
    }
    assert!(app.db.audit("reveal").await.is_empty());
    assert!(app.db.audit("reveal_denied").await.is_empty());
}

#[tokio::test]
async fn a_possible_but_invalid_recipient_is_registered_and_flagged() {
    let app = TestApp::spawn().await;
    // Ofcom's drama range: a number no real phone has, but one a provider
    // happily accepts a send to.
    let response = app
        .register(&json!({
            "idempotency_key": "drama-1",
            "to": "+447700900456",
            "provider": "twilio",
            "provider_message_id": "SM-drama",
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["destination_country"], "GB");
    assert_eq!(body["recipient_valid"], false);
    assert_eq!(body["recipient_masked"], "+44 •••• ••0456");
    let id = body["id"].as_str().unwrap().to_owned();
    // Its callbacks find it.
    app.twilio_status("SM-drama", "delivered").await;
    assert_eq!(app.status_of(&id).await, "delivered");

    let valid = app.register_id(&us_message("valid-1", "SM-valid")).await;
    assert_eq!(app.message(&valid).await["recipient_valid"], true);

    let client = agent(&app).await;
    let page = client.get(&format!("/messages/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text()
            .contains("not a valid number in that country's plan"),
        "{}",
        page.body
    );
    let page = client.get(&format!("/messages/{valid}")).await;
    assert!(!page.text().contains("not a valid number"));

    // What cannot be a phone number at all is still refused.
    for bad in ["+4477009004", "+99912345678"] {
        let response = app
            .register(&json!({"idempotency_key": bad, "to": bad, "provider": "twilio"}))
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

/// Issue 8, item 12: an attempt without a grant is audited even when it
/// carries no reason (it used to be refused with 422 and left no trace).
#[tokio::test]
async fn reveal_without_a_grant_or_a_reason_is_403_and_audited() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-noreason").await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    let too_long = "x".repeat(501);
    for reason in ["", "   ", too_long.as_str()] {
        let page = reveal(&client, &id, reason).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{reason:?}");
        assert!(!page.body.contains(FULL_DIGITS), "{reason:?}");
    }
    let denied = app.db.audit("reveal_denied").await;
    assert_eq!(denied.len(), 3);
    for row in &denied {
        assert_eq!(row.message_id.as_deref(), Some(id.as_str()));
        assert_eq!(row.actor_email.as_deref(), Some("agent@example.com"));
        assert!(
            row.reason
                .as_deref()
                .is_none_or(|r| r.chars().count() <= 500)
        );
    }
    assert!(app.db.audit("reveal").await.is_empty());
}
