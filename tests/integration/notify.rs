//! Telling the product (issue 9 item 6): Standard Webhooks–signed
//! `message.final` / `message.timeout` events from a transactional outbox,
//! received here by a small axum server on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use smstrail::notify::{Notifier, NotifyOptions};
use smstrail::reconcile::{CHUNK, run_pass};

use crate::helpers::*;

const NOTIFY_SECRET: &str = "whsec_c21zdHJhaWwtbm90aWZ5LXRlc3Qtc2VjcmV0LWtleQ==";

#[derive(Default)]
struct Received {
    /// Answer 500 to this many requests first.
    fail_first: usize,
    seen: usize,
    /// Accepted events: (webhook-id, body).
    events: Vec<(String, Value)>,
    bad_signatures: usize,
}

type Shared = Arc<Mutex<Received>>;

fn key() -> Vec<u8> {
    BASE64
        .decode(NOTIFY_SECRET.trim_start_matches("whsec_"))
        .expect("key")
}

/// Checks the signature exactly as a Standard Webhooks consumer does.
fn signature_ok(headers: &HeaderMap, body: &[u8]) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(ts), Some(signatures)) = (
        get("webhook-id"),
        get("webhook-timestamp"),
        get("webhook-signature"),
    ) else {
        return false;
    };
    let Ok(ts_num) = ts.parse::<i64>() else {
        return false;
    };
    if (now_unix() - ts_num).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key()).expect("hmac");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    signatures.split(' ').any(|s| s == expected)
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let mut r = shared.lock().expect("lock");
    r.seen += 1;
    if !signature_ok(&headers, &body) {
        r.bad_signatures += 1;
        return AxumStatus::UNAUTHORIZED;
    }
    if r.fail_first > 0 {
        r.fail_first -= 1;
        return AxumStatus::INTERNAL_SERVER_ERROR;
    }
    let id = headers["webhook-id"].to_str().expect("id").to_owned();
    r.events
        .push((id, serde_json::from_slice(&body).expect("json body")));
    AxumStatus::NO_CONTENT
}

/// The receiver's URL and what it saw.
async fn receiver(fail_first: usize) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Received {
        fail_first,
        ..Received::default()
    }));
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hooks"), shared)
}

async fn notifying_app(url: &str, extra: &[(&str, &str)]) -> (TestApp, Notifier) {
    let mut settings = vec![
        ("SMSTRAIL_NOTIFY_URL", url),
        ("SMSTRAIL_NOTIFY_SECRET", NOTIFY_SECRET),
    ];
    settings.extend_from_slice(extra);
    let app = TestApp::spawn_with(&settings).await;
    let notifier = Notifier::new(
        app.state.store.clone(),
        url.to_owned(),
        key(),
        NotifyOptions {
            // Retries are due at once, so rounds are deterministic.
            backoff_base: Duration::ZERO,
            ..NotifyOptions::default()
        },
    );
    (app, notifier)
}

fn events(shared: &Shared) -> Vec<(String, Value)> {
    shared.lock().expect("lock").events.clone()
}

