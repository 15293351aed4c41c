//! Standard Webhooks senders: the `message.status` / `message.inbound`
//! envelope of CONTRACT §3, signed with `webhook-signature`.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method};
use chrono::SecondsFormat;
use serde_json::json;

use super::{Delivery, DemoRequest, DemoSender, Inbound, Vocabulary};
use crate::providers::standard::{decode_secret, sign};

const WORDS: Vocabulary = Vocabulary {
    queued: Some("queued"),
    sent: "sent",
    unknown: "handset_ack_pending",
    delivered: "delivered",
    undelivered: ("undelivered", &["absent_subscriber", "unknown_subscriber"]),
    failed: ("failed", &["throttled", "internal_error"]),
    expired: ("expired", &[]),
    rejected: ("rejected", &["blocked_content", "opted_out"]),
};

pub struct StandardSender {
    key: Vec<u8>,
}

impl StandardSender {
    pub fn new(secret: &str) -> Self {
        Self {
            key: decode_secret(secret).unwrap_or_default(),
        }
    }

    fn post(
        &self,
        path: &str,
        event_id: &str,
        attempt_at: i64,
        body: serde_json::Value,
    ) -> DemoRequest {
        let body = body.to_string().into_bytes();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let signature = sign(&self.key, event_id, attempt_at, &body);
        for (name, value) in [
            ("webhook-id", event_id.to_owned()),
            ("webhook-timestamp", attempt_at.to_string()),
            ("webhook-signature", signature),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        DemoRequest {
            method: Method::POST,
            path_and_query: path.to_owned(),
            headers,
            body,
        }
    }
}

impl DemoSender for StandardSender {
    fn name(&self) -> &'static str {
        "standard"
    }

    fn message_id(&self, run: u32, n: u64) -> String {
        format!("std_{run:08x}_{n}")
    }

    fn delivery(&self, _public_url: &str, d: &Delivery<'_>) -> Option<DemoRequest> {
        let (status, code) = WORDS.words(d.step, d.error_pick)?;
        let occurred_at = d.at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let body = json!({
            "type": "message.status",
            "timestamp": d.attempt_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "data": {
                "provider_message_id": d.provider_message_id,
                "status": status,
                "error_code": code,
                "occurred_at": occurred_at,
            },
        });
        // The event id stays the same when the sender retries it.
        let event_id = format!(
            "msg_{}_{status}_{}",
            d.provider_message_id,
            d.at.timestamp_millis()
        );
        Some(self.post(
            "/webhooks/standard/status",
            &event_id,
            d.attempt_at.timestamp(),
            body,
        ))
    }

    fn inbound(&self, _public_url: &str, i: &Inbound<'_>) -> DemoRequest {
        let body = json!({
            "type": "message.inbound",
            "timestamp": i.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "data": {
                "provider_message_id": i.provider_message_id,
                "from": i.from,
                "to": i.to,
                "body": i.text,
                "occurred_at": i.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            },
        });
        self.post(
            "/webhooks/standard/inbound",
            &format!("msg_in_{}", i.provider_message_id),
            i.at.timestamp(),
            body,
        )
    }
}
