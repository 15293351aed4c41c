//! `/numbers/{ref}`: a number's page, found by searching the number even
//! when it only ever wrote to us, with its opt-out history in time order and
//! the audited reveal (the message reveal's rules: grant, reason, audit row,
//! 403 + audit row without a grant).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::ui_helpers::*;

/// Only ever wrote to us.
const INBOUND_ONLY: &str = "+14155550177";
const INBOUND_ONLY_DIGITS: &str = "4155550177";
const MASKED: &str = "+1 •••• ••0177";

/// A Standard Webhooks inbound message sent at `occurred_at`.
async fn inbound_at(app: &TestApp, id: &str, from: &str, body: &str, occurred_at: &str) {
    let response = app
        .standard(
            &format!("msg_{id}"),
            now_unix(),
            &json!({
                "type": "message.inbound",
                "timestamp": "2026-03-01T12:00:00Z",
                "data": {
                    "provider_message_id": id,
                    "from": from,
                    "to": "+15017122661",
                    "body": body,
                    "occurred_at": occurred_at,
                },
            }),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
}

/// STOP, START, then STOP again — posted out of order, as providers may.
async fn opt_out_story(app: &TestApp) {
    inbound_at(app, "in-3", INBOUND_ONLY, "stop", "2026-03-03T09:00:00Z").await;
    inbound_at(app, "in-1", INBOUND_ONLY, "STOP", "2026-03-01T09:00:00Z").await;
    inbound_at(app, "in-2", INBOUND_ONLY, "Start", "2026-03-02T09:00:00Z").await;
    inbound_at(
        app,
        "in-4",
        INBOUND_ONLY,
        "Who is this? My other number is +1 415 555 0178",
        "2026-03-03T10:00:00Z",
    )
    .await;
}

/// Searches `number` through the search form and follows a redirect.
async fn search_number(client: &UiClient, number: &str, extra: &[(&str, &str)]) -> (Page, Page) {
    let mut fields = vec![("q", number)];
    fields.extend_from_slice(extra);
    let answer = client.post_from("/", "/", &fields).await;
    let page = match answer.location.clone() {
        Some(location) => client.get(&location).await,
        None => client.get("/").await,
    };
    (answer, page)
}

async fn number_page_path(client: &UiClient) -> String {
    let (answer, _) = search_number(client, "+1 (415) 555-0177", &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    answer.location.expect("a Location")
}

fn opt_out_rows(page: &Page) -> Vec<String> {
    let text = page.text();
    let start = text.find("id=\"opt-out-history\"").expect("the history");
    let table = &text[start..text[start..].find("</table>").expect("end") + start];
    table
        .split("<tr")
        .skip(2)
        .map(|row| {
            let keyword = row.split("class=\"badge ").nth(1).unwrap_or_default();
            let keyword = &keyword[..keyword.find('"').unwrap_or(0)];
            let effect = row.rsplit("<td>").next().unwrap_or_default();
            let effect = &effect[..effect.find("</td>").unwrap_or(0)];
            format!("{keyword}: {effect}")
        })
        .collect()
}

#[tokio::test]
async fn an_inbound_only_number_is_found_by_search_with_its_opt_out_history() {
    let app = TestApp::spawn().await;
    opt_out_story(&app).await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;

    let path = number_page_path(&client).await;
    assert!(path.starts_with("/numbers/"), "{path}");
    assert!(
        !path.contains(INBOUND_ONLY_DIGITS),
        "the number is in the link"
    );
    let page = client.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let text = page.text();
    assert!(text.contains(MASKED), "{text}");
    assert!(!page.body.contains(INBOUND_ONLY_DIGITS), "a clear number");
    assert!(
        !page.body.contains("4155550178"),
        "a number in a reply body"
    );
    assert!(text.contains("None: this number only wrote to us."));
    // Now: opted out since the second STOP (the one after the START).
    assert!(
        text.contains("id=\"opt-out-state\">opted out</span>"),
        "{text}"
    );
    let now = &text[text.find("id=\"opt-out-now\"").expect("state")..];
    assert!(now.contains("opted out since"), "{now}");
    assert!(now.contains("2026-03-03 09:00"), "{now}");
    // The history in time order, newest first, whatever the arrival order.
    assert_eq!(
        opt_out_rows(&page),
        ["stop: opted out", "start: opted back in", "stop: opted out"]
    );
    assert!(text.contains("Who is this?"));
    // The phone search itself was audited, masked.
    let searches = app.db.audit("phone_search").await;
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].detail.as_deref(), Some(MASKED));
}

#[tokio::test]
async fn a_search_with_filters_or_outbound_traffic_links_to_the_number_page() {
    let app = TestApp::spawn().await;
    opt_out_story(&app).await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    // With a filter the search page stays, and points at the number's page.
    let (answer, _) = search_number(&client, INBOUND_ONLY, &[("status", "delivered")]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.body.contains("id=\"number-page\""),
        "{}",
        answer.body
    );
    assert!(
        answer
            .text()
            .contains("0 messages sent to it, 4 messages received from it")
    );

    // A number with outbound messages lists them, with the link too.
    let id = app.register_twilio("SM-out").await;
    let (answer, _) = search_number(&client, "+14155550100", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.message_links(), std::slice::from_ref(&id));
    let link = answer.body[answer
        .body
        .find("id=\"number-page\"><a href=\"")
        .expect("link")
        + 26..]
        .split('"')
        .next()
        .expect("href")
        .to_owned();
    let page = client.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.message_links(), std::slice::from_ref(&id));
    assert!(page.text().contains("never opted out"));
    // The message page links to the same page.
    let message = client.get(&format!("/messages/{id}")).await;
    assert!(
        message
            .body
            .contains(&format!("href=\"{link}\" id=\"number-link\""))
    );
    // A number nobody wrote to or from: no link, no redirect.
    let (answer, _) = search_number(&client, "+14155550199", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(!answer.body.contains("id=\"number-page\""));
}

