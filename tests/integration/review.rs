//! The review queue: unmatched callbacks after their window, the page's
//! groups and masking, who may act, resolve and remap (audited), and a
//! remap re-normalizing history through the same precedence as ingest.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::ui_helpers::*;

async fn open_unmatched(app: &TestApp) -> Vec<String> {
    app.db
        .strings(
            "SELECT provider_message_id FROM review_items \
             WHERE kind = 'unmatched' AND resolved_at_us IS NULL",
        )
        .await
}

#[tokio::test]
async fn unmatched_callbacks_go_to_review_after_the_window_and_resolve_on_registration() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.twilio_status("SMlate", "delivered").await.status(),
        StatusCode::OK
    );
    let after = Duration::from_secs(3600);
    let now = chrono::Utc::now();
    smstrail::app::review_pass(&app.state.store, after, now).await;
    assert!(
        open_unmatched(&app).await.is_empty(),
        "not yet past the window"
    );

    let later = now + chrono::Duration::hours(2);
    smstrail::app::review_pass(&app.state.store, after, later).await;
    smstrail::app::review_pass(&app.state.store, after, later).await;
    assert_eq!(
        open_unmatched(&app).await,
        ["SMlate"],
        "one item, however many passes"
    );

    let id = app.register_twilio("SMlate").await;
    assert_eq!(app.status_of(&id).await, "delivered", "it still attaches");
    assert!(
        open_unmatched(&app).await.is_empty(),
        "and the item resolved itself"
    );
    let notes = app
        .db
        .strings("SELECT resolution FROM review_items WHERE kind = 'unmatched'")
        .await;
    assert_eq!(notes, ["the message was registered later"]);
}

#[tokio::test]
async fn the_page_groups_masks_and_only_admins_act() {
    let app = TestApp::spawn().await;
    let first = app.register_twilio("SMa").await;
    app.register_twilio("SMb").await;
    for sid in ["SMa", "SMb"] {
        assert_eq!(
            app.twilio_status(sid, "teleported").await.status(),
            StatusCode::OK
        );
    }
    app.twilio_status("SMa", "warped").await;

    let (support, _) = app.logged_in("support@example.com", "support").await;
    let page = support.get("/review").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = unescape(&page.body);
    assert!(text.contains("teleported") && text.contains("warped"));
    assert_eq!(
        page.body.matches("class=\"review-group\"").count(),
        2,
        "grouped"
    );
    assert!(text.contains("<td>2</td>"), "a count per group");
    assert!(!text.contains("4155550100"), "numbers are masked");
    assert!(text.contains("href=\"/review\""), "linked from the header");

    let refused = support
        .post_from(
            "/review",
            "/review/resolve",
            &[
                ("kind", "unknown_status"),
                ("provider", "twilio"),
                ("raw_status", "warped"),
                ("note", "x"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = support
        .post_from(
            "/review",
            "/review/mappings",
            &[
                ("provider", "twilio"),
                ("raw_status", "teleported"),
                ("status", "delivered"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let resolved = admin
        .post_from(
            "/review",
            "/review/resolve",
            &[
                ("kind", "unknown_status"),
                ("provider", "twilio"),
                ("raw_status", "warped"),
                ("note", "provider test traffic"),
            ],
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    assert!(!unescape(&resolved.body).contains("<code>warped</code>"));
    let audit = app.db.audit("review_resolve").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].reason.as_deref(), Some("provider test traffic"));

    // A message already delivered stays delivered whatever the remap says of
    // an earlier non-final status; SMa gets `teleported` = delivered.
    assert_eq!(app.status_of(&first).await, "accepted");
    let remapped = admin
        .post_from(
            "/review",
            "/review/mappings",
            &[
                ("provider", "twilio"),
                ("raw_status", "teleported"),
                ("status", "delivered"),
            ],
        )
        .await;
    assert_eq!(remapped.status, StatusCode::OK, "{}", remapped.body);
    let text = unescape(&remapped.body);
    assert!(text.contains("2 stored event(s) re-normalized"), "{text}");
    assert!(
        !text.contains("class=\"review-group\""),
        "the remap resolved its items"
    );
    assert_eq!(app.status_of(&first).await, "delivered");
    let events = app.message(&first).await["events"].clone();
    assert!(
        events.as_array().is_some_and(|e| e
            .iter()
            .any(|e| e["raw_status"] == "teleported" && e["status"] == "delivered")),
        "{events}"
    );
    let remapped_event = events
        .as_array()
        .and_then(|e| e.iter().find(|e| e["raw_status"] == "teleported"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(remapped_event["mapping"]["added_by"], "admin@example.com");
    assert_eq!(remapped_event["mapping"]["status"], "delivered");
    assert_eq!(
        remapped_event["mapping"]["renormalized"], true,
        "stored before the mapping: {remapped_event}"
    );
    let page = unescape(&support.get(&format!("/messages/{first}")).await.body);
    assert!(
        page.contains("Remapped: \"teleported\" means delivered by the mapping admin@example.com")
            && page.contains("this event arrived before it and was re-normalized"),
        "{page}"
    );
    assert_eq!(app.db.audit("mapping_add").await.len(), 1);
    let note = app
        .db
        .strings("SELECT resolution FROM review_items WHERE raw_status = 'teleported' LIMIT 1")
        .await;
    assert!(note[0].starts_with("remapped"), "{note:?}");

    // A late `sent` cannot downgrade the remapped `delivered`.
    app.twilio_status("SMa", "sent").await;
    assert_eq!(app.status_of(&first).await, "delivered");

    // The next callback with that raw status is normalized by the mapping.
    let third = app.register_twilio("SMc").await;
    app.twilio_status("SMc", "teleported").await;
    assert_eq!(app.status_of(&third).await, "delivered");
    let events = app.message(&third).await["events"].clone();
    assert_eq!(
        events[0]["mapping"]["renormalized"], false,
        "normalized by the mapping on arrival: {events}"
    );
    assert!(
        app.db
            .strings("SELECT kind FROM review_items WHERE resolved_at_us IS NULL")
            .await
            .is_empty()
    );

    let removed = admin
        .post_from(
            "/review",
            "/review/mappings/remove",
            &[("provider", "twilio"), ("raw_status", "teleported")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(app.db.audit("mapping_remove").await.len(), 1);
}
