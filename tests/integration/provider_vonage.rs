//! Vonage over real HTTP: SMS API receipts and inbound messages signed with
//! `sig` (GET, form, JSON), Messages API webhooks signed with a bearer JWT.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use smstrail::config::VonageSignatureMethod;
use smstrail::providers::vonage;
use smstrail::store::ReviewKind;

use crate::helpers::*;

const SECRET: &str = "vonage-integration-secret";
const STATUS: &str = "/webhooks/vonage/status";
const INBOUND: &str = "/webhooks/vonage/inbound";
const RECIPIENT: &str = "+447700900000";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[
        ("SMSTRAIL_VONAGE_SIGNATURE_SECRET", SECRET),
        ("SMSTRAIL_VONAGE_SIGNATURE_METHOD", "sha256"),
    ])
    .await
}

/// `params` plus a `timestamp` of `signed_at` and the `sig` Vonage would add.
fn signed(params: &[(&str, &str)], signed_at: i64) -> Vec<(String, String)> {
    let mut params = owned(params);
    params.push(("timestamp".to_owned(), signed_at.to_string()));
    let sig = vonage::sign(SECRET, VonageSignatureMethod::Sha256, &params);
    params.push(("sig".to_owned(), sig));
    params
}

fn receipt<'a>(message_id: &'a str, status: &'a str, scts: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("msisdn", "447700900000"),
        ("to", "AcmeInc"),
        ("network-code", "23410"),
        ("messageId", message_id),
        ("price", "0.03330000"),
        ("status", status),
        ("scts", scts),
        ("err-code", if status == "delivered" { "0" } else { "6" }),
        ("api-key", "a1b2c3d4"),
        ("message-timestamp", "2024-06-13 11:02:41"),
        ("nonce", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Carrier {
    Get,
    Form,
    Json,
}

impl TestApp {
    async fn vonage_sms(
        &self,
        path: &str,
        carrier: Carrier,
        params: &[(String, String)],
    ) -> Response {
        let request = match carrier {
            Carrier::Get => self.client.get(self.url(path)).query(params),
            Carrier::Form => self.client.post(self.url(path)).form(params),
            Carrier::Json => {
                let object: serde_json::Map<String, Value> = params
                    .iter()
                    .map(|(n, v)| (n.clone(), Value::String(v.clone())))
                    .collect();
                self.client.post(self.url(path)).json(&object)
            }
        };
        request.send().await.expect("request")
    }

    async fn vonage_messages(&self, path: &str, body: &Value, issued_at: i64) -> Response {
        let body = body.to_string();
        let token = vonage::sign_jwt(SECRET, body.as_bytes(), issued_at);
        self.vonage_bearer(path, &body, &token).await
    }

    async fn vonage_bearer(&self, path: &str, body: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .bearer_auth(token)
            .body(body.to_owned())
            .send()
            .await
            .expect("request")
    }

    async fn register_vonage(&self, provider_message_id: &str) -> String {
        let response = self
            .register(&json!({
                "idempotency_key": format!("key-{provider_message_id}"),
                "to": RECIPIENT,
                "provider": "vonage",
                "provider_message_id": provider_message_id,
            }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_owned()
    }
}

#[tokio::test]
async fn sms_api_receipts_by_get_form_and_json_are_stored_and_update_the_summary() {
    let app = spawn().await;
    for (n, carrier) in [Carrier::Get, Carrier::Form, Carrier::Json]
        .into_iter()
        .enumerate()
    {
        let message_id = format!("0B0000000000000{n}");
        let id = app.register_vonage(&message_id).await;
        let accepted = signed(&receipt(&message_id, "accepted", "2406131101"), now_unix());
        let response = app.vonage_sms(STATUS, carrier, &accepted).await;
        assert_eq!(response.status(), StatusCode::OK, "{carrier:?}");
        assert_eq!(response.text().await.unwrap(), "", "Vonage needs no body");
        let delivered = signed(&receipt(&message_id, "delivered", "2406131102"), now_unix());
        assert_eq!(
            app.vonage_sms(STATUS, carrier, &delivered).await.status(),
            StatusCode::OK
        );

        let message = app.message(&id).await;
        assert_eq!(
            message["current_status"], "delivered",
            "{carrier:?} {message}"
        );
        let events = message["events"].as_array().unwrap();
        assert_eq!(events.len(), 2, "{carrier:?}");
        assert_eq!(events[0]["raw_status"], "accepted");
        assert_eq!(events[0]["status"], "sent");
        assert_eq!(events[0]["error_code"], "6");
        assert_eq!(events[1]["raw_status"], "delivered");
        assert!(events[1]["error_code"].is_null(), "err-code 0 is no error");
        assert_eq!(
            events[1]["provider_occurred_at"],
            "2024-06-13T11:02:00.000000Z"
        );
    }
}

#[tokio::test]
async fn messages_api_jwt_callbacks_are_stored() {
    let app = spawn().await;
    let uuid = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
    let id = app.register_vonage(uuid).await;
    let submitted = json!({"message_uuid": uuid, "to": "447700900000", "from": "AcmeInc",
        "timestamp": "2024-06-13T11:00:00.000Z", "status": "submitted", "channel": "sms"});
    let rejected = json!({"message_uuid": uuid, "to": "447700900000", "from": "AcmeInc",
        "timestamp": "2024-06-13T11:02:41.000Z", "status": "rejected", "channel": "sms",
        "error": {"type": "https://developer.vonage.com/api-errors/messages#1360", "title": 1360,
                  "detail": "TTL was activated", "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"}});
    for body in [&submitted, &rejected] {
        let response = app.vonage_messages(STATUS, body, now_unix()).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "expired", "{message}");
    assert_eq!(message["current_error_code"], "1360");
    let events = message["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["status"], "sent");
    assert_eq!(events[1]["raw_status"], "rejected");
    assert_eq!(
        events[1]["provider_occurred_at"],
        "2024-06-13T11:02:41.000000Z"
    );
}

#[tokio::test]
async fn forged_stale_replayed_and_retargeted_requests_are_401_and_write_nothing() {
    let app = spawn().await;
    let id = app.register_vonage("0B-forged").await;
    let now = now_unix();
    let fields = receipt("0B-forged", "delivered", "2406131102");

    let mut forged = owned(&fields);
    forged.push(("timestamp".to_owned(), now.to_string()));
    let sig = vonage::sign("not-the-secret", VonageSignatureMethod::Sha256, &forged);
    forged.push(("sig".to_owned(), sig));

    let stale = signed(&fields, now - 360);
    let future = signed(&fields, now + 360);

    // A captured request, its timestamp refreshed by hand: the old sig no longer fits.
    let mut replayed = signed(&fields, now - 3600);
    for pair in replayed.iter_mut().filter(|(n, _)| n == "timestamp") {
        pair.1 = now.to_string();
    }

    // Signed for another message's receipt, the sig moved onto this one.
    let other = signed(&receipt("0B-other", "delivered", "2406131102"), now);
    let mut retargeted = owned(&fields);
    retargeted.push(("timestamp".to_owned(), now.to_string()));
    retargeted.push(other.last().unwrap().clone());

    // Signed, then a parameter changed or added.
    let mut changed = signed(&fields, now);
    for pair in changed.iter_mut().filter(|(n, _)| n == "status") {
        pair.1 = "failed".to_owned();
    }
    let mut added = signed(&fields, now);
    added.insert(0, ("client-ref".to_owned(), "x".to_owned()));

    // Authentic but without a timestamp: replayable forever.
    let mut untimed = owned(&fields);
    let sig = vonage::sign(SECRET, VonageSignatureMethod::Sha256, &untimed);
    untimed.push(("sig".to_owned(), sig));

    let unsigned = owned(&fields);

    for (case, params) in [
        ("forged", &forged),
        ("stale", &stale),
        ("future", &future),
        ("replayed", &replayed),
        ("retargeted", &retargeted),
        ("changed", &changed),
        ("added", &added),
        ("untimed", &untimed),
        ("unsigned", &unsigned),
    ] {
        for carrier in [Carrier::Get, Carrier::Form, Carrier::Json] {
            let response = app.vonage_sms(STATUS, carrier, params).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{case} {carrier:?}"
            );
        }
    }

    // Messages API: another secret, a stale token, a body swapped under a
    // token, a token signed for another body.
    let body = json!({"message_uuid": "0B-forged", "status": "delivered",
        "timestamp": "2024-06-13T11:02:41.000Z"});
    let text = body.to_string();
    let swapped = json!({"message_uuid": "0B-forged", "status": "rejected"}).to_string();
    let other_body = json!({"message_uuid": "0B-other", "status": "delivered"}).to_string();
    for (case, sent, token) in [
        (
            "other secret",
            text.clone(),
            vonage::sign_jwt("not-the-secret", text.as_bytes(), now),
        ),
        (
            "stale",
            text.clone(),
            vonage::sign_jwt(SECRET, text.as_bytes(), now - 360),
        ),
        (
            "swapped body",
            swapped.clone(),
            vonage::sign_jwt(SECRET, text.as_bytes(), now),
        ),
        (
            "other body",
            text.clone(),
            vonage::sign_jwt(SECRET, other_body.as_bytes(), now),
        ),
        ("garbage", text.clone(), "not.a.jwt".to_owned()),
    ] {
        let response = app.vonage_bearer(STATUS, &sent, &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    }

    assert_eq!(app.db.count("message_events").await, 0);
    assert_eq!(app.db.count("review_items").await, 0);
    assert_eq!(app.db.count("unmatched_callbacks").await, 0);
    assert_eq!(app.db.count("inbound_messages").await, 0);
    assert_eq!(app.status_of(&id).await, "accepted");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"smstrail_callbacks_total{provider="vonage",outcome="rejected_signature"} 32"#
        ),
        "{metrics}"
    );
}

/// Neither Vonage scheme signs the URL: an authentic inbound message posted
/// to the status route cannot be refused as forged, but it never becomes a
/// delivery event; it waits in review as the misdirected payload it is.
#[tokio::test]
async fn a_payload_posted_to_the_other_route_goes_to_review_not_to_a_timeline() {
    let app = spawn().await;
    let inbound = signed(
        &[
            ("msisdn", "447700900000"),
            ("to", "447700900001"),
            ("messageId", "0A-x"),
            ("text", "hello"),
            ("type", "text"),
        ],
        now_unix(),
    );
    assert_eq!(
        app.vonage_sms(STATUS, Carrier::Form, &inbound)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.db.count("message_events").await, 0);
    assert_eq!(app.db.count("inbound_messages").await, 0);
    let review = app.state.store.review_items(10).await.unwrap();
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].kind, ReviewKind::Unreadable);
}

