//! Plivo over real HTTP: form callbacks signed with V3 (or V2 alone).

use axum::http::Method;
use reqwest::{Response, StatusCode};
use smstrail::providers::plivo;
use smstrail::store::ReviewKind;

use crate::helpers::*;

const AUTH_TOKEN: &str = "plivo-test-auth-token";
const STATUS_PATH: &str = "/webhooks/plivo/status";
const INBOUND_PATH: &str = "/webhooks/plivo/inbound";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("SMSTRAIL_PLIVO_AUTH_TOKEN", AUTH_TOKEN)]).await
}

/// A status callback as Plivo posts it (numbers without their '+').
fn status_params(uuid: &str, status: &str, delivery_report_time: &str) -> Vec<(String, String)> {
    owned(&[
        ("MessageUUID", uuid),
        ("To", "14155550100"),
        ("From", "13125550100"),
        ("Type", "sms"),
        ("Status", status),
        ("Units", "1"),
        ("Sequence", "1"),
        ("MessageTime", "2026-11-26 10:00:00.100000"),
        ("QueuedTime", "2026-11-26 10:00:00.200000"),
        ("SentTime", "2026-11-26 10:00:01.300000"),
        ("DeliveryReportTime", delivery_report_time),
    ])
}

/// The V3 headers Plivo would send with `params` to `path` on smstrail.
fn v3_headers(
    method: &Method,
    path: &str,
    params: &[(String, String)],
    nonce: &str,
) -> Vec<(&'static str, String)> {
    let url = format!("{PUBLIC_URL}{path}");
    vec![
        (
            "X-Plivo-Signature-V3",
            plivo::sign_v3(AUTH_TOKEN, method, &url, params, nonce),
        ),
        ("X-Plivo-Signature-V3-Nonce", nonce.to_owned()),
    ]
}

