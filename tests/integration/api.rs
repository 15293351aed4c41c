//! The send-side API of CONTRACT §4: auth, idempotency and every bad field.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn full_request() -> Value {
    json!({
        "idempotency_key": "order-42-otp",
        "to": "+14155550100",
        "provider": "twilio",
        "provider_message_id": "SM-api-1",
        "sender_identity": "+15017122661",
        "sender_type": "10dlc",
        "template_key": "otp_login",
        "use_case": "otp",
        "user_ref": "user-7",
        "product_action": {"kind": "login", "ref": "act-9", "url": "https://admin.example.com/actions/9"},
        "recipient_timezone": "America/New_York",
        "sent_at": "2026-11-26T10:00:00Z",
        "metadata": {"attempt": 1},
        "some_future_field": true
    })
}

#[tokio::test]
async fn registering_returns_the_masked_message_with_its_country() {
    let app = TestApp::spawn().await;
    let response = app.register(&full_request()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["current_status"], "accepted");
    assert_eq!(body["recipient_masked"], "+1 •••• ••0100");
    assert_eq!(body["destination_country"], "US");
    assert_eq!(body["product_action"]["ref"], "act-9");
    assert_eq!(body["metadata"]["attempt"], 1);
    assert!(!body.to_string().contains("4155550100"));

    let id = body["id"].as_str().unwrap();
    let shown = app.message(id).await;
    assert_eq!(shown["id"], body["id"]);
    assert_eq!(shown["events"], json!([]));

    let by_provider = app
        .get_json("/api/v1/messages?provider_message_id=SM-api-1")
        .await;
    assert_eq!(by_provider["id"], body["id"]);
}

#[tokio::test]
async fn idempotency_same_body_200_different_body_409() {
    let app = TestApp::spawn().await;
    let first = app.register(&full_request()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();

    // Same request (unknown fields differ, which does not count): 200, same message.
    let mut same = full_request();
    same["another_unknown"] = json!("x");
    let again = app.register(&same).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    let mut different = full_request();
    different["template_key"] = json!("otp_signup");
    let conflict = app.register(&different).await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    let body: Value = conflict.json().await.unwrap();
    assert_eq!(body["error"]["code"], "idempotency_conflict");
    assert_eq!(app.db.count("messages").await, 1);
}

/// The unkeyed fingerprint earlier versions stored: SHA-256 of the canonical
/// registration, which a copy of the database could brute-force for the number.
fn unkeyed_fingerprint(request: &Value) -> String {
    let parsed = smstrail::domain::outbound::OutboundMessage::parse(
        serde_json::from_value(request.clone()).unwrap(),
        &smstrail::providers::KNOWN,
    )
    .unwrap();
    smstrail::crypto::token_digest(&serde_json::to_string(&parsed).unwrap())
}

#[tokio::test]
async fn idempotency_fingerprints_are_keyed_and_old_rows_are_upgraded_at_start() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register(&full_request()).await.status(),
        StatusCode::CREATED
    );
    let unkeyed = unkeyed_fingerprint(&full_request());
    let stored = app
        .db
        .strings("SELECT request_fingerprint FROM messages")
        .await;
    assert!(stored[0].starts_with("v2:"), "{stored:?}");
    assert!(
        !stored[0].contains(&unkeyed),
        "the stored fingerprint is keyed"
    );

    // The first start found nothing to upgrade and said so.
    assert_eq!(app.db.count("maintenance_done").await, 1);

    // A row as an earlier version wrote it (in a database from before the
    // marker), then a restart over that database.
    app.db
        .execute(&format!(
            "UPDATE messages SET request_fingerprint = '{unkeyed}'; DELETE FROM maintenance_done;"
        ))
        .await;
    let config =
        smstrail::config::Config::from_sources(None, test_env(&app.db)).expect("test config");
    let restarted = smstrail::AppState::build(config).await.expect("restart");
    drop(restarted);
    let upgraded = app
        .db
        .strings("SELECT request_fingerprint FROM messages")
        .await;
    assert_eq!(
        upgraded, stored,
        "the old row now holds the keyed fingerprint"
    );
    assert_eq!(app.db.count("maintenance_done").await, 1, "marked done");

    // And the upgraded row still tells a replay from a conflict.
    assert_eq!(app.register(&full_request()).await.status(), StatusCode::OK);
    let mut different = full_request();
    different["template_key"] = json!("otp_signup");
    assert_eq!(
        app.register(&different).await.status(),
        StatusCode::CONFLICT
    );
}

