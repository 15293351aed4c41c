//! Telnyx: JSON v2 events (`message.sent`, `message.finalized`,
//! `message.received`) signed with ed25519 over `timestamp|body`
//! (providers.md §3).

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method};
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use super::{Delivery, DemoRequest, DemoSender, Inbound, Step, Vocabulary};
use crate::providers::telnyx::sign;

/// RFC 8032 §7.1 TEST 1's secret key: its public half is the demo's
/// `SMSTRAIL_TELNYX_PUBLIC_KEY`.
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

const WORDS: Vocabulary = Vocabulary {
    queued: None,
    sent: "sent",
    unknown: "carrier_pending",
    delivered: "delivered",
    undelivered: ("delivery_failed", &["40001", "40006", "40008", "40012"]),
    failed: ("sending_failed", &["40011", "40318", "40333"]),
    expired: ("expired", &["40005", "40014"]),
    rejected: ("delivery_failed", &["40002", "40003", "40010", "40300"]),
};

pub struct TelnyxSender {
    key: SigningKey,
}

impl TelnyxSender {
    pub fn new() -> Self {
        Self {
            key: SigningKey::from_bytes(&SEED),
        }
    }

    fn event(&self, path: &str, event: Value, attempt_at: DateTime<Utc>) -> DemoRequest {
        let body = json!({
            "data": event,
            "meta": {"attempt": 1, "delivered_to": format!("https://demo.example{path}")},
        })
        .to_string()
        .into_bytes();
        let timestamp = attempt_at.timestamp();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in [
            (
                "telnyx-signature-ed25519",
                sign(&self.key, timestamp, &body),
            ),
            ("telnyx-timestamp", timestamp.to_string()),
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

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl DemoSender for TelnyxSender {
    fn name(&self) -> &'static str {
        "telnyx"
    }

    fn message_id(&self, run: u32, n: u64) -> String {
        format!("{run:08x}-{:04x}-4000-8000-{n:012x}", n >> 48)
    }

    fn delivery(&self, _public_url: &str, d: &Delivery<'_>) -> Option<DemoRequest> {
        let (status, code) = WORDS.words(d.step, d.error_pick)?;
        let event_type = match d.step {
            Step::Sent => "message.sent",
            _ => "message.finalized",
        };
        let errors: Vec<Value> = code
            .map(|code| json!({"code": code, "title": "delivery failed"}))
            .into_iter()
            .collect();
        let event = json!({
            "record_type": "event",
            "event_type": event_type,
            // The same event keeps its id when Telnyx retries it.
            "id": format!("ev-{}-{status}-{}", d.provider_message_id, d.at.timestamp_millis()),
            "occurred_at": time(d.at),
            "payload": {
                "id": d.provider_message_id,
                "record_type": "message",
                "direction": "outbound",
                "from": {"phone_number": d.from},
                "to": [{"phone_number": d.to, "status": status}],
                "errors": errors,
            },
        });
        Some(self.event("/webhooks/telnyx/status", event, d.attempt_at))
    }

    fn inbound(&self, _public_url: &str, i: &Inbound<'_>) -> DemoRequest {
        let event = json!({
            "record_type": "event",
            "event_type": "message.received",
            "id": format!("ev-in-{}", i.provider_message_id),
            "occurred_at": time(i.at),
            "payload": {
                "id": i.provider_message_id,
                "record_type": "message",
                "direction": "inbound",
                "from": {"phone_number": i.from},
                "to": [{"phone_number": i.to, "status": "webhook_delivered"}],
                "text": i.text,
            },
        });
        self.event("/webhooks/telnyx/inbound", event, i.at)
    }
}
