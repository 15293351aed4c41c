//! Plivo: form POSTs signed with `X-Plivo-Signature-V3` and its nonce
//! (providers.md §4).

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method};
use chrono::{DateTime, Utc};

use super::{Delivery, DemoRequest, DemoSender, Inbound, Vocabulary};
use crate::providers::plivo::sign_v3;

const WORDS: Vocabulary = Vocabulary {
    queued: Some("queued"),
    sent: "sent",
    unknown: "carrier_pending",
    delivered: "delivered",
    undelivered: ("undelivered", &["20", "70", "80", "90"]),
    failed: ("failed", &["300", "900", "1000"]),
    expired: ("undelivered", &["420"]),
    rejected: ("rejected", &["30", "50", "100", "200"]),
};

pub struct PlivoSender {
    auth_token: &'static str,
}

impl PlivoSender {
    pub fn new(auth_token: &'static str) -> Self {
        Self { auth_token }
    }

    fn form(
        &self,
        public_url: &str,
        path: &str,
        params: Vec<(String, String)>,
        nonce: u64,
    ) -> DemoRequest {
        let nonce = format!("{nonce:020}");
        let signature = sign_v3(
            self.auth_token,
            &Method::POST,
            &format!("{public_url}{path}"),
            &params,
            &nonce,
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        for (name, value) in [
            ("X-Plivo-Signature-V3", signature),
            ("X-Plivo-Signature-V3-Nonce", nonce),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
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

/// Plivo writes numbers without their `+`.
fn bare(number: &str) -> &str {
    number.trim_start_matches('+')
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl DemoSender for PlivoSender {
    fn name(&self) -> &'static str {
        "plivo"
    }

    fn message_id(&self, run: u32, n: u64) -> String {
        format!("{run:08x}-aaaa-11ee-9000-{n:012x}")
    }

    fn delivery(&self, public_url: &str, d: &Delivery<'_>) -> Option<DemoRequest> {
        let (status, code) = WORDS.words(d.step, d.error_pick)?;
        let at = time(d.at);
        let mut params = pairs(&[
            ("MessageUUID", d.provider_message_id),
            ("Status", status),
            ("From", bare(d.from)),
            ("To", bare(d.to)),
            ("TotalRate", "0.0050"),
            ("Units", "1"),
            ("MessageTime", &at),
        ]);
        if let Some(code) = code {
            params.push(("ErrorCode".to_owned(), code.to_owned()));
        }
        if matches!(d.step, super::Step::Final(_)) {
            params.push(("DeliveryReportTime".to_owned(), at.clone()));
        }
        Some(self.form(public_url, "/webhooks/plivo/status", params, d.nonce))
    }

    fn inbound(&self, public_url: &str, i: &Inbound<'_>) -> DemoRequest {
        let params = pairs(&[
            ("MessageUUID", i.provider_message_id),
            ("From", bare(i.from)),
            ("To", bare(i.to)),
            ("Text", i.text),
            ("Type", "sms"),
            ("Units", "1"),
        ]);
        self.form(
            public_url,
            "/webhooks/plivo/inbound",
            params,
            i.at.timestamp_micros() as u64,
        )
    }
}