/// The upgrade walks the table in batches of 500 by id; rows on both sides
/// of every batch edge are upgraded, none twice.
#[tokio::test]
async fn old_fingerprints_spanning_several_batches_are_all_upgraded() {
    let app = TestApp::spawn().await;
    const ROWS: usize = 1_234;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..ROWS {
        let client = app.client.clone();
        let url = app.url("/api/v1/messages");
        let mut request = full_request();
        request["idempotency_key"] = json!(format!("upgrade-{i}"));
        request["provider_message_id"] = json!(format!("SM-upgrade-{i}"));
        tasks.spawn(async move {
            client
                .post(url)
                .bearer_auth(API_TOKEN)
                .json(&request)
                .send()
                .await
                .map(|r| r.status())
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap().unwrap(), StatusCode::CREATED);
    }
    let keyed = app
        .db
        .strings("SELECT request_fingerprint FROM messages ORDER BY id")
        .await;
    // As an earlier version left them: unkeyed, and all different.
    app.db
        .execute(
            "UPDATE messages SET request_fingerprint = 'old-' || idempotency_key; \
             DELETE FROM maintenance_done;",
        )
        .await;
    let config =
        smstrail::config::Config::from_sources(None, test_env(&app.db)).expect("test config");
    drop(smstrail::AppState::build(config).await.expect("restart"));
    let upgraded = app
        .db
        .strings("SELECT request_fingerprint FROM messages ORDER BY id")
        .await;
    assert_eq!(upgraded.len(), ROWS);
    assert!(
        upgraded.iter().all(|f| f.starts_with("v2:")),
        "every row, past every batch edge, holds a keyed fingerprint"
    );
    let distinct: std::collections::HashSet<_> = upgraded.iter().collect();
    assert_eq!(distinct.len(), ROWS, "each row got its own");
    assert_ne!(upgraded, keyed, "keyed from the old values, not copied");
    assert_eq!(app.db.count("maintenance_done").await, 1, "marked done");
}

#[tokio::test]
async fn concurrent_registrations_with_one_key_create_one_message() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.url("/api/v1/messages");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(API_TOKEN)
                .json(&full_request())
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.db.count("messages").await, 1);
}

#[tokio::test]
async fn every_bad_field_is_a_clear_422_naming_it() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Value)> = vec![
        ("idempotency_key", json!(null)),
        ("idempotency_key", json!("   ")),
        ("idempotency_key", json!("x".repeat(300))),
        ("idempotency_key", json!(12)),
        ("to", json!(null)),
        ("to", json!("4155550100")),
        ("to", json!("+1 415 555 0100")),
        ("to", json!("+1415555")),
        ("to", json!("+99912345678")),
        ("provider", json!(null)),
        ("provider", json!("carrier-pigeon")),
        ("provider_message_id", json!("")),
        ("sender_type", json!("pager")),
        ("use_case", json!("spam")),
        ("product_action.url", json!("javascript:alert(1)")),
        ("product_action.url", json!("not a url")),
        ("recipient_timezone", json!("Mars/Olympus")),
        ("sent_at", json!("yesterday")),
        ("metadata", json!([1, 2])),
        ("user_ref", json!("a\u{0}b")),
    ];
    for (field, value) in cases {
        let mut body = full_request();
        match field.split_once('.') {
            Some((outer, inner)) => body[outer][inner] = value.clone(),
            None if value.is_null() => {
                body.as_object_mut().unwrap().remove(field);
            }
            None => body[field] = value.clone(),
        }
        let response = app.register(&body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{field}={value}: {error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(field));
    }
    assert_eq!(app.db.count("messages").await, 0);
}

