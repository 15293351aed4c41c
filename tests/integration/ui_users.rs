//! `/users/{user_ref}`: one user's messages, OTP verification events,
//! retries and inbound replies merged newest first, each stream filterable,
//! keyset-paginated, numbers masked, reached from the message page.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::ui_helpers::*;

const NUMBER: &str = "+14155550100";
const FULL_DIGITS: &str = "4155550100";

async fn api_post(app: &TestApp, path: &str, body: &Value) -> Value {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(API_TOKEN)
        .json(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED, "POST {path} {body}");
    response.json().await.expect("json")
}

async fn message_for(app: &TestApp, key: &str, user_ref: &str, to: &str) -> String {
    app.register_id(&json!({
        "idempotency_key": key,
        "to": to,
        "provider": "twilio",
        "provider_message_id": format!("SM-{key}"),
        "user_ref": user_ref,
        "template_key": "otp_login",
    }))
    .await
}

async fn inbound(app: &TestApp, sid: &str, from: &str, body: &str) {
    let response = app
        .twilio(
            "inbound",
            &[
                ("MessageSid", sid),
                ("AccountSid", "AC123"),
                ("From", from),
                ("To", "+15017122661"),
                ("Body", body),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// The stream of each row of the user timeline, top to bottom.
fn streams(page: &Page) -> Vec<String> {
    let marker = "<tr class=\"stream-";
    page.body
        .split(marker)
        .skip(1)
        .map(|rest| rest[..rest.find('"').expect("class end")].to_owned())
        .collect()
}

struct Story {
    first: String,
    second: String,
    verification: String,
    other_user_message: String,
}

/// user-7: a message, an OTP verification for it, a resend, a STOP from
/// the number, the verification completed — one after the other. Around
/// it, another user's traffic that must not show.
async fn story(app: &TestApp) -> Story {
    let first = message_for(app, "u7-1", "user-7", NUMBER).await;
    let other_user_message = message_for(app, "u8-1", "user-8", "+442079460958").await;
    let created = api_post(
        app,
        "/api/v1/verifications",
        &json!({"user_ref": "user-7", "message_id": first}),
    )
    .await;
    let verification = created["id"].as_str().expect("id").to_owned();
    let second = message_for(app, "u7-2", "user-7", NUMBER).await;
    api_post(
        app,
        &format!("/api/v1/messages/{first}/retries"),
        &json!({"kind": "resend", "new_message_id": second, "reason": "no receipt"}),
    )
    .await;
    inbound(app, "SM-in-1", NUMBER, "STOP").await;
    inbound(
        app,
        "SM-in-other",
        "+442079460958",
        "who is this? call +44 20 7946 0958",
    )
    .await;
    api_post(
        app,
        &format!("/api/v1/verifications/{verification}/events"),
        &json!({"kind": "completed", "message_id": second}),
    )
    .await;
    Story {
        first,
        second,
        verification,
        other_user_message,
    }
}

#[tokio::test]
async fn the_user_page_merges_the_four_streams_newest_first() {
    let app = TestApp::spawn().await;
    let s = story(&app).await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    let page = client.get("/users/user-7").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        streams(&page),
        [
            "verifications",
            "inbound",
            "retries",
            "messages",
            "verifications",
            "messages"
        ],
        "{}",
        page.body
    );
    let text = page.text();
    // Newest first: the second message's link comes before the first's.
    let links = page.message_links();
    let at = |id: &str| links.iter().position(|l| l == id).expect(id);
    assert!(at(&s.second) < at(&s.first), "{links:?}");
    assert!(text.contains(&s.verification));
    assert!(text.contains("completed"));
    assert!(text.contains("resend of"));
    assert!(text.contains("no receipt"));
    assert!(
        text.contains("<span class=\"badge stop\">stop</span>"),
        "{text}"
    );
    // Another user's message, and a reply from their number, are not here.
    assert!(!links.contains(&s.other_user_message));
    assert!(!text.contains("who is this"));
    // Masked everywhere, linked to the number's page.
    assert!(
        !page.body.contains(FULL_DIGITS),
        "a clear number in the page"
    );
    assert!(text.contains("+1 •••• ••0100"));
    assert!(page.body.contains("href=\"/numbers/"));
    // UTC and the agent's zone.
    assert!(page.body.contains("class=\"utc\""));
    assert!(page.body.contains("class=\"agent\""));

    // Support and admin both read it.
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    assert_eq!(admin.get("/users/user-7").await.status, StatusCode::OK);
    // Logged out: the login page, then back.
    let anonymous = UiClient::new(&app).get("/users/user-7").await;
    assert_eq!(
        anonymous.location.as_deref(),
        Some("/login?next=%2Fusers%2Fuser-7")
    );
}

#[tokio::test]
async fn each_stream_can_be_shown_on_its_own() {
    let app = TestApp::spawn().await;
    story(&app).await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    for (query, expected) in [
        ("?messages=1", vec!["messages", "messages"]),
        ("?verifications=1", vec!["verifications", "verifications"]),
        ("?retries=1", vec!["retries"]),
        ("?inbound=1", vec!["inbound"]),
        (
            "?inbound=1&messages=1",
            vec!["inbound", "messages", "messages"],
        ),
        // The filter form with every box cleared shows everything.
        (
            "?",
            vec![
                "verifications",
                "inbound",
                "retries",
                "messages",
                "verifications",
                "messages",
            ],
        ),
    ] {
        let page = client.get(&format!("/users/user-7{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert_eq!(streams(&page), expected, "{query}");
    }
    // The form's boxes and the links say the same.
    let page = client.get("/users/user-7?retries=1").await;
    assert!(page.body.contains("name=\"retries\" value=\"1\" checked"));
    assert!(!page.body.contains("name=\"messages\" value=\"1\" checked"));
    assert!(page.body.contains("href=\"/users/user-7?inbound=1\""));
    assert!(page.body.contains("id=\"show-all\""));
}

#[tokio::test]
async fn a_long_history_is_read_a_page_at_a_time_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..57 {
        ids.push(message_for(&app, &format!("long-{i}"), "user-long", NUMBER).await);
    }
    for i in 0..6 {
        inbound(
            &app,
            &format!("SM-long-in-{i}"),
            NUMBER,
            &format!("reply {i}"),
        )
        .await;
    }
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    let mut path = "/users/user-long".to_owned();
    let mut seen = Vec::new();
    let mut rows = 0;
    let mut pages = 0;
    loop {
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        let on_page = streams(&page).len();
        assert!(on_page <= 50, "{on_page} rows on one page");
        rows += on_page;
        pages += 1;
        seen.extend(page.message_links().into_iter().filter(|l| ids.contains(l)));
        match page.next_link() {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(rows, 57 + 6);
    ids.reverse();
    assert_eq!(seen, ids, "every message once, newest first");

    // The second page through the messages filter only.
    let first = client.get("/users/user-long?messages=1").await;
    let next = first.next_link().expect("an older page");
    assert!(next.contains("messages=1"), "{next}");
    let second = client.get(&next).await;
    assert_eq!(streams(&second), vec!["messages"; 7]);
    assert!(second.body.contains("Newest entries"));
}

#[tokio::test]
async fn the_message_page_links_to_its_user_and_odd_user_refs_stay_one_segment() {
    let app = TestApp::spawn().await;
    let plain = message_for(&app, "plain", "user-7", NUMBER).await;
    let odd_ref = "acct/7 ?#%\"<b>é";
    let odd = message_for(&app, "odd", odd_ref, NUMBER).await;
    let none = app.register_twilio("SM-no-user").await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;

    let page = client.get(&format!("/messages/{plain}")).await;
    assert!(
        page.body
            .contains("href=\"/users/user-7\" id=\"user-link\""),
        "{}",
        page.body
    );
    let page = client.get(&format!("/messages/{odd}")).await;
    let link = "/users/acct%2F7%20%3F%23%25%22%3Cb%3E%C3%A9";
    assert!(
        page.body
            .contains(&format!("href=\"{link}\" id=\"user-link\"")),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>é"), "the user ref is escaped");
    let user = client.get(link).await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.body);
    assert!(user.text().contains(odd_ref));
    assert_eq!(user.message_links(), [odd]);
    let page = client.get(&format!("/messages/{none}")).await;
    assert!(!page.body.contains("id=\"user-link\""));
}

#[tokio::test]
async fn unknown_odd_and_over_long_user_refs_find_nothing() {
    let app = TestApp::spawn().await;
    message_for(&app, "known", "user-7", NUMBER).await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    let long = "x".repeat(300);
    for path in [
        "/users/nobody".to_owned(),
        "/users/user-".to_owned(),
        "/users/USER-7".to_owned(),
        format!("/users/{long}"),
        "/users/user-7%00".to_owned(),
        "/users/%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_owned(),
        "/users/%27%20OR%201%3D1%20--".to_owned(),
    ] {
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.text().contains("Nothing found for user ref"), "{path}");
        assert!(!page.body.contains("<script>"), "{path}");
    }
    // A damaged page link is a clear 400, not a 500 or a silent first page.
    for before in ["garbage", "1~messages~a%27b", "1~inbound~x", "x~retries~1"] {
        let page = client.get(&format!("/users/user-7?before={before}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{before}");
        assert!(page.text().contains("page link is damaged"), "{before}");
    }
}

#[tokio::test]
async fn a_user_with_only_verifications_has_a_page() {
    let app = TestApp::spawn().await;
    api_post(
        &app,
        "/api/v1/verifications",
        &json!({"user_ref": "otp-only", "occurred_at": "2030-01-01T00:00:00Z"}),
    )
    .await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    let page = client.get("/users/otp-only").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(streams(&page), ["verifications"]);
    assert!(page.text().contains("2030-01-01"));
}
