//! The signed evidence export of a message (`GET /messages/{id}/evidence`)
//! and its check by `smstrail verify-evidence`.

use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use serde_json::Value;
use smstrail::domain::evidence::{self, EvidenceError};

use crate::helpers::*;
use crate::ui_helpers::UiClient;

const FULL_DIGITS: &str = "4155550100";

/// The download: status, headers and the exact bytes.
struct Download {
    status: StatusCode,
    content_type: Option<String>,
    disposition: Option<String>,
    body: Vec<u8>,
}

async fn download(client: &UiClient, id: &str) -> Download {
    let response = client
        .client
        .get(format!("{}/messages/{id}/evidence", client.base))
        .send()
        .await
        .expect("GET evidence");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Download {
        status: response.status(),
        content_type: header(reqwest::header::CONTENT_TYPE),
        disposition: header(reqwest::header::CONTENT_DISPOSITION),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

fn verify(app: &TestApp, file: &[u8]) -> Result<evidence::EvidenceDocument, EvidenceError> {
    evidence::verify(app.state.cipher.evidence_key(), file)
}

fn verify_cli(app: &TestApp, file: &[u8]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("evidence.json");
    std::fs::write(&path, file).expect("write the file");
    Command::new(env!("CARGO_BIN_EXE_smstrail"))
        .args(["verify-evidence", path.to_str().expect("a path")])
        .env_clear()
        .envs(test_env(&app.db))
        .stdin(Stdio::null())
        .output()
        .expect("run smstrail")
}

/// A message with a delivered callback (its raw payload holds the number)
/// and a reveal whose reason holds it too.
async fn message_with_history(app: &TestApp) -> String {
    let id = app.register_twilio("SM-evidence").await;
    let response = app.twilio_status("SM-evidence", "delivered").await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(app.event_count(&id).await, 1);
    id
}

#[tokio::test]
async fn an_admin_download_verifies_and_one_changed_byte_fails() {
    let app = TestApp::spawn().await;
    let id = message_with_history(&app).await;
    let admin = app.user("boss@example.com", "admin").await;
    let (agent, agent_user) = app.logged_in("agent@example.com", "support").await;
    app.grant(&agent_user, &admin, 1).await;
    let reveal = agent
        .post_from(
            &format!("/messages/{id}"),
            &format!("/messages/{id}/reveal"),
            &[("reason", "customer says +14155550100 got nothing")],
        )
        .await;
    assert_eq!(reveal.status, StatusCode::OK);

    let client = UiClient::new(&app);
    client
        .login("boss@example.com", crate::ui_helpers::PASSWORD)
        .await;
    let page = client.get(&format!("/messages/{id}")).await;
    assert!(
        page.body
            .contains(&format!("href=\"/messages/{id}/evidence\"")),
        "{}",
        page.body
    );
    let file = download(&client, &id).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        file.disposition,
        Some(format!(
            "attachment; filename=\"smstrail-evidence-{id}.json\""
        ))
    );

    // What it holds, and never the number.
    let text = String::from_utf8(file.body.clone()).expect("UTF-8");
    assert!(!text.contains(FULL_DIGITS), "{text}");
    let json: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(json["signature"]["alg"], "HMAC-SHA256");
    let document = verify(&app, &file.body).expect("verifies");
    assert_eq!(document.format, "smstrail-evidence/v1");
    assert_eq!(document.exported_by, "boss@example.com");
    assert_eq!(document.message.id, id);
    assert_eq!(
        document.message.provider_message_id.as_deref(),
        Some("SM-evidence")
    );
    assert_eq!(document.message.recipient_masked, "+1 •••• ••0100");
    assert_eq!(document.message.status, "delivered");
    assert_eq!(document.timeline.len(), 1);
    let event = &document.timeline[0];
    assert_eq!(event.status, "delivered");
    assert_eq!(event.raw_status, "delivered");
    let payload = event.raw_payload.as_deref().expect("the raw payload");
    assert!(payload.contains("MessageStatus = delivered"), "{payload}");
    assert!(payload.contains("••0100"), "{payload}");
    let actions: Vec<&str> = document.audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["reveal", "evidence_export"]);
    assert_eq!(
        document.audit[1].actor_email.as_deref(),
        Some("boss@example.com")
    );

    // The export is audited, and a later export lists the earlier one.
    let rows = app.db.audit("evidence_export").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message_id.as_deref(), Some(id.as_str()));
    assert_eq!(rows[0].actor_email.as_deref(), Some("boss@example.com"));
    assert_eq!(rows[0].client_addr.as_deref(), Some("127.0.0.1"));
    let again = verify(&app, &download(&client, &id).await.body).expect("verifies");
    let exports = again
        .audit
        .iter()
        .filter(|a| a.action == "evidence_export")
        .count();
    assert_eq!(exports, 2);

    // The command line agrees.
    let output = verify_cli(&app, &file.body);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.starts_with("valid: signed by this smstrail's data key"),
        "{stdout}"
    );
    assert!(stdout.contains(&id), "{stdout}");

    // One byte changed, anywhere: refused.
    for i in 0..file.body.len() {
        let mut changed = file.body.clone();
        changed[i] ^= 0x01;
        assert!(
            verify(&app, &changed).is_err(),
            "byte {i} of {} changed unnoticed",
            file.body.len()
        );
    }
    // Inside the document, a digit of the message's own time.
    let at = text.find("\"registered_at\": \"").expect("registered_at") + 18;
    let mut changed = file.body.clone();
    changed[at + 3] = if changed[at + 3] == b'9' { b'8' } else { b'9' };
    assert_eq!(verify(&app, &changed), Err(EvidenceError::Tampered));
    let output = verify_cli(&app, &changed);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid"), "{stderr}");
    assert!(stderr.contains("changed after export"), "{stderr}");
    // Not JSON at all.
    let output = verify_cli(&app, b"hello");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not a smstrail evidence file"),
        "{output:?}"
    );
}