#[tokio::test]
async fn malformed_bodies_and_missing_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let url = app.url("/api/v1/messages");
    let not_json = app
        .client
        .post(&url)
        .bearer_auth(API_TOKEN)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let array = app
        .client
        .post(&url)
        .bearer_auth(API_TOKEN)
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(array.status(), StatusCode::BAD_REQUEST);

    let no_token = app
        .client
        .post(&url)
        .json(&full_request())
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .client
        .post(&url)
        .bearer_auth("smst_wrong")
        .json(&full_request())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let get = app
        .client
        .get(app.url("/api/v1/messages/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_ids_are_404_and_lookups_need_their_parameter() {
    let app = TestApp::spawn().await;
    let missing = app
        .client
        .get(app.url("/api/v1/messages/nope"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let no_param = app
        .client
        .get(app.url("/api/v1/messages"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(no_param.status(), StatusCode::BAD_REQUEST);
    let retry = app
        .client
        .post(app.url("/api/v1/messages/nope/retries"))
        .bearer_auth(API_TOKEN)
        .json(&json!({"kind": "retry"}))
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn provider_message_id_is_set_once() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-once").await;
    let patch = |pmid: &str| {
        app.client
            .patch(app.url(&format!("/api/v1/messages/{id}")))
            .bearer_auth(API_TOKEN)
            .json(&json!({"provider_message_id": pmid}))
            .send()
    };
    assert_eq!(
        patch("SM-once").await.unwrap().status(),
        StatusCode::OK,
        "same value is a no-op"
    );
    assert_eq!(
        patch("SM-other").await.unwrap().status(),
        StatusCode::CONFLICT
    );
    let other = app
        .register(&json!({"idempotency_key": "k2", "to": "+14155550100", "provider": "twilio"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let taken = app
        .client
        .patch(app.url(&format!(
            "/api/v1/messages/{}",
            other["id"].as_str().unwrap()
        )))
        .bearer_auth(API_TOKEN)
        .json(&json!({"provider_message_id": "SM-once"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let empty = patch("").await.unwrap();
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn retries_are_recorded_and_validated() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-retry").await;
    let url = app.url(&format!("/api/v1/messages/{id}/retries"));
    let ok = app
        .client
        .post(&url)
        .bearer_auth(API_TOKEN)
        .json(&json!({"kind": "provider_failover", "new_message_id": "m-2", "reason": "30003 from Twilio"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    for bad in [
        json!({}),
        json!({"kind": "pray"}),
        json!({"kind": "retry", "reason": ""}),
    ] {
        let response = app
            .client
            .post(&url)
            .bearer_auth(API_TOKEN)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let message = app.message(&id).await;
    let retries = message["retries"].as_array().unwrap();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0]["kind"], "provider_failover");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn oversized_bodies_bad_queries_and_unknown_routes_answer_json_errors() {
    let app = TestApp::spawn().await;
    let mut big = full_request();
    big["metadata"] = json!({"blob": "x".repeat(70 * 1024)});
    let too_large = app.register(&big).await;
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = too_large.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_body");

    // Not valid UTF-8 once decoded: looked up as given (lossily), found nowhere.
    let odd_query = app
        .client
        .get(app.url("/api/v1/messages?provider_message_id=%FF%FE"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(odd_query.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        odd_query.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );

    let unknown = app
        .client
        .get(app.url("/api/v2/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    assert_eq!(app.db.count("messages").await, 0);
}

/// Issue 8, item 18: the OpenAPI document lists every API route the server
/// answers, taken from the one list the router is built from.
#[tokio::test]
async fn every_api_route_is_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.expect("json");
    assert_eq!(document["openapi"], "3.1.0");
    let routes = smstrail::http::api_routes();
    assert!(routes.len() >= 9, "{routes:?}");
    let mut documented = 0;
    for (method, path) in &routes {
        let operation = &document["paths"][path][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not documented");
        documented += 1;
        // The server really answers it: without a token, 401 (a route it
        // does not have would be the 404 fallback or a 405).
        let url = app.url(&path.replace("{id}", "nope"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let status = app
            .client
            .request(method.clone(), &url)
            .send()
            .await
            .expect("request")
            .status();
        let expected = if operation.get("security") == Some(&json!([])) {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "{method} {path}");
    }
    let operations: usize = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(operations, documented, "the document has nothing else");
}
