//! The group-commit write path under concurrency: registrations share
//! batches with each other and with callbacks, and still keep every
//! guarantee a request made alone would get.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use smstrail::AppState;
use smstrail::config::Config;

use crate::helpers::{API_TOKEN, TestApp, signed_status, test_env};

fn registration(key: &str, template: &str) -> Value {
    json!({
        "idempotency_key": key,
        "to": "+14155550100",
        "provider": "twilio",
        "provider_message_id": format!("SM-{key}"),
        "template_key": template,
    })
}

async fn post_all(app: &TestApp, bodies: Vec<Value>) -> Vec<(StatusCode, Value)> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let request = app
                .client
                .post(app.url("/api/v1/messages"))
                .bearer_auth(API_TOKEN)
                .json(&body);
            tokio::spawn(async move {
                let response = request.send().await.expect("request");
                let status = response.status();
                (status, response.json::<Value>().await.expect("json"))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

#[tokio::test]
async fn five_hundred_identical_registrations_give_one_message() {
    let app = TestApp::spawn().await;
    let answers = post_all(&app, vec![registration("same", "otp_login"); 500]).await;
    let created: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "exactly one 201");
    let id = &created[0].1["id"];
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::CREATED || *status == StatusCode::OK,
            "{status}: {body}"
        );
        assert_eq!(&body["id"], id, "every answer names the one message");
    }
    assert_eq!(app.db.count("messages").await, 1);
}

#[tokio::test]
async fn one_key_with_two_bodies_in_one_batch_is_a_conflict() {
    let app = TestApp::spawn().await;
    // Fired together, most pairs land in the same batch.
    let mut bodies = Vec::new();
    for n in 0..40 {
        bodies.push(registration(&format!("k{n}"), "otp_login"));
        bodies.push(registration(&format!("k{n}"), "otp_signup"));
    }
    let answers = post_all(&app, bodies).await;
    let mut per_key: HashMap<usize, Vec<StatusCode>> = HashMap::new();
    for (n, (status, _)) in answers.iter().enumerate() {
        per_key.entry(n / 2).or_default().push(*status);
    }
    for (key, mut statuses) in per_key {
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "key k{key}"
        );
    }
    assert_eq!(app.db.count("messages").await, 40);
}

/// A second instance on the same database: its own writers and connections,
/// as another process would have.
async fn second_instance(app: &TestApp) -> String {
    let config = Config::from_sources(None, test_env(&app.db)).expect("config");
    let state = AppState::build(config).await.expect("second instance");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(smstrail::serve(listener, state, std::future::pending()));
    base
}

#[tokio::test]
async fn registrations_and_callbacks_on_two_instances_never_miss_each_other() {
    let app = TestApp::spawn().await;
    let other = second_instance(&app).await;
    let messages = 60;
    let mut tasks = Vec::new();
    for n in 0..messages {
        let key = format!("race-{n}");
        let request = app
            .client
            .post(app.url("/api/v1/messages"))
            .bearer_auth(API_TOKEN)
            .json(&registration(&key, "otp_login"));
        tasks.push(tokio::spawn(async move {
            request.send().await.expect("request").status()
        }));
        for status in ["queued", "sent", "delivered"] {
            let request = signed_status(&app.client, &other, &format!("SM-{key}"), status);
            tasks.push(tokio::spawn(async move {
                request.send().await.expect("request").status()
            }));
        }
    }
    for task in tasks {
        let status = task.await.expect("task");
        assert!(status.is_success(), "{status}");
    }
    let delivered = app
        .db
        .strings("SELECT current_status FROM messages WHERE current_status = 'delivered'")
        .await;
    assert_eq!(delivered.len(), messages, "every message saw its callbacks");
    assert_eq!(app.db.count("message_events").await, 3 * messages as i64);
    assert_eq!(app.db.count("unmatched_callbacks").await, 0);
}
