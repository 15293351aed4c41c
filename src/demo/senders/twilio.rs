//! Twilio: form POSTs signed with `X-Twilio-Signature` (providers.md §1).

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method};

use super::{Delivery, DemoRequest, DemoSender, Inbound, Vocabulary};
use crate::providers::twilio::sign;

const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";

const WORDS: Vocabulary = Vocabulary {
    queued: Some("queued"),
    sent: "sent",
    unknown: "carrier_hold",
    delivered: "delivered",
    undelivered: (
        "undelivered",
        &["30003", "30005", "30006", "30008", "30017"],
    ),
    failed: ("failed", &["30007", "30034", "30410", "30500"]),
    expired: ("undelivered", &["30036"]),
    rejected: ("failed", &["21610", "21614", "30004", "30032"]),
};

pub struct TwilioSender {
    auth_token: &'static str,
}

impl TwilioSender {
    pub fn new(auth_token: &'static str) -> Self {
        Self { auth_token }
    }

    fn form(&self, public_url: &str, path: &str, params: Vec<(String, String)>) -> DemoRequest {
        let signature = sign(self.auth_token, &format!("{public_url}{path}"), &params);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        if let Ok(value) = HeaderValue::from_str(&signature) {
            headers.insert("X-Twilio-Signature", value);
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

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl DemoSender for TwilioSender {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn message_id(&self, run: u32, n: u64) -> String {
        format!("SM{run:08x}{n:024x}")
    }

    fn delivery(&self, public_url: &str, d: &Delivery<'_>) -> Option<DemoRequest> {
        let (status, code) = WORDS.words(d.step, d.error_pick)?;
        let mut params = pairs(&[
            ("MessageSid", d.provider_message_id),
            ("SmsSid", d.provider_message_id),
            ("AccountSid", ACCOUNT_SID),
            ("From", d.from),
            ("To", d.to),
            ("MessageStatus", status),
            ("SmsStatus", status),
            ("ApiVersion", "2010-04-01"),
        ]);
        if let Some(code) = code {
            params.push(("ErrorCode".to_owned(), code.to_owned()));
        }
        if matches!(d.step, super::Step::Final(_)) {
            // The carrier's receipt time, which Twilio adds to final statuses.
            params.push((
                "RawDlrDoneDate".to_owned(),
                d.at.format("%y%m%d%H%M").to_string(),
            ));
        }
        Some(self.form(public_url, "/webhooks/twilio/status", params))
    }

    fn inbound(&self, public_url: &str, i: &Inbound<'_>) -> DemoRequest {
        let params = pairs(&[
            ("MessageSid", i.provider_message_id),
            ("SmsMessageSid", i.provider_message_id),
            ("AccountSid", ACCOUNT_SID),
            ("From", i.from),
            ("To", i.to),
            ("Body", i.text),
            ("NumSegments", "1"),
            ("ApiVersion", "2010-04-01"),
        ]);
        self.form(public_url, "/webhooks/twilio/inbound", params)
    }
}
