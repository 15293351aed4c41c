//! Telnyx over real HTTP: ed25519-signed v2 events on both routes.

use ed25519_dalek::SigningKey;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use smstrail::providers::telnyx;
use smstrail::store::ReviewKind;

use crate::helpers::*;

/// The RFC 8032 §7.1 TEST 1 key pair (providers.md §3.5).
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
const PUBLIC_KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("SMSTRAIL_TELNYX_PUBLIC_KEY", PUBLIC_KEY)]).await
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&SEED)
}

/// The event Telnyx sends when message `message_id`'s one recipient reaches
/// `status`, `second` seconds after 2026-11-26T10:00:00Z: `message.sent` for
/// the steps before hand-off, `message.finalized` after.
fn outbound(message_id: &str, status: &str, second: u32) -> Value {
    let event_type = match status {
        "queued" | "sending" | "sent" => "message.sent",
        _ => "message.finalized",
    };
    json!({"data": {"record_type": "event", "event_type": event_type,
        "id": format!("evt-{message_id}-{status}"),
        "occurred_at": format!("2026-11-26T10:00:{second:02}.000+00:00"),
        "payload": {"record_type": "message", "id": message_id, "direction": "outbound",
            "from": {"phone_number": "+13125550100"},
            "to": [{"phone_number": "+14155550100", "status": status}],
            "text": "Your code is 123456", "errors": []}},
        "meta": {"attempt": 1, "delivered_to": format!("{PUBLIC_URL}/webhooks/telnyx/status")}})
}

fn received(event_id: &str, message_id: &str, from: &str, text: &str) -> Value {
    json!({"data": {"record_type": "event", "event_type": "message.received", "id": event_id,
        "occurred_at": "2026-11-26T10:05:00.000+00:00",
        "payload": {"record_type": "message", "id": message_id, "direction": "inbound",
            "from": {"phone_number": from, "status": "received"},
            "to": [{"phone_number": "+13125550100", "status": "webhook_delivered"}],
            "text": text, "media": [], "errors": []}},
        "meta": {"attempt": 1}})
}

/// Posts `body` to `route` with the given Telnyx headers.
async fn post(
    app: &TestApp,
    route: &str,
    timestamp: &str,
    signature: &str,
    body: &str,
) -> Response {
    app.client
        .post(app.url(&format!("/webhooks/telnyx/{route}")))
        .header("content-type", "application/json")
        .header("telnyx-timestamp", timestamp)
        .header("telnyx-signature-ed25519", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

/// Posts `body` to `route`, signed now as Telnyx would sign it.
async fn send(app: &TestApp, route: &str, body: &Value) -> Response {
    let body = body.to_string();
    let now = now_unix();
    let signature = telnyx::sign(&key(), now, body.as_bytes());
    post(app, route, &now.to_string(), &signature, &body).await
}

#[tokio::test]
async fn sent_then_finalized_builds_the_timeline_and_summary() {
    let app = spawn().await;
    let id = app.register_on("telnyx", "tx-happy").await;
    let sent = outbound("tx-happy", "sent", 1);
    let finalized = outbound("tx-happy", "delivered", 4);
    for body in [&sent, &finalized] {
        assert_eq!(send(&app, "status", body).await.status(), StatusCode::OK);
    }
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["is_final"], true);
    assert_eq!(raw_statuses(&message), ["sent", "delivered"]);
    assert_eq!(
        message["events"][1]["provider_occurred_at"],
        "2026-11-26T10:00:04.000000Z"
    );
}

#[tokio::test]
async fn a_failed_delivery_keeps_its_error_code() {
    let app = spawn().await;
    let id = app.register_on("telnyx", "tx-failed").await;
    let mut body = outbound("tx-failed", "delivery_failed", 4);
    body["data"]["payload"]["errors"] = json!([{"code": "40008", "title": "Undeliverable"}]);
    assert_eq!(send(&app, "status", &body).await.status(), StatusCode::OK);
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "undelivered");
    assert_eq!(message["current_error_code"], "40008");
    assert_eq!(message["events"][0]["error_code"], "40008");
}

#[tokio::test]
async fn forged_stale_and_missing_signatures_are_401_and_write_nothing() {
    let app = spawn().await;
    app.register_on("telnyx", "tx-forged").await;
    let body = outbound("tx-forged", "delivered", 4).to_string();
    let now = now_unix();
    let other_key = SigningKey::from_bytes(&[7; 32]);
    let tampered = body.replace("delivered", "delivery_failed");
    let good = telnyx::sign(&key(), now, body.as_bytes());
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "other key",
            now.to_string(),
            telnyx::sign(&other_key, now, body.as_bytes()),
            body.as_str(),
        ),
        (
            "tampered body",
            now.to_string(),
            good.clone(),
            tampered.as_str(),
        ),
        (
            "other timestamp",
            (now + 1).to_string(),
            good.clone(),
            body.as_str(),
        ),
        (
            "zero signature",
            now.to_string(),
            "A".repeat(86) + "==",
            body.as_str(),
        ),
        (
            "not base64",
            now.to_string(),
            "!!".to_owned(),
            body.as_str(),
        ),
        (
            "stale",
            (now - 310).to_string(),
            telnyx::sign(&key(), now - 310, body.as_bytes()),
            body.as_str(),
        ),
        (
            "future",
            (now + 310).to_string(),
            telnyx::sign(&key(), now + 310, body.as_bytes()),
            body.as_str(),
        ),
    ];
    // The exact 300 s boundary is unit-tested; here ±310 s leaves the clock
    // room to tick between signing and checking.
    let refused = cases.len() + 2;
    for (case, timestamp, signature, body) in cases {
        let response = post(&app, "status", &timestamp, &signature, body).await;
        assert_unauthorized(response, case).await;
    }
    let no_signature = app
        .client
        .post(app.url("/webhooks/telnyx/status"))
        .header("telnyx-timestamp", now.to_string())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(no_signature.status(), StatusCode::UNAUTHORIZED);
    let no_timestamp = app
        .client
        .post(app.url("/webhooks/telnyx/inbound"))
        .header("telnyx-signature-ed25519", good)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_timestamp.status(), StatusCode::UNAUTHORIZED);

    app.assert_nothing_stored().await;
    app.assert_callbacks("telnyx", "rejected_signature", refused)
        .await;
}