#[tokio::test]
async fn an_agent_needs_a_live_grant_and_a_refusal_exports_nothing() {
    let app = TestApp::spawn().await;
    let id = message_with_history(&app).await;
    let admin = app.user("boss@example.com", "admin").await;
    let (agent, agent_user) = app.logged_in("agent@example.com", "support").await;

    let page = agent.get(&format!("/messages/{id}")).await;
    assert!(!page.body.contains("/evidence\""), "{}", page.body);
    assert!(page.text().contains("needs a live reveal grant"));
    let refused = download(&agent, &id).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let body = String::from_utf8_lossy(&refused.body);
    assert!(body.contains("needs a live reveal grant"), "{body}");
    assert!(!body.contains(FULL_DIGITS));
    // An expired grant is no grant.
    app.grant(&agent_user, &admin, -1).await;
    assert_eq!(download(&agent, &id).await.status, StatusCode::FORBIDDEN);
    assert!(app.db.audit("evidence_export").await.is_empty());

    app.grant(&agent_user, &admin, 1).await;
    let page = agent.get(&format!("/messages/{id}")).await;
    assert!(
        page.body
            .contains(&format!("href=\"/messages/{id}/evidence\""))
    );
    let file = download(&agent, &id).await;
    assert_eq!(file.status, StatusCode::OK);
    let document = verify(&app, &file.body).expect("verifies");
    assert_eq!(document.exported_by, "agent@example.com");
    let rows = app.db.audit("evidence_export").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_email.as_deref(), Some("agent@example.com"));

    // Unknown message: 404, nothing audited; logged out: the login page.
    assert_eq!(
        download(&agent, "no-such-message").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.db.audit("evidence_export").await.len(), 1);
    let anonymous = download(&UiClient::new(&app), &id).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}
