//! Sessions in the database (inactivity pushes the expiry back, an expired
//! row ends the session), the message page's retry links and grant state,
//! the client address behind proxies, and the static assets.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

async fn stored_expiry(app: &TestApp) -> String {
    let rows = app
        .db
        .strings("SELECT CAST(expiry_date AS TEXT) FROM sessions")
        .await;
    assert_eq!(rows.len(), 1, "one stored session");
    rows.into_iter().next().unwrap_or_default()
}

#[tokio::test]
async fn activity_pushes_the_session_expiry_back_and_an_expired_session_ends() {
    let app = TestApp::spawn().await;
    let (agent, _) = app.logged_in("agent@example.com", "support").await;
    let first = stored_expiry(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let page = agent.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = page.set_cookie("smstrail_session").expect("cookie renewed");
    assert!(cookie.contains("Max-Age=28800"), "{cookie}");
    let second = stored_expiry(&app).await;
    assert!(
        second > first,
        "expiry {first} was not pushed back ({second})"
    );

    let past = if app.db.is_postgres() {
        "UPDATE sessions SET expiry_date = now() - interval '1 minute'"
    } else {
        "UPDATE sessions SET expiry_date = CAST(strftime('%s', 'now') AS INTEGER) - 60"
    };
    app.db.execute(past).await;
    let page = agent.get("/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn the_message_page_links_a_retry_both_ways() {
    let app = TestApp::spawn().await;
    let first = app.register_twilio("SMretry-a").await;
    let second = app.register_twilio("SMretry-b").await;
    let recorded = app
        .client
        .post(app.url(&format!("/api/v1/messages/{first}/retries")))
        .bearer_auth(crate::helpers::API_TOKEN)
        .json(&json!({"kind": "provider_failover", "new_message_id": second, "reason": "carrier timeout"}))
        .send()
        .await
        .unwrap();
    assert!(recorded.status().is_success(), "{}", recorded.status());
    let (agent, _) = app.logged_in("agent@example.com", "support").await;

    let page = agent.get(&format!("/messages/{first}")).await.text();
    assert!(page.contains("You have no reveal grant"), "{page}");
    assert!(page.contains("After this message we tried again"), "{page}");
    assert!(page.contains(&format!("/messages/{second}")), "{page}");
    assert!(
        page.contains("provider failover") && page.contains("carrier timeout"),
        "{page}"
    );

    let page = agent.get(&format!("/messages/{second}")).await.text();
    assert!(
        page.contains("This message replaced an earlier one"),
        "{page}"
    );
    assert!(page.contains(&format!("/messages/{first}")), "{page}");
}

#[tokio::test]
async fn assets_are_embedded_typed_and_cacheable_without_a_session() {
    let app = TestApp::spawn().await;
    for (path, content_type, marker) in [
        (
            "/static/app.css",
            "text/css; charset=utf-8",
            ".badge.delivered",
        ),
        (
            "/static/app.js",
            "text/javascript; charset=utf-8",
            "data-copy",
        ),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age"),
            "{path}"
        );
        assert!(
            headers.get("set-cookie").is_none(),
            "{path} opened a session"
        );
        assert!(response.text().await.unwrap().contains(marker), "{path}");
    }
    let missing = app
        .client
        .get(app.url("/static/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// A failed login claiming, through `X-Forwarded-For`, to come from
/// 203.0.113.9 behind a hop that says 1.2.3.4; with or without a CSRF token.
async fn forwarded_failed_login(app: &TestApp, with_token: bool) -> StatusCode {
    let client = crate::ui_helpers::UiClient::new(app);
    let token = client.get("/login").await.csrf();
    let mut form = vec![
        ("email", "nobody@example.com"),
        ("password", "wrong password"),
    ];
    if with_token {
        form.push(("authenticity_token", &token));
    }
    client
        .client
        .post(app.url("/login"))
        .header("X-Forwarded-For", "1.2.3.4, 203.0.113.9")
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
}

async fn failed_login_addresses(app: &TestApp) -> Vec<String> {
    app.db
        .strings("SELECT client_addr FROM audit_log WHERE action = 'login_failed'")
        .await
}

#[tokio::test]
async fn the_audit_log_names_the_client_behind_a_trusted_proxy_only() {
    // Not configured: the header is the client's word and is ignored.
    let app = TestApp::spawn().await;
    assert_eq!(
        forwarded_failed_login(&app, true).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        failed_login_addresses(&app).await,
        vec!["127.0.0.1".to_owned()]
    );
    // Without a CSRF token nothing is even looked at.
    assert_eq!(
        forwarded_failed_login(&app, false).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(failed_login_addresses(&app).await.len(), 1);

    // Behind a trusted proxy: the nearest untrusted hop, not the spoofed one.
    let app = TestApp::spawn_with(&[("SMSTRAIL_TRUSTED_PROXIES", "127.0.0.1")]).await;
    assert_eq!(
        forwarded_failed_login(&app, true).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        failed_login_addresses(&app).await,
        vec!["203.0.113.9".to_owned()]
    );
}
