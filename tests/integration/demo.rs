//! `smstrail demo` (issue 11 item 1): a month of traffic through the real
//! pipeline, and its refusal to mix into a database that holds real data.

use smstrail::config::Config;
use smstrail::demo::{DemoError, DemoOptions, run};

use crate::helpers::*;

fn options(messages: u64, force: bool) -> DemoOptions {
    DemoOptions {
        messages,
        force,
        seed: 7,
    }
}

fn config(app: &TestApp) -> Config {
    Config::from_sources(None, test_env(&app.db)).expect("config")
}

#[tokio::test]
async fn the_demo_plays_every_kind_of_story_through_the_pipeline() {
    let app = TestApp::spawn().await;
    let summary = run(config(&app), &options(120, false), |_| {})
        .await
        .expect("demo");
    let text = summary.to_string();
    assert!(text.starts_with("1"), "{text}");

    let messages = app.db.count("messages").await;
    assert!(messages >= 120, "{messages} messages");
    let providers = app
        .db
        .strings("SELECT DISTINCT provider FROM messages ORDER BY provider")
        .await;
    assert_eq!(
        providers,
        ["plivo", "standard", "telnyx", "twilio", "vonage"],
        "every provider"
    );
    let countries = app
        .db
        .strings("SELECT DISTINCT destination_country FROM messages")
        .await;
    assert!(countries.len() >= 8, "{countries:?}");
    // Every event came through a provider's verified callback, so each one
    // is attached to a registered message (nothing waits unmatched).
    assert!(app.db.count("message_events").await > messages * 2);
    assert_eq!(app.db.count("unmatched_callbacks").await, 0);
    for status in ["delivered", "undelivered", "sent"] {
        let n = app
            .db
            .strings(&format!(
                "SELECT id FROM messages WHERE current_status = '{status}'"
            ))
            .await
            .len();
        assert!(n > 0, "some messages end {status}");
    }
    assert!(app.db.count("event_duplicates").await > 0, "duplicates");
    assert!(app.db.count("verifications").await > 0);
    assert!(app.db.count("message_retries").await > 0);
    assert!(app.db.count("inbound_messages").await > 0);
    // The history spans the month before the run.
    let span = app
        .db
        .strings("SELECT CAST(MAX(created_at_us) - MIN(created_at_us) AS TEXT) FROM messages")
        .await;
    let span_days = span[0].parse::<i64>().expect("span") / 86_400_000_000;
    assert!(span_days >= 20, "{span_days} days");
    let keys = app
        .db
        .strings("SELECT idempotency_key FROM messages WHERE idempotency_key NOT LIKE 'demo-%'")
        .await;
    assert!(keys.is_empty(), "{keys:?}");
    if app.db.is_postgres() {
        // The planner knows what was loaded (ANALYZE sets reltuples; a
        // table never analyzed has -1).
        let tuples = app
            .db
            .strings("SELECT CAST(reltuples AS TEXT) FROM pg_class WHERE relname = 'messages'")
            .await;
        let tuples: f64 = tuples[0].parse().expect("reltuples");
        assert!(tuples >= 120.0, "messages analyzed: {tuples}");
    }

    // A second run adds to its own data without complaint.
    run(config(&app), &options(10, false), |_| {})
        .await
        .expect("second demo run");
    assert!(app.db.count("messages").await >= messages + 10);
}

#[tokio::test]
async fn the_demo_refuses_a_database_with_real_data_unless_forced() {
    let app = TestApp::spawn().await;
    app.register_twilio("SM-real").await;
    let refused = run(config(&app), &options(5, false), |_| {}).await;
    assert!(
        matches!(refused, Err(DemoError::Refused(1))),
        "{:?}",
        refused.err()
    );
    assert_eq!(app.db.count("messages").await, 1, "nothing written");

    run(config(&app), &options(5, true), |_| {})
        .await
        .expect("--force runs");
    assert!(app.db.count("messages").await >= 6);
}

#[tokio::test]
async fn the_demo_refuses_a_count_out_of_range() {
    let app = TestApp::spawn().await;
    for count in [0, 3_000_001] {
        let result = run(config(&app), &options(count, false), |_| {}).await;
        assert!(
            matches!(result, Err(DemoError::BadCount(n)) if n == count),
            "{count}"
        );
    }
}
