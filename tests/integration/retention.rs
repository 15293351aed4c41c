//! Retention: raw payloads and number ciphertexts older than their setting
//! are removed by the daily pass, each setting on its own; hashes, masked
//! forms, summaries and events stay; the pages say what was removed; a
//! removed number cannot be revealed; the audit log is never touched.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::ui_helpers::*;

const DAY_US: i64 = 86_400_000_000;
const PAYLOADS: Duration = Duration::from_secs(90 * 86_400);
const NUMBERS: Duration = Duration::from_secs(30 * 86_400);

/// `(length of the ciphertext, removed_at is set)` per row, in id order.
async fn kept(
    app: &TestApp,
    table: &str,
    sealed: &str,
    removed_at: &str,
    filter: &str,
) -> Vec<String> {
    app.db
        .strings(&format!(
            "SELECT CAST(LENGTH({sealed}) AS TEXT) || ':' || \
             CASE WHEN {removed_at} IS NULL THEN 'kept' ELSE 'removed' END \
             FROM {table} WHERE {filter} ORDER BY id"
        ))
        .await
}

fn all_kept(rows: &[String]) -> bool {
    !rows.is_empty()
        && rows
            .iter()
            .all(|r| r.ends_with(":kept") && !r.starts_with("0:"))
}

fn all_removed(rows: &[String]) -> bool {
    !rows.is_empty() && rows.iter().all(|r| r == "0:removed")
}

async fn audit_snapshot(app: &TestApp) -> Vec<String> {
    app.db
        .audit_rows()
        .await
        .iter()
        .map(|r| format!("{r:?}"))
        .collect()
}

