//! CONTRACT §3, step by step, over real HTTP.

use reqwest::StatusCode;
use serde_json::json;
use smstrail::providers::twilio;

use crate::helpers::*;

#[tokio::test]
async fn delivery_callbacks_build_the_timeline_and_summary() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-happy").await;
    for status in ["queued", "sent", "delivered"] {
        let response = app.twilio_status("SM-happy", status).await;
        assert_eq!(response.status(), StatusCode::OK, "{status}");
    }
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["is_final"], true);
    let events = message["events"].as_array().unwrap();
    let raw: Vec<_> = events
        .iter()
        .map(|e| e["raw_status"].as_str().unwrap())
        .collect();
    assert_eq!(raw, ["queued", "sent", "delivered"]);
    assert_eq!(events[0]["status"], "accepted");
    assert!(events[2]["received_at"].is_string());
}

#[tokio::test]
async fn oversized_body_is_refused_with_413_and_nothing_stored() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(65 * 1024);
    let mut params = twilio_status_params("SM-big", "delivered");
    params.push(("Body", &big));
    let response = app.twilio("status", &params).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.db.count("message_events").await, 0);
    assert_eq!(app.db.count("review_items").await, 0);
}

#[tokio::test]
async fn bad_missing_or_retargeted_signatures_are_401_and_write_nothing() {
    let app = TestApp::spawn().await;
    app.register_twilio("SM-sig").await;
    let params = owned(&twilio_status_params("SM-sig", "delivered"));
    let path = "/webhooks/twilio/status";
    let good_url = format!("{PUBLIC_URL}{path}");

    let mut changed = params.clone();
    changed[6].1 = "failed".to_owned();
    let cases = [
        (
            "wrong signature",
            twilio::sign(TWILIO_TOKEN, &good_url, &params).replace('=', "A"),
        ),
        (
            "other token",
            twilio::sign("another-token", &good_url, &params),
        ),
        (
            "other URL",
            twilio::sign(
                TWILIO_TOKEN,
                "https://evil.example.com/webhooks/twilio/status",
                &params,
            ),
        ),
        (
            "other route",
            twilio::sign(
                TWILIO_TOKEN,
                &format!("{PUBLIC_URL}/webhooks/twilio/inbound"),
                &params,
            ),
        ),
        (
            "one changed param",
            twilio::sign(TWILIO_TOKEN, &good_url, &changed),
        ),
    ];
    for (case, signature) in cases {
        let response = app.twilio_signed(path, &params, &signature).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{case}");
    }
    let missing = app
        .client
        .post(app.url(path))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(app.db.count("message_events").await, 0);
    assert_eq!(app.db.count("review_items").await, 0);
    assert_eq!(app.db.count("unmatched_callbacks").await, 0);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"smstrail_callbacks_total{provider="twilio",outcome="rejected_signature"} 6"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn stale_or_future_standard_webhook_timestamps_are_401() {
    let app = TestApp::spawn().await;
    let body = json!({"type": "message.status", "timestamp": "2026-01-01T00:00:00Z",
        "data": {"provider_message_id": "p-1", "status": "delivered"}});
    // Ten seconds past the window, so a clock tick between signing and
    // checking cannot bring +301 back inside it (the edge is unit-tested).
    for offset in [-310, 310] {
        let response = app.standard("msg_stale", now_unix() + offset, &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "offset {offset}"
        );
    }
    assert_eq!(app.db.count("message_events").await, 0);
    let fresh = app.standard("msg_fresh", now_unix() - 60, &body).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_eq!(app.db.count("message_events").await, 1);
}

#[tokio::test]
async fn standard_webhooks_deduplicate_on_webhook_id() {
    let app = TestApp::spawn().await;
    let id = app
        .register(
            &json!({"idempotency_key": "k1", "to": "+442079460958", "provider": "standard",
            "provider_message_id": "std-1"}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"type": "message.status", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"provider_message_id": "std-1", "status": "delivered", "occurred_at": "2026-11-26T10:00:00Z"}});
    for _ in 0..3 {
        assert_eq!(
            app.standard("msg_same", now_unix(), &body).await.status(),
            StatusCode::OK
        );
    }
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        message["events"][0]["provider_occurred_at"],
        "2026-11-26T10:00:00.000000Z"
    );
}

