//! The OTP verification timeline of CONTRACT §4.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(API_TOKEN)
        .json(body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_verification_follows_its_events_to_its_outcome() {
    let app = TestApp::spawn().await;
    let first = app.register_twilio("SM-otp-1").await;
    let resend = app.register_twilio("SM-otp-2").await;

    let created = post(
        &app,
        "/api/v1/verifications",
        &json!({"user_ref": "user-7", "message_id": first}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["outcome"], "pending");
    assert_eq!(created["events"][0]["kind"], "requested");
    assert_eq!(created["events"][0]["message_id"], first.as_str());
    let path = format!(
        "/api/v1/verifications/{}/events",
        created["id"].as_str().unwrap()
    );

    let steps = [
        json!({"kind": "resent", "message_id": resend, "occurred_at": "2030-01-01T00:01:00Z"}),
        json!({"kind": "failed", "occurred_at": "2030-01-01T00:02:00Z"}),
        // Arrives last but happened first: it does not decide the outcome.
        json!({"kind": "checked", "occurred_at": "2030-01-01T00:00:30Z"}),
        json!({"kind": "completed", "occurred_at": "2030-01-01T00:03:00Z"}),
    ];
    let mut last = Value::Null;
    for step in steps {
        let response = post(&app, &path, &step).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{step}");
        last = response.json().await.unwrap();
    }
    assert_eq!(last["outcome"], "completed");
    let kinds: Vec<_> = last["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    // In time order: the opening event carries the request's own time, before 2030.
    assert_eq!(
        kinds,
        ["requested", "checked", "resent", "failed", "completed"]
    );

    let shown = app
        .get_json(&format!(
            "/api/v1/verifications/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(shown["outcome"], "completed");
    assert_eq!(shown["events"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn bad_verification_requests_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let unknown_message = post(
        &app,
        "/api/v1/verifications",
        &json!({"message_id": "nope"}),
    )
    .await;
    assert_eq!(unknown_message.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        unknown_message.json::<Value>().await.unwrap()["error"]["field"],
        "message_id"
    );
    let bad_time = post(
        &app,
        "/api/v1/verifications",
        &json!({"occurred_at": "soon"}),
    )
    .await;
    assert_eq!(bad_time.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.db.count("verifications").await, 0);

    let created: Value = post(&app, "/api/v1/verifications", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/verifications/{}/events",
        created["id"].as_str().unwrap()
    );
    for (body, field) in [
        (json!({}), "kind"),
        (json!({"kind": "celebrated"}), "kind"),
        (
            json!({"kind": "checked", "message_id": "nope"}),
            "message_id",
        ),
        (json!({"kind": "checked", "occurred_at": 5}), "occurred_at"),
    ] {
        let response = post(&app, &path, &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"]["field"],
            field,
            "{body}"
        );
    }
    let missing = post(
        &app,
        "/api/v1/verifications/nope/events",
        &json!({"kind": "checked"}),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let no_token = app
        .client
        .post(app.url("/api/v1/verifications"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.db.count("verification_events").await,
        1,
        "only the opening event"
    );
}
