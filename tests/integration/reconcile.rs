//! The reconcile job (issue 9): final-status windows per use case, one
//! timeout event per message however often and however many passes run, a
//! late receipt that still wins, `smstrail reconcile` and `serve`'s own job.
//! Time is passed to each pass explicitly: no test waits for a window.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use smstrail::reconcile::{CHUNK, run_pass};
use smstrail::store::Writes;

use crate::helpers::*;
use crate::ui_helpers::unescape;

const TIMEOUT_RAW: &str = "smstrail:no_final_receipt";
/// Every message in these tests was sent at this instant.
const SENT_AT: &str = "2024-03-01T12:00:00Z";
const MINUTE_US: i64 = 60_000_000;

fn sent_at_us() -> i64 {
    DateTime::parse_from_rfc3339(SENT_AT)
        .expect("instant")
        .with_timezone(&Utc)
        .timestamp_micros()
}

/// Registers a Twilio message sent at [`SENT_AT`]; `use_case` may be null.
async fn register(app: &TestApp, pmid: &str, use_case: Value) -> String {
    let response = app
        .register(&json!({
            "idempotency_key": format!("key-{pmid}"),
            "to": "+14155550100",
            "provider": "twilio",
            "provider_message_id": pmid,
            "use_case": use_case,
            "sent_at": SENT_AT,
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("id").to_owned()
}

async fn pass_at(app: &TestApp, minutes_after_sending: i64) -> usize {
    let now = sent_at_us() + minutes_after_sending * MINUTE_US;
    run_pass(&app.state.writes, &app.state.cipher, now, CHUNK)
        .await
        .expect("reconcile pass")
        .timed_out
}

async fn timeout_events(app: &TestApp, id: &str) -> Vec<Value> {
    app.message(id).await["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["raw_status"] == TIMEOUT_RAW)
        .cloned()
        .collect()
}

#[tokio::test]
async fn each_use_case_times_out_after_its_own_window() {
    let app = TestApp::spawn().await;
    let otp = register(&app, "SMotp", json!("otp")).await;
    let alert = register(&app, "SMalert", json!("account_alert")).await;
    let marketing = register(&app, "SMmkt", json!("marketing")).await;
    let none = register(&app, "SMnone", Value::Null).await;

    assert_eq!(
        pass_at(&app, 9).await,
        0,
        "nothing is due before 10 minutes"
    );
    assert_eq!(pass_at(&app, 10).await, 1);
    assert_eq!(app.status_of(&otp).await, "unknown");
    let message = app.message(&otp).await;
    assert_eq!(message["is_final"], false);
    assert_eq!(
        message["timeout"]["reason"],
        "no final receipt within 10 minutes"
    );
    let events = timeout_events(&app, &otp).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["status"], "unknown");
    assert_eq!(events[0]["source"], "smstrail");
    assert_eq!(
        events[0]["note"],
        "smstrail's own timeout: no final receipt within 10 minutes"
    );
    assert_eq!(app.status_of(&alert).await, "accepted");

    assert_eq!(pass_at(&app, 60).await, 1);
    assert_eq!(app.status_of(&alert).await, "unknown");
    assert_eq!(app.status_of(&marketing).await, "accepted");

    assert_eq!(pass_at(&app, 72 * 60).await, 2, "marketing and no use case");
    assert_eq!(app.status_of(&marketing).await, "unknown");
    assert_eq!(
        app.message(&none).await["timeout"]["reason"],
        "no final receipt within 72 hours"
    );

    // However often the job runs: one event each.
    assert_eq!(pass_at(&app, 100 * 60).await, 0);
    for id in [&otp, &alert, &marketing, &none] {
        assert_eq!(timeout_events(&app, id).await.len(), 1);
    }
}

#[tokio::test]
async fn default_sets_every_use_case_not_named() {
    let app = TestApp::spawn_with(&[("SMSTRAIL_FINAL_WINDOWS", "otp=1m,default=2h")]).await;
    let otp = register(&app, "SMotp", json!("otp")).await;
    let alert = register(&app, "SMalert", json!("account_alert")).await;
    assert_eq!(pass_at(&app, 1).await, 1);
    assert_eq!(app.status_of(&otp).await, "unknown");
    assert_eq!(pass_at(&app, 119).await, 0, "account_alert waits 2h now");
    assert_eq!(pass_at(&app, 120).await, 1);
    assert_eq!(app.status_of(&alert).await, "unknown");
}

#[tokio::test]
async fn a_final_status_is_never_timed_out_and_a_late_receipt_still_wins() {
    let app = TestApp::spawn().await;
    let delivered = register(&app, "SMdone", json!("otp")).await;
    let late = register(&app, "SMlate", json!("otp")).await;
    assert_eq!(
        app.twilio_status("SMdone", "delivered").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.twilio_status("SMlate", "sent").await.status(),
        StatusCode::OK
    );

    assert_eq!(pass_at(&app, 11).await, 1, "only the one without a final");
    assert_eq!(app.status_of(&delivered).await, "delivered");
    assert!(timeout_events(&app, &delivered).await.is_empty());
    assert_eq!(
        app.status_of(&late).await,
        "unknown",
        "unknown outranks sent"
    );

    // The receipt arrives after smstrail gave up: it wins, and says so.
    assert_eq!(
        app.twilio_status("SMlate", "delivered").await.status(),
        StatusCode::OK
    );
    let message = app.message(&late).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["is_final"], true);
    assert_eq!(message["timeout"]["late_receipt"], true);
    let events = message["events"].as_array().expect("events");
    let receipt = events
        .iter()
        .find(|e| e["raw_status"] == "delivered")
        .expect("the receipt");
    assert_eq!(receipt["after_timeout"], true);
    assert_eq!(receipt["note"], "arrived after smstrail's timeout");
    assert_eq!(receipt["source"], "provider");

    let (agent, _) = app.logged_in("agent@example.com", "support").await;
    let page = agent.get(&format!("/messages/{late}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = unescape(&page.body);
    assert!(
        text.contains("no final receipt within 10 minutes"),
        "{text}"
    );
    assert!(text.contains("A final receipt arrived after the timeout"));
    assert!(text.contains("arrived after smstrail's timeout"));
    assert!(text.contains("Written by smstrail, not the provider"));

    assert_eq!(pass_at(&app, 60).await, 0);
    assert_eq!(timeout_events(&app, &late).await.len(), 1);
}

#[tokio::test]
async fn a_message_without_a_provider_id_gets_no_event_and_is_not_walked_again() {
    let app = TestApp::spawn().await;
    let response = app
        .register(&json!({
            "idempotency_key": "no-pmid",
            "to": "+14155550100",
            "provider": "twilio",
            "use_case": "otp",
            "sent_at": SENT_AT,
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let now = sent_at_us() + 11 * MINUTE_US;
    let report = run_pass(&app.state.writes, &app.state.cipher, now, CHUNK)
        .await
        .expect("pass");
    assert_eq!((report.timed_out, report.without_provider_id), (0, 1));
    let report = run_pass(&app.state.writes, &app.state.cipher, now, CHUNK)
        .await
        .expect("pass");
    assert_eq!(report.without_provider_id, 0, "its deadline was cleared");
}

/// Two passes started at the same moment, each through writers of its own
/// (as two processes would be), in small chunks: every message gets
/// exactly one timeout event and the two passes' work adds up to the total.
#[tokio::test]
async fn two_passes_at_once_never_do_the_same_work() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(register(&app, &format!("SMrace{n}"), json!("otp")).await);
    }
    let other = Writes::start(
        &app.db.url,
        2,
        64,
        Duration::from_secs(10),
        smstrail::metrics::WriterMetrics::default(),
        false,
    )
    .await
    .expect("a second process's writers");
    let now = sent_at_us() + 11 * MINUTE_US;
    let cipher = &app.state.cipher;
    let (a, b) = tokio::join!(
        run_pass(&app.state.writes, cipher, now, 7),
        run_pass(&other, cipher, now, 7),
    );
    let (a, b) = (a.expect("pass a"), b.expect("pass b"));
    assert_eq!(a.timed_out + b.timed_out, ids.len(), "{a:?} {b:?}");
    let events = app
        .db
        .strings(&format!(
            "SELECT provider_message_id FROM message_events WHERE raw_status = '{TIMEOUT_RAW}'"
        ))
        .await;
    assert_eq!(events.len(), ids.len());
    for id in &ids {
        assert_eq!(app.status_of(id).await, "unknown");
    }
}

#[tokio::test]
async fn serve_runs_its_own_pass_every_interval() {
    let app = TestApp::spawn_with(&[("SMSTRAIL_RECONCILE_EVERY", "1s")]).await;
    // Sent long ago: past its window by the real clock the server uses.
    let id = register(&app, "SMserve", json!("otp")).await;
    app.state.start_background_jobs();
    let give_up = Instant::now() + Duration::from_secs(20);
    while app.status_of(&id).await != "unknown" {
        assert!(Instant::now() < give_up, "the server's job never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(timeout_events(&app, &id).await.len(), 1);
}

#[tokio::test]
async fn the_reconcile_command_prints_what_it_did() {
    let app = TestApp::spawn().await;
    register(&app, "SMcli", json!("otp")).await;
    let env = test_env(&app.db);
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_smstrail"))
            .arg("reconcile")
            .env_clear()
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .expect("run smstrail")
    };
    let first = run();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("1 message(s) timed out"), "{stdout}");
    let second = run();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.contains("0 message(s) timed out"), "{stdout}");

    for (key, value) in [
        ("SMSTRAIL_FINAL_WINDOWS", "otp=soon"),
        ("SMSTRAIL_RECONCILE_EVERY", "60"),
    ] {
        let mut env = env.clone();
        env.push((key.to_owned(), value.to_owned()));
        let refused = Command::new(env!("CARGO_BIN_EXE_smstrail"))
            .arg("reconcile")
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .output()
            .expect("run smstrail");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        let name = key.trim_start_matches("SMSTRAIL_").to_ascii_lowercase();
        assert!(stderr.contains(&name), "{stderr}");
    }
}