#[tokio::test]
async fn duplicates_are_answered_2xx_and_stored_once() {
    let app = spawn().await;
    let id = app.register_vonage("0B-dup").await;
    let params = signed(&receipt("0B-dup", "delivered", "2406131102"), now_unix());
    for carrier in [Carrier::Form, Carrier::Form, Carrier::Get, Carrier::Json] {
        assert_eq!(
            app.vonage_sms(STATUS, carrier, &params).await.status(),
            StatusCode::OK
        );
    }
    // Vonage re-signs a retry with a new timestamp and nonce: the same receipt still.
    let mut retry = receipt("0B-dup", "delivered", "2406131102");
    retry.retain(|(n, _)| *n != "nonce");
    retry.push(("nonce", "11111111-2222-3333-4444-555555555555"));
    let retry = signed(&retry, now_unix() + 5);
    assert_eq!(
        app.vonage_sms(STATUS, Carrier::Form, &retry).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.event_count(&id).await, 1);

    let uuid = "cccccccc-bbbb-cccc-dddd-0123456789ab";
    let id = app.register_vonage(uuid).await;
    let body = json!({"message_uuid": uuid, "status": "delivered", "timestamp": "2024-06-13T11:02:41.000Z"});
    for issued_at in [now_unix(), now_unix() + 1, now_unix() + 2] {
        assert_eq!(
            app.vonage_messages(STATUS, &body, issued_at).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.event_count(&id).await, 1);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"smstrail_callbacks_total{provider="vonage",outcome="duplicate"} 6"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_late_accepted_after_delivered_keeps_delivered() {
    let app = spawn().await;
    let id = app.register_vonage("0B-late").await;
    let delivered = signed(&receipt("0B-late", "delivered", "2406131105"), now_unix());
    let accepted = signed(&receipt("0B-late", "accepted", "2406131100"), now_unix());
    app.vonage_sms(STATUS, Carrier::Form, &delivered).await;
    app.vonage_sms(STATUS, Carrier::Get, &accepted).await;
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    let events = message["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["raw_status"], "accepted",
        "timeline in provider time"
    );
}

#[tokio::test]
async fn an_unknown_status_is_kept_for_review_and_leaves_the_summary() {
    let app = spawn().await;
    let id = app.register_vonage("0B-odd").await;
    app.vonage_sms(
        STATUS,
        Carrier::Form,
        &signed(&receipt("0B-odd", "buffered", "2406131101"), now_unix()),
    )
    .await;
    let odd = signed(&receipt("0B-odd", "teleported", "2406131102"), now_unix());
    assert_eq!(
        app.vonage_sms(STATUS, Carrier::Form, &odd).await.status(),
        StatusCode::OK
    );
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "sent");
    let events = message["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .any(|e| e["raw_status"] == "teleported" && e["status"].is_null())
    );
    let review = app.state.store.review_items(10).await.unwrap();
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].kind, ReviewKind::UnknownStatus);
}

