//! Vonage SMS API: delivery receipts and inbound messages as form POSTs
//! signed with `sig` over the sorted parameters (providers.md §2), with the
//! signature method the configuration names.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method};

use super::{Delivery, DemoRequest, DemoSender, Inbound, Vocabulary};
use crate::config::VonageSignatureMethod;
use crate::providers::vonage::sign;

/// Vonage reports `accepted` once; there is no separate "sent".
const WORDS: Vocabulary = Vocabulary {
    queued: None,
    sent: "accepted",
    unknown: "pending_carrier",
    delivered: "delivered",
    undelivered: ("failed", &["2", "3", "5", "7", "8", "12"]),
    failed: ("failed", &["1", "99"]),
    expired: ("expired", &["2"]),
    rejected: ("rejected", &["4", "6", "9", "10", "14"]),
};

const API_KEY: &str = "d3m0k3y1";

pub struct VonageSender {
    secret: &'static str,
    method: VonageSignatureMethod,
}

impl VonageSender {
    pub fn new(secret: &'static str, method: VonageSignatureMethod) -> Self {
        Self { secret, method }
    }

    fn form(
        &self,
        path: &str,
        mut params: Vec<(String, String)>,
        at: i64,
        nonce: u64,
    ) -> DemoRequest {
        params.push(("timestamp".to_owned(), at.to_string()));
        params.push(("nonce".to_owned(), format!("{nonce:016x}")));
        let sig = sign(self.secret, self.method, &params);
        params.push(("sig".to_owned(), sig));
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        DemoRequest {
            method: Method::POST,
            path_and_query: path.to_owned(),
            headers,
            body: body.into_bytes(),
        }
    }
}

/// Vonage writes numbers without their `+`.
fn bare(number: &str) -> &str {
    number.trim_start_matches('+')
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl DemoSender for VonageSender {
    fn name(&self) -> &'static str {
        "vonage"
    }

    fn message_id(&self, run: u32, n: u64) -> String {
        format!("{run:08X}{n:08X}")
    }

    fn delivery(&self, _public_url: &str, d: &Delivery<'_>) -> Option<DemoRequest> {
        let (status, code) = WORDS.words(d.step, d.error_pick)?;
        let scts = d.at.format("%y%m%d%H%M").to_string();
        let pushed = d.attempt_at.format("%Y-%m-%d %H:%M:%S").to_string();
        // `0` is Vonage's "no error".
        let err = code.unwrap_or("0");
        let params = pairs(&[
            ("msisdn", bare(d.to)),
            ("to", bare(d.from)),
            ("network-code", "23410"),
            ("messageId", d.provider_message_id),
            ("price", "0.03330000"),
            ("status", status),
            ("scts", &scts),
            ("err-code", err),
            ("api-key", API_KEY),
            ("message-timestamp", &pushed),
        ]);
        Some(self.form(
            "/webhooks/vonage/status",
            params,
            d.attempt_at.timestamp(),
            d.nonce,
        ))
    }

    fn inbound(&self, _public_url: &str, i: &Inbound<'_>) -> DemoRequest {
        let pushed = i.at.format("%Y-%m-%d %H:%M:%S").to_string();
        let params = pairs(&[
            ("api-key", API_KEY),
            ("msisdn", bare(i.from)),
            ("to", bare(i.to)),
            ("messageId", i.provider_message_id),
            ("text", i.text),
            ("type", "text"),
            (
                "keyword",
                i.text.split_whitespace().next().unwrap_or_default(),
            ),
            ("message-timestamp", &pushed),
        ]);
        self.form(
            "/webhooks/vonage/inbound",
            params,
            i.at.timestamp(),
            i.at.timestamp_micros() as u64,
        )
    }
}