/// The signature covers the timestamp and the body, not the URL: a replay
/// inside the window, a Telnyx retry (new timestamp, same event) and the
/// same event on the other route are all the one event, deduplicated on
/// `data.id`. Outside the window a replay is refused (see the test above).
#[tokio::test]
async fn replays_retries_and_the_other_route_are_stored_once() {
    let app = spawn().await;
    let id = app.register_on("telnyx", "tx-replay").await;
    let body = outbound("tx-replay", "delivered", 4).to_string();
    let first = now_unix() - 60;
    let signature = telnyx::sign(&key(), first, body.as_bytes());
    for _ in 0..3 {
        let response = post(&app, "status", &first.to_string(), &signature, &body).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let retry = now_unix();
    let retry_signature = telnyx::sign(&key(), retry, body.as_bytes());
    for route in ["status", "inbound"] {
        let response = post(&app, route, &retry.to_string(), &retry_signature, &body).await;
        assert_eq!(response.status(), StatusCode::OK, "{route}");
    }
    assert_eq!(app.event_count(&id).await, 1);
    assert_eq!(app.db.count("message_events").await, 1);
    app.assert_callbacks("telnyx", "duplicate", 4).await;
}

#[tokio::test]
async fn out_of_order_events_keep_the_final_status() {
    let app = spawn().await;
    let id = app.register_on("telnyx", "tx-late").await;
    let finalized = outbound("tx-late", "delivered", 5);
    let sent = outbound("tx-late", "sent", 1);
    let queued = outbound("tx-late", "queued", 0);
    for body in [&finalized, &sent, &queued] {
        assert_eq!(send(&app, "status", body).await.status(), StatusCode::OK);
    }
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(
        raw_statuses(&message),
        ["queued", "sent", "delivered"],
        "provider time order"
    );
}

#[tokio::test]
async fn unknown_and_disagreeing_statuses_go_to_review_and_leave_the_summary() {
    let app = spawn().await;
    let id = app.register_on("telnyx", "tx-odd").await;
    let sent = outbound("tx-odd", "sent", 1);
    let odd = outbound("tx-odd", "teleported", 2);
    let mut mixed = outbound("tx-odd", "delivered", 3);
    mixed["data"]["payload"]["to"] = json!([
        {"phone_number": "+14155550100", "status": "delivered"},
        {"phone_number": "+14155550101", "status": "delivery_failed"}]);
    for body in [&sent, &odd, &mixed] {
        assert_eq!(send(&app, "status", body).await.status(), StatusCode::OK);
    }
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "sent");
    assert_eq!(message["events"].as_array().unwrap().len(), 3);
    let review = app.state.store.review_items(10).await.unwrap();
    assert_eq!(review.len(), 2, "{review:?}");
    assert!(review.iter().all(|r| r.kind == ReviewKind::UnknownStatus));

    // An authentic event of another kind is kept for review, not refused.
    let mut other = outbound("tx-odd", "sent", 4);
    other["data"]["event_type"] = json!("number_order.complete");
    other["data"]["id"] = json!("evt-number-order");
    assert_eq!(send(&app, "status", &other).await.status(), StatusCode::OK);
    let review = app.state.store.review_items(10).await.unwrap();
    assert!(review.iter().any(|r| r.kind == ReviewKind::Unreadable));
}

#[tokio::test]
async fn inbound_stop_sets_the_opt_out_and_never_touches_a_delivery_summary() {
    let app = spawn().await;
    let id = app.register_on("telnyx", "tx-before-stop").await;
    let delivered = outbound("tx-before-stop", "delivered", 4);
    send(&app, "status", &delivered).await;

    let stop = received("evt-in-1", "tx-in-1", "+14155550100", "Stop");
    let response = send(&app, "inbound", &stop).await;
    assert_eq!(response.status(), StatusCode::OK);
    // A messaging profile sends inbound to the same URL as status: accepted
    // on either route, and still the one event.
    assert_eq!(send(&app, "status", &stop).await.status(), StatusCode::OK);

    let inbound = app.state.store.inbound_messages(10).await.unwrap();
    assert_eq!(inbound.len(), 1);
    // A stop keyword under the number's hash is the opt-out: the number page
    // replays exactly these rows into the number's opt-out state.
    assert_eq!(inbound[0].keyword.as_deref(), Some("stop"));
    assert_eq!(inbound[0].sender_masked, "+1 •••• ••0100");
    assert_eq!(
        inbound[0].sender_hash,
        app.state.cipher.phone_hash("+14155550100")
    );
    assert_eq!(inbound[0].recipient_identity, "+13125550100");
    assert_eq!(
        app.state.cipher.open(&inbound[0].body_sealed).unwrap(),
        b"Stop"
    );

    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["events"].as_array().unwrap().len(), 1);
    assert_eq!(app.db.count("message_events").await, 1);
}