#[tokio::test]
async fn a_final_status_is_sent_signed_once_and_shown_on_the_message_page() {
    let (url, shared) = receiver(0).await;
    let (app, notifier) = notifying_app(&url, &[]).await;
    let response = app
        .register(&json!({
            "idempotency_key": "notify-1",
            "to": "+14155550100",
            "provider": "twilio",
            "provider_message_id": "SM-notify-1",
            "use_case": "otp",
            "user_ref": "user-42",
            "product_action": {"kind": "login", "ref": "login-7", "url": "https://example.com/l/7"},
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // Not final yet: nothing to tell.
    assert_eq!(
        app.twilio_status("SM-notify-1", "sent").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.db.count("notify_outbox").await, 0);

    assert_eq!(
        app.twilio_status("SM-notify-1", "delivered").await.status(),
        StatusCode::OK
    );
    // A duplicate callback changes nothing and sends nothing more.
    assert_eq!(
        app.twilio_status("SM-notify-1", "delivered").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.db.count("notify_outbox").await, 1);

    assert_eq!(notifier.round().await.expect("round"), 1);
    assert_eq!(notifier.round().await.expect("round"), 0);
    let got = events(&shared);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(shared.lock().expect("lock").bad_signatures, 0);
    let body = &got[0].1;
    assert_eq!(body["type"], "message.final");
    assert_eq!(body["data"]["id"], id.as_str());
    assert_eq!(body["data"]["provider"], "twilio");
    assert_eq!(body["data"]["provider_message_id"], "SM-notify-1");
    assert_eq!(body["data"]["status"], "delivered");
    assert_eq!(body["data"]["use_case"], "otp");
    assert_eq!(body["data"]["user_ref"], "user-42");
    assert_eq!(body["data"]["product_action"]["ref"], "login-7");
    assert!(body["data"]["occurred_at"].is_string());
    assert!(body["data"].get("error_code").is_some());

    let state = app
        .state
        .store
        .notify_state(&id)
        .await
        .expect("state")
        .expect("row");
    assert!(state.sent_at_us.is_some());
    let (client, _) = app.logged_in("notify-agent@example.com", "support").await;
    let page = client.get(&format!("/messages/{id}")).await;
    assert!(page.body.contains("Product notified at"), "{}", page.body);
}

#[tokio::test]
async fn a_refused_attempt_is_retried_and_the_error_shown_meanwhile() {
    let (url, shared) = receiver(1).await;
    let (app, notifier) = notifying_app(&url, &[]).await;
    let id = app.register_twilio("SM-notify-retry").await;
    assert_eq!(
        app.twilio_status("SM-notify-retry", "undelivered")
            .await
            .status(),
        StatusCode::OK
    );

    assert_eq!(notifier.round().await.expect("round"), 1);
    assert!(events(&shared).is_empty());
    let state = app
        .state
        .store
        .notify_state(&id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.sent_at_us, None);
    assert_eq!(state.attempts, 1);
    assert!(
        state.last_error.as_deref().unwrap_or("").contains("500"),
        "{state:?}"
    );
    let (client, _) = app.logged_in("notify-retry@example.com", "support").await;
    let page = client.get(&format!("/messages/{id}")).await;
    assert!(
        page.body.contains("Product not notified yet"),
        "{}",
        page.body
    );

    assert_eq!(notifier.round().await.expect("round"), 1);
    let got = events(&shared);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1["data"]["status"], "undelivered");
    assert_eq!(shared.lock().expect("lock").seen, 2);
    let state = app
        .state
        .store
        .notify_state(&id)
        .await
        .expect("state")
        .expect("row");
    assert!(state.sent_at_us.is_some());
    assert_eq!(state.last_error, None);
    assert_eq!(notifier.round().await.expect("round"), 0);
}

#[tokio::test]
async fn events_of_one_message_leave_in_order() {
    let (url, shared) = receiver(1).await;
    let (app, notifier) = notifying_app(&url, &[]).await;
    app.register_twilio("SM-notify-order").await;
    let delivered = signed_status_at(&app, "SM-notify-order", "delivered", "2401010001").await;
    assert_eq!(delivered.status(), StatusCode::OK);
    let failed = signed_status_at(&app, "SM-notify-order", "failed", "2401010005").await;
    assert_eq!(failed.status(), StatusCode::OK);
    assert_eq!(app.db.count("notify_outbox").await, 2);

    // The first is refused: the second must wait for it.
    assert_eq!(notifier.round().await.expect("round"), 1);
    assert!(events(&shared).is_empty());
    notifier.round().await.expect("round");
    notifier.round().await.expect("round");
    let statuses: Vec<Value> = events(&shared)
        .iter()
        .map(|(_, body)| body["data"]["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("delivered"), json!("failed")]);
}

/// A Twilio callback carrying a provider time, so two finals are ordered.
async fn signed_status_at(app: &TestApp, sid: &str, status: &str, at: &str) -> reqwest::Response {
    let mut params = twilio_status_params(sid, status);
    params.push(("RawDlrDoneDate", at));
    app.twilio("status", &params).await
}

#[tokio::test]
async fn a_rolled_back_batch_sends_nothing() {
    let (url, shared) = receiver(0).await;
    let (app, notifier) = notifying_app(&url, &[]).await;
    let id = app.register_twilio("SM-notify-refused").await;
    let (refuse, allow) = if app.db.is_postgres() {
        (
            "CREATE FUNCTION refuse_notify() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$; \
             CREATE TRIGGER refuse_updates BEFORE UPDATE ON messages FOR EACH ROW \
             EXECUTE FUNCTION refuse_notify();",
            "DROP TRIGGER refuse_updates ON messages",
        )
    } else {
        (
            "CREATE TRIGGER refuse_updates BEFORE UPDATE ON messages \
             BEGIN SELECT RAISE(ABORT, 'refused by test'); END;",
            "DROP TRIGGER refuse_updates",
        )
    };
    app.db.execute(refuse).await;
    assert_eq!(
        app.twilio_status("SM-notify-refused", "delivered")
            .await
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.db.count("notify_outbox").await, 0);
    assert_eq!(notifier.round().await.expect("round"), 0);
    assert!(events(&shared).is_empty());

    app.db.execute(allow).await;
    assert_eq!(
        app.twilio_status("SM-notify-refused", "delivered")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(notifier.round().await.expect("round"), 1);
    let got = events(&shared);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1["data"]["id"], id.as_str());
}

#[tokio::test]
async fn a_timeout_sends_message_timeout() {
    let (url, shared) = receiver(0).await;
    let (app, notifier) =
        notifying_app(&url, &[("SMSTRAIL_FINAL_WINDOWS", "otp=10m,default=1h")]).await;
    let response = app
        .register(&json!({
            "idempotency_key": "notify-timeout",
            "to": "+14155550100",
            "provider": "twilio",
            "provider_message_id": "SM-notify-timeout",
            "use_case": "otp",
            "sent_at": "2024-03-01T12:00:00Z",
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let now = chrono::DateTime::parse_from_rfc3339("2024-03-01T12:11:00Z")
        .expect("instant")
        .timestamp_micros();
    let pass = run_pass(&app.state.writes, &app.state.cipher, now, CHUNK)
        .await
        .expect("pass");
    assert_eq!(pass.timed_out, 1);
    assert_eq!(notifier.round().await.expect("round"), 1);
    let got = events(&shared);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1["type"], "message.timeout");
    assert_eq!(got[0].1["data"]["id"], id.as_str());
    assert_eq!(got[0].1["data"]["status"], "unknown");
    // Another pass writes nothing new.
    run_pass(
        &app.state.writes,
        &app.state.cipher,
        now + 60_000_000,
        CHUNK,
    )
    .await
    .expect("pass");
    assert_eq!(notifier.round().await.expect("round"), 0);
}

#[tokio::test]
async fn without_a_notify_url_no_outbox_rows_are_written() {
    let app = TestApp::spawn().await;
    app.register_twilio("SM-notify-off").await;
    assert_eq!(
        app.twilio_status("SM-notify-off", "delivered")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.db.count("notify_outbox").await, 0);
}

/// Two instances' senders draining one outbox at once: every event leaves
/// exactly once (their claims never overlap while the lease runs).
#[tokio::test]
async fn two_instances_send_each_event_once() {
    let (url, shared) = receiver(0).await;
    let (app, _) = notifying_app(&url, &[]).await;
    let messages = 40;
    for n in 0..messages {
        let sid = format!("SM-two-{n}");
        app.register_twilio(&sid).await;
        assert_eq!(
            app.twilio_status(&sid, "delivered").await.status(),
            StatusCode::OK
        );
    }
    let config = smstrail::config::Config::from_sources(None, test_env(&app.db)).expect("config");
    let other = smstrail::AppState::build(config)
        .await
        .expect("second instance");
    let options = NotifyOptions {
        backoff_base: Duration::ZERO,
        // Small rounds, so the two senders interleave many claims.
        batch: 3,
        ..NotifyOptions::default()
    };
    let first = Notifier::new(app.state.store.clone(), url.clone(), key(), options.clone());
    let second = Notifier::new(other.store.clone(), url, key(), options);
    let drain = |notifier: Notifier| async move {
        let mut claimed = 0;
        loop {
            let n = notifier.round().await.expect("round");
            if n == 0 {
                return claimed;
            }
            claimed += n;
        }
    };
    let (a, b) = tokio::join!(drain(first), drain(second));
    assert_eq!(a + b, messages, "every row claimed once in all");
    let received = events(&shared);
    let mut ids: Vec<String> = received
        .iter()
        .map(|(_, body)| body["data"]["provider_message_id"].to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(received.len(), messages, "no event sent twice");
    assert_eq!(ids.len(), messages, "every message told");
}