async fn post_form(
    app: &TestApp,
    path: &str,
    params: &[(String, String)],
    headers: &[(&'static str, String)],
) -> Response {
    let mut request = app.client.post(app.url(path)).form(params);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("request")
}

/// Posts `params` to `path`, signed with V3 as Plivo would sign it.
async fn send(app: &TestApp, path: &str, params: &[(String, String)]) -> Response {
    let nonce = uuid::Uuid::now_v7().simple().to_string();
    post_form(
        app,
        path,
        params,
        &v3_headers(&Method::POST, path, params, &nonce),
    )
    .await
}

async fn send_status(
    app: &TestApp,
    uuid: &str,
    status: &str,
    delivery_report_time: &str,
) -> Response {
    send(
        app,
        STATUS_PATH,
        &status_params(uuid, status, delivery_report_time),
    )
    .await
}

#[tokio::test]
async fn status_callbacks_build_the_timeline_and_summary() {
    let app = spawn().await;
    let id = app.register_on("plivo", "pl-happy").await;
    for status in ["queued", "sent"] {
        let response = send_status(&app, "pl-happy", status, "").await;
        assert_eq!(response.status(), StatusCode::OK, "{status}");
        assert_eq!(response.text().await.unwrap(), "");
    }
    let response = send_status(&app, "pl-happy", "delivered", "2026-11-26 10:00:05.771020").await;
    assert_eq!(response.status(), StatusCode::OK);

    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["is_final"], true);
    assert_eq!(raw_statuses(&message), ["queued", "sent", "delivered"]);
    assert_eq!(
        message["events"][2]["provider_occurred_at"],
        "2026-11-26T10:00:05.771020Z"
    );
}

#[tokio::test]
async fn undelivered_keeps_its_error_code_and_get_callbacks_work() {
    let app = spawn().await;
    let id = app.register_on("plivo", "pl-get").await;
    let mut params = status_params("pl-get", "undelivered", "2026-11-26 10:00:09.000000");
    params.push(("ErrorCode".to_owned(), "300".to_owned()));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let path = format!("{STATUS_PATH}?{query}");
    let mut request = app.client.get(app.url(&path));
    for (name, value) in v3_headers(&Method::GET, &path, &[], "nonce-get") {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "undelivered");
    assert_eq!(message["current_error_code"], "300");
}

#[tokio::test]
async fn forged_and_retargeted_callbacks_are_401_and_write_nothing() {
    let app = spawn().await;
    app.register_on("plivo", "pl-forged").await;
    let params = status_params("pl-forged", "delivered", "2026-11-26 10:00:05.000000");
    let mut changed = params.clone();
    changed[4].1 = "undelivered".to_owned();
    let post = Method::POST;
    let v2_only = |url: &str| {
        vec![
            (
                "X-Plivo-Signature-V2",
                plivo::sign_v2(AUTH_TOKEN, url, "n2"),
            ),
            ("X-Plivo-Signature-V2-Nonce", "n2".to_owned()),
        ]
    };
    let mut downgrade = v2_only(&format!("{PUBLIC_URL}{STATUS_PATH}"));
    downgrade.extend(v3_headers(&post, STATUS_PATH, &changed, "n3"));
    let cases: Vec<(&str, Vec<(&'static str, String)>)> = vec![
        (
            "changed parameter",
            v3_headers(&post, STATUS_PATH, &changed, "n1"),
        ),
        (
            "signed for the inbound route",
            v3_headers(&post, INBOUND_PATH, &params, "n1"),
        ),
        (
            "signed for another host",
            vec![
                (
                    "X-Plivo-Signature-V3",
                    plivo::sign_v3(
                        AUTH_TOKEN,
                        &post,
                        "https://evil.example.com/webhooks/plivo/status",
                        &params,
                        "n1",
                    ),
                ),
                ("X-Plivo-Signature-V3-Nonce", "n1".to_owned()),
            ],
        ),
        (
            "other token",
            vec![
                (
                    "X-Plivo-Signature-V3",
                    plivo::sign_v3(
                        "other-token",
                        &post,
                        &format!("{PUBLIC_URL}{STATUS_PATH}"),
                        &params,
                        "n1",
                    ),
                ),
                ("X-Plivo-Signature-V3-Nonce", "n1".to_owned()),
            ],
        ),
        (
            "V2 for the inbound route",
            v2_only(&format!("{PUBLIC_URL}{INBOUND_PATH}")),
        ),
        ("a bad V3 beside a good V2", downgrade),
        ("no signature", Vec::new()),
    ];
    let refused = cases.len();
    for (case, headers) in cases {
        let response = post_form(&app, STATUS_PATH, &params, &headers).await;
        assert_unauthorized(response, case).await;
    }
    app.assert_nothing_stored().await;
    app.assert_callbacks("plivo", "rejected_signature", refused)
        .await;
}

/// Plivo signs no timestamp, so a replay cannot be called stale: the same
/// authentic callback again (same nonce and signature, or a Plivo retry with
/// a new nonce) is a duplicate of the stored event, answered 2xx.
#[tokio::test]
async fn replays_and_retries_are_stored_once() {
    let app = spawn().await;
    let id = app.register_on("plivo", "pl-replay").await;
    let params = status_params("pl-replay", "delivered", "2026-11-26 10:00:05.000000");
    let headers = v3_headers(&Method::POST, STATUS_PATH, &params, "same-nonce");
    for _ in 0..3 {
        let response = post_form(&app, STATUS_PATH, &params, &headers).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        send(&app, STATUS_PATH, &params).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.event_count(&id).await, 1);
    assert_eq!(app.db.count("message_events").await, 1);
    app.assert_callbacks("plivo", "duplicate", 3).await;
}

#[tokio::test]
async fn a_v2_only_callback_is_accepted() {
    let app = spawn().await;
    let id = app.register_on("plivo", "pl-v2").await;
    let params = status_params("pl-v2", "sent", "");
    let url = format!("{PUBLIC_URL}{STATUS_PATH}");
    let headers = [
        (
            "X-Plivo-Signature-Ma-V2",
            plivo::sign_v2(AUTH_TOKEN, &url, "n-v2"),
        ),
        ("X-Plivo-Signature-V2-Nonce", "n-v2".to_owned()),
    ];
    let response = post_form(&app, STATUS_PATH, &params, &headers).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.status_of(&id).await, "sent");
}

#[tokio::test]
async fn out_of_order_callbacks_keep_the_final_status() {
    let app = spawn().await;
    let id = app.register_on("plivo", "pl-late").await;
    send_status(&app, "pl-late", "delivered", "2026-11-26 10:00:05.000000").await;
    send_status(&app, "pl-late", "sent", "").await;
    send_status(&app, "pl-late", "queued", "").await;
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn unknown_status_goes_to_review_and_leaves_the_summary() {
    let app = spawn().await;
    let id = app.register_on("plivo", "pl-odd").await;
    send_status(&app, "pl-odd", "sent", "").await;
    let response = send_status(&app, "pl-odd", "teleported", "2026-11-26 10:00:05.000000").await;
    assert_eq!(response.status(), StatusCode::OK);
    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "sent");
    assert_eq!(message["events"].as_array().unwrap().len(), 2);
    let review = app.state.store.review_items(10).await.unwrap();
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].kind, ReviewKind::UnknownStatus);
}

#[tokio::test]
async fn inbound_stop_sets_the_opt_out_and_never_touches_a_delivery_summary() {
    let app = spawn().await;
    let id = app.register_on("plivo", "pl-before-stop").await;
    send_status(
        &app,
        "pl-before-stop",
        "delivered",
        "2026-11-26 10:00:05.000000",
    )
    .await;

    let stop = owned(&[
        ("From", "14155550100"),
        ("To", "13125550100"),
        ("Type", "sms"),
        ("Text", "STOP"),
        ("MessageUUID", "pl-in-1"),
    ]);
    for _ in 0..2 {
        let response = send(&app, INBOUND_PATH, &stop).await;
        assert_eq!(response.status(), StatusCode::OK);
        let ack = response.text().await.unwrap();
        assert!(ack.contains("<Response></Response>"), "{ack}");
    }
    let inbound = app.state.store.inbound_messages(10).await.unwrap();
    assert_eq!(inbound.len(), 1, "the retry is not stored twice");
    // A stop keyword under the number's hash is the opt-out: the number page
    // replays exactly these rows into the number's opt-out state.
    assert_eq!(inbound[0].keyword.as_deref(), Some("stop"));
    assert_eq!(inbound[0].sender_masked, "+1 •••• ••0100");
    assert_eq!(
        inbound[0].sender_hash,
        app.state.cipher.phone_hash("+14155550100"),
        "the '+' is restored, so the opt-out is found by the number"
    );
    assert_eq!(inbound[0].recipient_identity, "+13125550100");

    let message = app.message(&id).await;
    assert_eq!(message["current_status"], "delivered");
    assert_eq!(message["events"].as_array().unwrap().len(), 1);
    assert_eq!(app.db.count("message_events").await, 1);
}
