//! The message page's notes: error codes the catalog does not know, other
//! providers' codes sent through the Standard Webhooks route, and the
//! recipient's zone taken from their number's prefix.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::ui_helpers::*;

async fn agent(app: &TestApp) -> UiClient {
    app.logged_in("agent@example.com", "support").await.0
}

/// The text of the page's "What to do next" box.
fn next_step_box(text: &str) -> &str {
    let start = text.find("id=\"next-step\"").unwrap_or(0);
    let rest = &text[start..];
    &rest[..rest.find("</div>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn an_unknown_error_code_is_shown_with_a_note_that_names_it() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-39999").await;
    let mut params = twilio_status_params("SM-39999", "undelivered");
    params.push(("ErrorCode", "39999"));
    assert_eq!(app.twilio("status", &params).await.status(), StatusCode::OK);

    let page = agent(&app).await.get(&format!("/messages/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    let next = next_step_box(&text);
    assert!(
        next.contains("Error 39999: Not in our catalog."),
        "summary: {next}"
    );
    assert!(
        next.contains("The provider reported error code 39999"),
        "{next}"
    );
    assert!(next.contains("not in our catalog yet"), "{next}");
    let timeline = &text[text.find("id=\"timeline\"").unwrap_or(0)..];
    assert!(
        timeline.contains(
            "<strong>Not in our catalog</strong>: The provider reported error code 39999"
        ),
        "the timeline row has a note too: {timeline}"
    );
}

#[tokio::test]
async fn smpp_codes_from_a_standard_webhooks_sender_are_explained() {
    let app = TestApp::spawn().await;
    let id = app
        .register_id(&json!({
            "idempotency_key": "k-smpp",
            "to": "+14155550100",
            "provider": "standard",
            "provider_message_id": "std-smpp",
        }))
        .await;
    let body = json!({"type": "message.status", "timestamp": "2026-03-08T07:00:00Z",
        "data": {"provider_message_id": "std-smpp", "status": "rejected",
                 "error_code": "0x0000000b", "occurred_at": "2026-03-08T07:00:00Z"}});
    let response = app.standard("msg_smpp_1", now_unix(), &body).await;
    assert_eq!(response.status(), StatusCode::OK);

    let page = agent(&app).await.get(&format!("/messages/{id}")).await;
    let text = page.text();
    let next = next_step_box(&text);
    assert!(
        next.contains("Error 0x0000000b: ESME_RINVDSTADR: Invalid Dest Addr."),
        "the raw code as sent, the catalog's name: {next}"
    );
    assert!(next.contains("Confirm the number with the user"), "{next}");
}

#[tokio::test]
async fn the_recipient_zone_comes_from_the_numbers_area_code() {
    let app = TestApp::spawn().await;
    let id = app
        .register_id(&json!({
            "idempotency_key": "k-zone",
            "to": "+12125550100",
            "provider": "standard",
            "provider_message_id": "std-zone",
        }))
        .await;
    let at = "2026-03-08T07:00:00Z";
    let body = json!({"type": "message.status", "timestamp": at,
        "data": {"provider_message_id": "std-zone", "status": "delivered", "occurred_at": at}});
    let response = app.standard("msg_zone_1", now_unix(), &body).await;
    assert_eq!(response.status(), StatusCode::OK);

    let page = agent(&app).await.get(&format!("/messages/{id}")).await;
    let text = page.text();
    assert!(
        text.contains(
            "The recipient's zone, America/New_York, follows from their number's leading digits."
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "<time class=\"recipient\">2026-03-08 03:00:00.000 EDT (UTC\u{2212}04:00)</time>"
        ),
        "{text}"
    );
    assert!(!page.body.contains("2125550100"), "the number stays masked");
    assert!(page.text().contains("+1 •••• ••0100"));
}