#[tokio::test]
async fn the_pass_removes_exactly_what_is_older_than_each_setting() {
    let app = TestApp::spawn_with(&[
        ("SMSTRAIL_RETAIN_RAW_PAYLOADS", "90d"),
        ("SMSTRAIL_RETAIN_NUMBERS", "30d"),
    ])
    .await;
    let old = app.register_twilio("SM-old").await;
    let new = app
        .register_id(&json!({"idempotency_key": "k-new", "to": "+442079460958",
            "provider": "twilio", "provider_message_id": "SM-new"}))
        .await;
    for sid in ["SM-old", "SM-new"] {
        assert_eq!(
            app.twilio_status(sid, "sent").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.twilio_status(sid, "delivered").await.status(),
            StatusCode::OK
        );
        // An unknown status: a review item with its own raw payload.
        assert_eq!(
            app.twilio_status(sid, "teleported").await.status(),
            StatusCode::OK
        );
    }
    let inbound = app
        .twilio(
            "inbound",
            &[
                ("MessageSid", "SM-in-stop"),
                ("AccountSid", "AC123"),
                ("From", "+14155550100"),
                ("To", "+15017122661"),
                ("Body", "STOP please, 4155550100 is mine"),
            ],
        )
        .await;
    assert_eq!(inbound.status(), StatusCode::OK);

    // Some history, and a reveal in the audit log before the pass.
    let admin = app.user("admin@example.com", "admin").await;
    let (client, agent_user) = app.logged_in("agent@example.com", "support").await;
    app.grant(&agent_user, &admin, 1).await;
    let page = reveal(&client, &new, "ticket 1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);

    // The old message and its callbacks are 100 days old; the inbound
    // message is 40: past the numbers' setting, within the payloads'.
    let now = chrono::Utc::now();
    let now_us = now.timestamp_micros();
    app.db
        .execute(&format!(
            "UPDATE messages SET created_at_us = {c} WHERE id = '{old}'; \
             UPDATE message_events SET received_at_us = {c} WHERE provider_message_id = 'SM-old'; \
             UPDATE review_items SET received_at_us = {c} WHERE provider_message_id = 'SM-old' \
               OR event_id IN (SELECT id FROM message_events WHERE provider_message_id = 'SM-old'); \
             UPDATE inbound_messages SET received_at_us = {i};",
            c = now_us - 100 * DAY_US,
            i = now_us - 40 * DAY_US,
        ))
        .await;
    let events_before = app.db.count("message_events").await;
    let audit_before = audit_snapshot(&app).await;
    let summaries_before = app
        .db
        .strings(
            "SELECT id || ':' || current_status || ':' || recipient_masked || ':' || \
             CAST(LENGTH(recipient_hash) AS TEXT) FROM messages ORDER BY id",
        )
        .await;

    // Unset keeps forever, however late it is.
    let far = now + chrono::Duration::days(10_000);
    let report = smstrail::app::retention_pass(&app.state.store, None, None, far)
        .await
        .expect("pass");
    assert!(report.is_empty(), "{report:?}");

    let report =
        smstrail::app::retention_pass(&app.state.store, Some(PAYLOADS), Some(NUMBERS), now)
            .await
            .expect("pass");
    assert_eq!(report.event_payloads, 3, "{report:?}");
    assert_eq!(report.review_payloads, 1, "{report:?}");
    assert_eq!(report.recipients, 1, "{report:?}");
    assert_eq!(report.senders, 1, "{report:?}");
    assert_eq!(report.inbound_payloads, 0, "{report:?}");

    let old_events = "provider_message_id = 'SM-old'";
    let new_events = "provider_message_id = 'SM-new'";
    let events = |f| {
        kept(
            &app,
            "message_events",
            "raw_payload_sealed",
            "raw_payload_removed_at_us",
            f,
        )
    };
    assert!(all_removed(&events(old_events).await));
    assert!(all_kept(&events(new_events).await));
    let reviews = |f| {
        kept(
            &app,
            "review_items",
            "raw_payload_sealed",
            "raw_payload_removed_at_us",
            f,
        )
    };
    let old_review =
        "event_id IN (SELECT id FROM message_events WHERE provider_message_id = 'SM-old')";
    let new_review =
        "event_id IN (SELECT id FROM message_events WHERE provider_message_id = 'SM-new')";
    assert!(all_removed(&reviews(old_review).await));
    assert!(all_kept(&reviews(new_review).await));
    let old_filter = format!("id = '{old}'");
    let new_filter = format!("id = '{new}'");

    assert!(all_removed(
        &kept(
            &app,
            "messages",
            "recipient_sealed",
            "recipient_removed_at_us",
            &old_filter
        )
        .await
    ));
    assert!(all_kept(
        &kept(
            &app,
            "messages",
            "recipient_sealed",
            "recipient_removed_at_us",
            &new_filter
        )
        .await
    ));
    assert!(all_removed(
        &kept(
            &app,
            "inbound_messages",
            "sender_sealed",
            "sender_removed_at_us",
            "TRUE"
        )
        .await
    ));
    assert!(all_kept(
        &kept(
            &app,
            "inbound_messages",
            "raw_payload_sealed",
            "raw_payload_removed_at_us",
            "TRUE"
        )
        .await
    ));
    assert!(all_kept(
        &kept(
            &app,
            "inbound_messages",
            "body_sealed",
            "raw_payload_removed_at_us",
            "TRUE"
        )
        .await
    ));

    // Events, summaries, hashes and masked forms stay; the audit log is as it was.
    assert_eq!(app.db.count("message_events").await, events_before);
    let summaries_after = app
        .db
        .strings(
            "SELECT id || ':' || current_status || ':' || recipient_masked || ':' || \
             CAST(LENGTH(recipient_hash) AS TEXT) FROM messages ORDER BY id",
        )
        .await;
    assert_eq!(summaries_after, summaries_before);
    assert_eq!(app.status_of(&old).await, "delivered");
    assert_eq!(app.event_count(&old).await, 3);
    assert_eq!(
        app.db
            .strings("SELECT sender_masked FROM inbound_messages WHERE LENGTH(sender_hash) > 0")
            .await
            .len(),
        1
    );
    assert_eq!(audit_snapshot(&app).await, audit_before);

    // Idempotent: a second pass (or another instance's) finds nothing.
    let again = smstrail::app::retention_pass(&app.state.store, Some(PAYLOADS), Some(NUMBERS), now)
        .await
        .expect("pass");
    assert!(again.is_empty(), "{again:?}");

    // Later, the inbound payload and body pass 90 days too.
    let later = now + chrono::Duration::days(51);
    let report = smstrail::app::retention_pass(&app.state.store, Some(PAYLOADS), None, later)
        .await
        .expect("pass");
    assert_eq!(report.inbound_payloads, 1, "{report:?}");
    assert_eq!(report.recipients, 0, "numbers kept: their setting is off");
    let page = client.get(&format!("/messages/{old}")).await;
    let text = page.text();
    let replies = &text[text
        .find("Replies and opt-outs from this number")
        .expect("the section")..];
    assert!(
        replies.contains("(removed after 90 days by the retention policy)"),
        "the inbound body: {replies}"
    );
    assert!(!replies.contains("please"), "{replies}");
    assert!(all_removed(
        &kept(
            &app,
            "inbound_messages",
            "body_sealed",
            "raw_payload_removed_at_us",
            "TRUE"
        )
        .await
    ));
    assert_eq!(audit_snapshot(&app).await, audit_before);
}

#[tokio::test]
async fn pages_say_what_the_policy_removed_and_a_removed_number_is_not_revealed() {
    let app = TestApp::spawn_with(&[
        ("SMSTRAIL_RETAIN_RAW_PAYLOADS", "90d"),
        ("SMSTRAIL_RETAIN_NUMBERS", "30d"),
    ])
    .await;
    let old = app.register_twilio("SM-gone").await;
    assert_eq!(
        app.twilio_status("SM-gone", "delivered").await.status(),
        StatusCode::OK
    );
    let fresh = app
        .register_id(&json!({"idempotency_key": "k-fresh", "to": "+442079460958",
            "provider": "twilio", "provider_message_id": "SM-fresh"}))
        .await;
    assert_eq!(
        app.twilio_status("SM-fresh", "delivered").await.status(),
        StatusCode::OK
    );
    let now = chrono::Utc::now();
    app.db
        .execute(&format!(
            "UPDATE messages SET created_at_us = {c} WHERE id = '{old}'; \
             UPDATE message_events SET received_at_us = {c} WHERE provider_message_id = 'SM-gone';",
            c = now.timestamp_micros() - 100 * DAY_US,
        ))
        .await;
    smstrail::app::retention_pass(&app.state.store, Some(PAYLOADS), Some(NUMBERS), now)
        .await
        .expect("pass");

    let admin = app.user("admin@example.com", "admin").await;
    // The API says the same of each event.
    let removed = |view: serde_json::Value| {
        view["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| e["raw_payload_removed"] == true)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(removed(app.message(&old).await), vec![true]);
    assert_eq!(removed(app.message(&fresh).await), vec![false]);
    let (client, agent_user) = app.logged_in("agent@example.com", "support").await;
    let page = client.get(&format!("/messages/{old}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("removed after 90 days by the retention policy"),
        "{text}"
    );
    assert!(text.contains("+1 •••• ••0100"), "the masked number stays");
    assert!(text.contains("delivered"));
    let page = client.get(&format!("/messages/{fresh}")).await;
    assert!(!page.text().contains("retention policy"));
    assert!(
        page.text().contains("MessageStatus"),
        "a kept payload is shown"
    );

    // With a live grant, the removed number is refused plainly, nothing leaks
    // and nothing is audited as revealed.
    app.grant(&agent_user, &admin, 1).await;
    let audit_before = app.db.audit_rows().await.len();
    let page = reveal(&client, &old, "ticket 7").await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    assert!(
        page.text().contains(
            "This number was removed after 30 days by the retention policy: \
             it can no longer be revealed."
        ),
        "{}",
        page.body
    );
    assert!(!page.body.contains("4155550100"));
    assert!(!page.body.contains("class=\"revealed\""));
    assert_eq!(app.db.audit_rows().await.len(), audit_before);
    // Without a grant, the attempt is refused and audited as before.
    let (stranger, _) = app.logged_in("other@example.com", "support").await;
    let page = reveal(&stranger, &old, "ticket 8").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.db.audit("reveal_denied").await.len(), 1);
    // A kept number still reveals.
    let page = reveal(&client, &fresh, "ticket 9").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("+442079460958"));
}

#[tokio::test]
async fn the_review_page_says_a_payload_was_removed() {
    let app = TestApp::spawn_with(&[("SMSTRAIL_RETAIN_RAW_PAYLOADS", "7d")]).await;
    app.register_twilio("SM-odd").await;
    assert_eq!(
        app.twilio_status("SM-odd", "teleported").await.status(),
        StatusCode::OK
    );
    let later = chrono::Utc::now() + chrono::Duration::days(8);
    let report = smstrail::app::retention_pass(
        &app.state.store,
        Some(Duration::from_secs(7 * 86_400)),
        None,
        later,
    )
    .await
    .expect("pass");
    assert_eq!((report.event_payloads, report.review_payloads), (1, 1));
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let page = admin.get("/review").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text()
            .contains("the payload was removed after 7 days by the retention policy"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_pass_goes_through_many_rows_in_chunks_and_keeps_the_boundary() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now();
    let cutoff = now.timestamp_micros() - 7 * DAY_US;
    let blob = if app.db.is_postgres() {
        "'\\x01'::bytea"
    } else {
        "X'01'"
    };
    // More rows than several chunks, all older than the setting; one at
    // exactly the cutoff (not older: kept) and one just after.
    app.db
        .execute(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1234) \
             INSERT INTO message_events (dedup_key, provider, provider_message_id, raw_status, \
               received_at_us, content_type, raw_payload_sealed) \
             SELECT 'bulk-' || i, 'twilio', 'SM-bulk', 'delivered', {old} - i, 'text/plain', {blob} \
             FROM n; \
             INSERT INTO message_events (dedup_key, provider, provider_message_id, raw_status, \
               received_at_us, content_type, raw_payload_sealed) VALUES \
             ('edge-at', 'twilio', 'SM-edge', 'sent', {cutoff}, 'text/plain', {blob}), \
             ('edge-after', 'twilio', 'SM-edge', 'delivered', {after}, 'text/plain', {blob});",
            old = cutoff - 1,
            after = cutoff + 1,
        ))
        .await;
    let week = Some(Duration::from_secs(7 * 86_400));
    let report = smstrail::app::retention_pass(&app.state.store, week, None, now)
        .await
        .expect("pass");
    assert_eq!(report.event_payloads, 1234, "{report:?}");
    let bulk = kept(
        &app,
        "message_events",
        "raw_payload_sealed",
        "raw_payload_removed_at_us",
        "provider_message_id = 'SM-bulk'",
    )
    .await;
    assert_eq!(bulk.len(), 1234);
    assert!(all_removed(&bulk));
    let edge = kept(
        &app,
        "message_events",
        "raw_payload_sealed",
        "raw_payload_removed_at_us",
        "provider_message_id = 'SM-edge'",
    )
    .await;
    assert_eq!(edge, ["1:kept", "1:kept"], "not older than the setting");
}

#[tokio::test]
async fn bad_retention_settings_stop_start_up_naming_the_key() {
    let db = TestDb::fresh().await;
    for (key, value) in [
        ("SMSTRAIL_RETAIN_RAW_PAYLOADS", "90"),
        ("SMSTRAIL_RETAIN_NUMBERS", "a month"),
        ("SMSTRAIL_RETAIN_NUMBERS", "0s"),
    ] {
        let mut env = test_env(&db);
        env.push((key.to_owned(), value.to_owned()));
        let error = smstrail::config::Config::from_sources(None, env)
            .expect_err("refused")
            .to_string();
        let name = key.trim_start_matches("SMSTRAIL_").to_ascii_lowercase();
        assert!(error.contains(&name), "{key}={value}: {error}");
    }
}

async fn reveal(client: &UiClient, id: &str, reason: &str) -> Page {
    client
        .post_from(
            &format!("/messages/{id}"),
            &format!("/messages/{id}/reveal"),
            &[("reason", reason)],
        )
        .await
}