#[tokio::test]
async fn the_number_page_lists_its_outbound_messages_and_users() {
    let app = TestApp::spawn().await;
    let id = app
        .register_id(&json!({"idempotency_key": "k1", "to": "+14155550100",
            "provider": "twilio", "provider_message_id": "SM-1", "user_ref": "user/7"}))
        .await;
    let (client, _) = app.logged_in("agent@example.com", "support").await;
    let message = client.get(&format!("/messages/{id}")).await;
    let start = message.body.find("href=\"/numbers/").expect("number link") + 6;
    let link = message.body[start..]
        .split('"')
        .next()
        .expect("href")
        .to_owned();
    let page = client.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("href=\"/users/user%2F7\""),
        "{}",
        page.body
    );
    assert!(page.text().contains("No STOP, START or HELP received"));
    assert!(!page.body.contains("4155550100"));
}

async fn reveal(client: &UiClient, path: &str, reason: &str) -> Page {
    client
        .post_from(path, &format!("{path}/reveal"), &[("reason", reason)])
        .await
}

#[tokio::test]
async fn revealing_an_inbound_only_number_needs_a_grant_and_is_audited() {
    let app = TestApp::spawn().await;
    opt_out_story(&app).await;
    let admin = app.user("admin@example.com", "admin").await;
    let (client, agent) = app.logged_in("agent@example.com", "support").await;
    let path = number_page_path(&client).await;
    let reference = path.strip_prefix("/numbers/").expect("a reference");

    // Without a grant: 403, nothing shown, the attempt audited.
    let page = reveal(&client, &path, "ticket 77").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.text().contains("You have no live reveal grant"));
    assert!(!page.body.contains(INBOUND_ONLY_DIGITS));
    let denied = app.db.audit("reveal_denied").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].reason.as_deref(), Some("ticket 77"));
    assert_eq!(denied[0].target, Some(format!("number {reference}")));
    assert_eq!(denied[0].actor_email.as_deref(), Some("agent@example.com"));
    assert_eq!(denied[0].client_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(denied[0].message_id, None);
    assert!(app.db.audit("reveal").await.is_empty());

    // With a grant but no reason: asked again, not an attempt.
    app.grant(&agent, &admin, 1).await;
    let page = reveal(&client, &path, "   ").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.db.audit("reveal").await.is_empty());

    // With a grant and a reason: the number, once, audited.
    let page = reveal(&client, &path, "ticket 78: user asks why texts stopped").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.text().contains(&format!(
            "<strong class=\"revealed\">{INBOUND_ONLY}</strong>"
        )),
        "{}",
        page.body
    );
    let rows = app.db.audit("reveal").await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.actor_id.as_deref(), Some(agent.id.as_str()));
    assert_eq!(
        row.reason.as_deref(),
        Some("ticket 78: user asks why texts stopped")
    );
    assert_eq!(row.target, Some(format!("number {reference}")));
    let detail = row.detail.as_deref().unwrap_or_default();
    assert!(detail.starts_with("grant "), "{detail}");
    assert!(detail.ends_with(&format!("number {MASKED}")), "{detail}");
    assert!(!detail.contains(INBOUND_ONLY_DIGITS));
    let again = client.get(&path).await;
    assert!(!again.body.contains(INBOUND_ONLY_DIGITS), "shown once only");

    // A forged CSRF token changes nothing.
    let forged = client
        .post_with_token(
            &format!("{path}/reveal"),
            &[("reason", "x")],
            Some("forged"),
        )
        .await;
    assert_ne!(forged.status, StatusCode::OK);
    assert!(!forged.body.contains(INBOUND_ONLY_DIGITS));
    assert_eq!(app.db.audit("reveal").await.len(), 1);
}

#[tokio::test]
async fn a_number_removed_by_retention_cannot_be_revealed() {
    let app = TestApp::spawn().await;
    opt_out_story(&app).await;
    let admin = app.user("admin@example.com", "admin").await;
    let (client, agent) = app.logged_in("agent@example.com", "support").await;
    app.grant(&agent, &admin, 1).await;
    let path = number_page_path(&client).await;
    let now = chrono::Utc::now().timestamp_micros();
    app.state
        .store
        .apply_retention(None, Some(now + 1), now)
        .await
        .expect("retention");
    let page = reveal(&client, &path, "ticket 79").await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text().contains("can no longer be revealed"));
    assert!(app.db.audit("reveal").await.is_empty());
    // Still found, still masked, its history intact.
    let page = client.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(opt_out_rows(&page).len(), 3);
}

#[tokio::test]
async fn unknown_and_malformed_number_references_are_404_and_never_audited() {
    let app = TestApp::spawn().await;
    opt_out_story(&app).await;
    let admin = app.user("admin@example.com", "admin").await;
    let (client, agent) = app.logged_in("agent@example.com", "support").await;
    app.grant(&agent, &admin, 1).await;
    let unknown = format!("/numbers/{}", "A".repeat(43));
    for path in [
        unknown.as_str(),
        "/numbers/+14155550177",
        "/numbers/14155550177",
        "/numbers/not-a-hash",
        "/numbers/%00",
    ] {
        let page = client.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            page.text().contains("Nothing found for this number"),
            "{path}"
        );
    }
    let page = client
        .post_from("/", &format!("{unknown}/reveal"), &[("reason", "ticket")])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(app.db.audit("reveal").await.is_empty());
    assert!(app.db.audit("reveal_denied").await.is_empty());
    // Logged out: the login page.
    let anonymous = UiClient::new(&app).get(&unknown).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}