#[tokio::test]
async fn an_inbound_stop_is_an_opt_out_of_the_e164_number_and_no_delivery_event() {
    let app = spawn().await;
    let id = app.register_vonage("0B-before-stop").await;
    let sms_api = signed(
        &[
            ("api-key", "a1b2c3d4"),
            ("msisdn", "447700900000"),
            ("to", "447700900001"),
            ("messageId", "0A00000000000001"),
            ("text", "STOP"),
            ("type", "text"),
            ("keyword", "STOP"),
            ("message-timestamp", "2024-06-13 11:02:41"),
        ],
        now_unix(),
    );
    for _ in 0..2 {
        assert_eq!(
            app.vonage_sms(INBOUND, Carrier::Get, &sms_api)
                .await
                .status(),
            StatusCode::OK
        );
    }
    let messages_api = json!({"channel": "sms", "message_uuid": "dddddddd-0000-0000-0000-000000000001",
        "from": "447700900000", "to": "447700900001", "timestamp": "2024-06-13T12:00:00Z",
        "message_type": "text", "text": "start"});
    assert_eq!(
        app.vonage_messages(INBOUND, &messages_api, now_unix())
            .await
            .status(),
        StatusCode::OK
    );

    let hash = app.state.cipher.phone_hash(RECIPIENT);
    let inbound = app.state.store.inbound_from(&hash, 10).await.unwrap();
    assert_eq!(
        inbound.len(),
        2,
        "the repeat is stored once; found by the E.164 number's hash"
    );
    assert_eq!(inbound[1].keyword.as_deref(), Some("stop"));
    assert_eq!(inbound[0].keyword.as_deref(), Some("start"));
    assert_eq!(inbound[1].sender_masked, "+44 •••• ••0000");
    assert_eq!(inbound[1].recipient_identity, "+447700900001");
    assert_eq!(
        app.state.cipher.open(&inbound[1].body_sealed).unwrap(),
        b"STOP"
    );
    assert_eq!(
        app.db.count("message_events").await,
        0,
        "never a delivery event"
    );
    assert_eq!(app.status_of(&id).await, "accepted");
    assert_eq!(app.event_count(&id).await, 0);
}