#[tokio::test]
async fn unknown_status_is_stored_for_review_and_leaves_the_summary() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-odd").await;
    app.twilio_status("SM-odd", "sent").await;
    let response = app.twilio_status("SM-odd", "teleported").await;
    assert_eq!(response.status(), StatusCode::OK);
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
    assert_eq!(review[0].kind, smstrail::store::ReviewKind::UnknownStatus);
    assert!(review[0].event_id.is_some());
}

#[tokio::test]
async fn authentic_but_unparseable_payload_goes_to_review() {
    let app = TestApp::spawn().await;
    let response = app
        .twilio("status", &[("AccountSid", "AC123"), ("Nonsense", "1")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json!({"type": "message.exploded", "data": {}});
    assert_eq!(
        app.standard("msg_odd", now_unix(), &body).await.status(),
        StatusCode::OK
    );
    let review = app.state.store.review_items(10).await.unwrap();
    assert_eq!(review.len(), 2);
    assert!(
        review
            .iter()
            .all(|r| r.kind == smstrail::store::ReviewKind::Unreadable && r.event_id.is_none())
    );
    // The raw payload is kept, encrypted at rest, and opens with the data key.
    let raw = app
        .state
        .cipher
        .open(&review[0].raw_payload_sealed)
        .unwrap();
    assert!(String::from_utf8(raw).unwrap().contains("Nonsense=1"));
    assert_eq!(app.db.count("message_events").await, 0);
}

#[tokio::test]
async fn a_replayed_unreadable_callback_is_a_duplicate_not_another_review_item() {
    let app = TestApp::spawn().await;
    let nonsense = [("AccountSid", "AC123"), ("Nonsense", "1")];
    for _ in 0..3 {
        let response = app.twilio("status", &nonsense).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Another body is another item; the same body on another provider too.
    app.twilio("status", &[("AccountSid", "AC123"), ("Nonsense", "2")])
        .await;
    let body = json!({"type": "message.exploded", "data": {}});
    for _ in 0..2 {
        let response = app.standard("msg_odd", now_unix(), &body).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let review = app.state.store.review_items(10).await.unwrap();
    assert_eq!(review.len(), 3, "{review:?}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"smstrail_callbacks_total{provider="twilio",outcome="duplicate"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"smstrail_callbacks_total{provider="standard",outcome="duplicate"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn duplicates_are_answered_2xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-dup").await;
    for _ in 0..3 {
        assert_eq!(
            app.twilio_status("SM-dup", "delivered").await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.event_count(&id).await, 1);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"smstrail_callbacks_total{provider="twilio",outcome="duplicate"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_late_sent_after_delivered_is_stored_but_the_summary_stays() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-late").await;
    app.twilio_status("SM-late", "delivered").await;
    app.twilio_status("SM-late", "sent").await;
    app.twilio_status("SM-late", "queued").await;
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_later_final_status_wins_over_an_earlier_one() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-flip").await;
    let mut delivered = twilio_status_params("SM-flip", "delivered");
    delivered.push(("RawDlrDoneDate", "2406131102"));
    let mut failed = twilio_status_params("SM-flip", "undelivered");
    failed.push(("RawDlrDoneDate", "2406131105"));
    failed.push(("ErrorCode", "30003"));
    // The later final arrives first: the earlier one must not replace it.
    app.twilio("status", &failed).await;
    app.twilio("status", &delivered).await;
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "undelivered");
    assert_eq!(message["current_error_code"], "30003");
}

#[tokio::test]
async fn callbacks_before_registration_attach_when_the_message_is_registered() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.twilio_status("SM-early", "sent").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.twilio_status("SM-early", "delivered").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.db.count("unmatched_callbacks").await, 1);
    let id = app.register_twilio("SM-early").await;
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["events"].as_array().unwrap().len(), 2);
    assert_eq!(app.db.count("unmatched_callbacks").await, 0);
}

#[tokio::test]
async fn callbacks_attach_when_the_provider_id_is_patched_in_later() {
    let app = TestApp::spawn().await;
    let created: serde_json::Value = app
        .register(&json!({"idempotency_key": "later", "to": "+14155550100", "provider": "twilio"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    app.twilio_status("SM-patched", "undelivered").await;
    let response = app
        .client
        .patch(app.url(&format!("/api/v1/messages/{id}")))
        .bearer_auth(API_TOKEN)
        .json(&json!({"provider_message_id": "SM-patched"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["current_status"], "undelivered");
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn five_hundred_concurrent_copies_store_exactly_one_event() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-storm").await;
    let mut tasks = Vec::new();
    for _ in 0..500 {
        let request = signed_status(&app.client, &app.base, "SM-storm", "delivered");
        tasks.push(tokio::spawn(async move {
            request.send().await.map(|r| r.status())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), StatusCode::OK);
    }
    assert_eq!(app.event_count(&id).await, 1);
    assert_eq!(app.db.count("message_events").await, 1);
}

#[tokio::test]
async fn inbound_messages_are_stored_apart_with_keywords() {
    let app = TestApp::spawn().await;
    let params = [
        ("MessageSid", "SM-in-1"),
        ("AccountSid", "AC123"),
        ("From", "+14155550100"),
        ("To", "+15017122661"),
        ("Body", "Stop"),
        ("SmsStatus", "received"),
    ];
    for _ in 0..2 {
        let response = app.twilio("inbound", &params).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.text().await.unwrap().contains("<Response>"));
    }
    let inbound = app.state.store.inbound_messages(10).await.unwrap();
    assert_eq!(inbound.len(), 1, "the duplicate is not stored twice");
    assert_eq!(inbound[0].keyword.as_deref(), Some("stop"));
    assert_eq!(inbound[0].sender_masked, "+1 •••• ••0100");
    assert_eq!(
        app.state.cipher.open(&inbound[0].body_sealed).unwrap(),
        b"Stop"
    );
    assert_eq!(
        app.db.count("message_events").await,
        0,
        "never a delivery event"
    );
}

#[tokio::test]
async fn unconfigured_providers_and_routes_answer_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/webhooks/vonage/status",
        "/webhooks/telnyx/inbound",
        "/webhooks/nope/status",
        "/webhooks/twilio/other",
    ] {
        let response = app
            .client
            .post(app.url(path))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn phone_numbers_are_never_stored_in_clear() {
    let app = TestApp::spawn().await;
    app.register_twilio("SM-private").await;
    app.twilio_status("SM-private", "delivered").await;
    let record = app
        .state
        .store
        .message_by_provider_id("SM-private")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.recipient_masked, "+1 •••• ••0100");
    assert_eq!(
        app.state.cipher.open(&record.recipient_sealed).unwrap(),
        b"+14155550100"
    );
    assert!(!String::from_utf8_lossy(&record.recipient_sealed).contains("4155550100"));
    let events = app.state.store.events(&record).await.unwrap();
    assert!(!String::from_utf8_lossy(&events[0].raw_payload_sealed).contains("4155550100"));
}

#[tokio::test]
async fn a_concurrent_shuffled_storm_leaves_every_timeline_exact() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(app.register_twilio(&format!("SM-storm-{n}")).await);
    }
    // Every message: queued, sent, delivered, plus a repeat of one of them;
    // ten more messages whose callbacks arrive before they are registered.
    let mut callbacks = Vec::new();
    for n in 0..50 {
        for status in ["queued", "sent", "delivered"] {
            callbacks.push((format!("SM-storm-{n}"), status));
        }
        callbacks.push((
            format!("SM-storm-{n}"),
            ["queued", "sent", "delivered"][n % 3],
        ));
    }
    let mut seed: u64 = 0x5eed;
    for i in (1..callbacks.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        callbacks.swap(i, (seed >> 33) as usize % (i + 1));
    }
    let tasks: Vec<_> = callbacks
        .into_iter()
        .map(|(sid, status)| {
            tokio::spawn(signed_status(&app.client, &app.base, &sid, status).send())
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    for n in 40..50 {
        ids.push(app.register_twilio(&format!("SM-storm-{n}")).await);
    }
    for id in &ids {
        let message = app.message(id).await;
        assert_eq!(message["current_status"], "delivered", "{message}");
        assert_eq!(message["events"].as_array().unwrap().len(), 3, "{message}");
    }
    assert_eq!(app.db.count("message_events").await, 150);
    assert_eq!(app.db.count("unmatched_callbacks").await, 0);
}

#[tokio::test]
async fn standard_inbound_messages_are_stored_with_their_keyword() {
    let app = TestApp::spawn().await;
    let body = json!({"type": "message.inbound", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"provider_message_id": "in-1", "from": "+442079460958", "to": "ACME",
                 "body": "HELP", "occurred_at": "2026-11-26T10:00:00Z"}});
    assert_eq!(
        app.standard("msg_in_1", now_unix(), &body).await.status(),
        StatusCode::OK
    );
    let inbound = app.state.store.inbound_messages(10).await.unwrap();
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0].keyword.as_deref(), Some("help"));
    assert_eq!(inbound[0].sender_masked, "+44 •••• ••0958");
    assert_eq!(inbound[0].recipient_identity, "ACME");
    assert_eq!(
        inbound[0].sender_hash,
        app.state.cipher.phone_hash("+442079460958"),
        "searchable by the keyed hash of the E.164 number"
    );
}

#[tokio::test]
async fn twilio_json_callbacks_are_bound_to_the_url_by_their_body_hash() {
    use sha2::{Digest, Sha256};
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-json").await;
    let body = r#"{"MessageSid":"SM-json","MessageStatus":"delivered"}"#;
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    let path = format!("/webhooks/twilio/status?bodySHA256={hash}");
    let signature = twilio::sign(TWILIO_TOKEN, &format!("{PUBLIC_URL}{path}"), &[]);
    let send = |body: &'static str| {
        app.client
            .post(app.url(&path))
            .header("content-type", "application/json")
            .header("X-Twilio-Signature", signature.clone())
            .body(body)
            .send()
    };
    let tampered = send(r#"{"MessageSid":"SM-json","MessageStatus":"failed"}"#)
        .await
        .unwrap();
    assert_eq!(tampered.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(send(body).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.status_of(&id).await, "delivered");
}

#[tokio::test]
async fn twilio_inbound_by_get_is_verified_on_the_url() {
    let app = TestApp::spawn().await;
    let path = "/webhooks/twilio/inbound?MessageSid=SM-get-1&From=%2B14155550100&To=%2B15017122661&Body=START";
    let signature = twilio::sign(TWILIO_TOKEN, &format!("{PUBLIC_URL}{path}"), &[]);
    let response = app
        .client
        .get(app.url(path))
        .header("X-Twilio-Signature", &signature)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let inbound = app.state.store.inbound_messages(10).await.unwrap();
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0].keyword.as_deref(), Some("start"));
    let retargeted = app
        .client
        .get(app.url(&path.replace("START", "STOP")))
        .header("X-Twilio-Signature", &signature)
        .send()
        .await
        .unwrap();
    assert_eq!(retargeted.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn other_methods_are_refused_with_405() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .put(app.url("/webhooks/twilio/status"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.db.count("message_events").await, 0);
}