#[tokio::test]
async fn a_multipart_inbound_message_is_shown_as_one() {
    let app = spawn().await;
    let id = app.register_vonage("0B-before-reply").await;
    let text = [
        "Hello, this is the first part of a long reply ",
        "and this the second, ",
        "and the end.",
    ];
    let part = |n: usize, message_id: &'static str| {
        let number = (n + 1).to_string();
        signed(
            &[
                ("msisdn", "447700900000"),
                ("to", "447700900001"),
                ("messageId", message_id),
                ("text", text[n]),
                ("type", "text"),
                ("concat", "true"),
                ("concat-ref", "77"),
                ("concat-total", "3"),
                ("concat-part", &number),
                ("message-timestamp", "2024-06-13 11:02:41"),
            ],
            now_unix(),
        )
    };
    // Out of order, one repeated, each carried differently.
    for (params, carrier) in [
        (part(2, "0A-part-3"), Carrier::Json),
        (part(0, "0A-part-1"), Carrier::Get),
        (part(0, "0A-part-1"), Carrier::Form),
        (part(1, "0A-part-2"), Carrier::Form),
    ] {
        assert_eq!(
            app.vonage_sms(INBOUND, carrier, &params).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.db.count("inbound_messages").await, 3, "each part once");

    let (client, _) = app.logged_in("agent@example.com", "support").await;
    let page = client.get(&format!("/messages/{id}")).await;
    let body = page.text();
    let section = &body[body
        .find("Replies and opt-outs from this number")
        .expect("the section")..];
    assert!(
        section.contains(&format!("<td>{}</td>", text.concat())),
        "one message, its parts in order: {section}"
    );
    assert_eq!(section.matches(text[1]).count(), 1, "{section}");
    assert!(!section.contains("not received"), "{section}");
}
