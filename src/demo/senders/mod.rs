//! How each provider would tell us what the plan says: one module per
//! provider builds the request that provider sends (its payload, its words
//! for each outcome, its real error codes, its signature), so the demo's
//! callbacks are verified and parsed exactly like a provider's.

mod plivo;
mod standard;
mod telnyx;
mod twilio;
mod vonage;

use axum::http::{HeaderMap, Method};
use chrono::{DateTime, Utc};

use super::plan::{Ending, Step};

/// The throwaway credentials the demo signs with, in-process only: the
/// configured secrets (if any) are neither needed nor used.
pub const CREDENTIALS: [(&str, &str); 5] = [
    ("SMSTRAIL_TWILIO_AUTH_TOKEN", "demo-twilio-auth-token"),
    (
        "SMSTRAIL_STANDARD_SECRET",
        "whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQ=",
    ),
    (
        "SMSTRAIL_VONAGE_SIGNATURE_SECRET",
        "demo-vonage-signature-secret",
    ),
    // RFC 8032 §7.1 TEST 1: the demo signs with its seed (TELNYX_SEED).
    (
        "SMSTRAIL_TELNYX_PUBLIC_KEY",
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ),
    ("SMSTRAIL_PLIVO_AUTH_TOKEN", "demo-plivo-auth-token"),
];

/// A request as the provider would send it.
#[derive(Debug, Clone)]
pub struct DemoRequest {
    pub method: Method,
    /// Path and query, appended to the public URL.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// One delivery callback to build.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub provider_message_id: &'a str,
    pub to: &'a str,
    pub from: &'a str,
    pub step: Step,
    /// Picks the error code among the provider's codes for this ending.
    pub error_pick: u32,
    /// When the provider says it happened.
    pub at: DateTime<Utc>,
    /// When the provider sends this attempt (signature timestamps).
    pub attempt_at: DateTime<Utc>,
    /// A value unique to this callback (event ids, nonces).
    pub nonce: u64,
}

/// One inbound message to build.
#[derive(Debug, Clone)]
pub struct Inbound<'a> {
    pub provider_message_id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub text: &'a str,
    pub at: DateTime<Utc>,
}

pub trait DemoSender: Send + Sync {
    fn name(&self) -> &'static str;
    /// A provider message id in the provider's own shape, unique per
    /// (`run`, `n`).
    fn message_id(&self, run: u32, n: u64) -> String;
    /// `None` for a step this provider does not report.
    fn delivery(&self, public_url: &str, delivery: &Delivery<'_>) -> Option<DemoRequest>;
    fn inbound(&self, public_url: &str, inbound: &Inbound<'_>) -> DemoRequest;
}

/// Every provider's sender.
pub fn all() -> Vec<Box<dyn DemoSender>> {
    vec![
        Box::new(twilio::TwilioSender::new(CREDENTIALS[0].1)),
        Box::new(standard::StandardSender::new(CREDENTIALS[1].1)),
        Box::new(vonage::VonageSender::new(
            CREDENTIALS[2].1,
            crate::config::VonageSignatureMethod::Md5Hash,
        )),
        Box::new(telnyx::TelnyxSender::new()),
        Box::new(plivo::PlivoSender::new(CREDENTIALS[4].1)),
    ]
}

/// The provider's code for `ending`, picked from its list.
fn pick<'a>(codes: &[&'a str], pick: u32) -> &'a str {
    codes[pick as usize % codes.len()]
}

/// The words a provider uses, per abstract step; `None` where it has no
/// error code to give.
pub struct Vocabulary {
    /// `None`: the provider does not report this step.
    pub queued: Option<&'static str>,
    pub sent: &'static str,
    pub unknown: &'static str,
    pub delivered: &'static str,
    /// (raw status, its error codes) per failed ending.
    pub undelivered: (&'static str, &'static [&'static str]),
    pub failed: (&'static str, &'static [&'static str]),
    pub expired: (&'static str, &'static [&'static str]),
    pub rejected: (&'static str, &'static [&'static str]),
}

impl Vocabulary {
    /// The raw status and error code a step is reported with; `None` for
    /// a step the provider does not report.
    pub fn words(
        &self,
        step: Step,
        error_pick: u32,
    ) -> Option<(&'static str, Option<&'static str>)> {
        let with_code = |(status, codes): (&'static str, &'static [&'static str])| {
            (status, (!codes.is_empty()).then(|| pick(codes, error_pick)))
        };
        Some(match step {
            Step::Queued => (self.queued?, None),
            Step::Sent => (self.sent, None),
            Step::Unknown => (self.unknown, None),
            Step::Final(Ending::Delivered) | Step::Final(Ending::Silent) => (self.delivered, None),
            Step::Final(Ending::Undelivered) => with_code(self.undelivered),
            Step::Final(Ending::Failed) => with_code(self.failed),
            Step::Final(Ending::Expired) => with_code(self.expired),
            Step::Final(Ending::Rejected) => with_code(self.rejected),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::providers::{Report, Route, WebhookRequest, configured};

    const PUBLIC_URL: &str = "https://demo.smstrail.example";

    fn providers() -> Vec<Box<dyn crate::providers::Provider>> {
        let env = CREDENTIALS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([("SMSTRAIL_PUBLIC_URL".to_owned(), PUBLIC_URL.to_owned())]);
        configured(&Config::from_sources(None, env).expect("config"))
    }

    fn verify_and_parse(route: Route, provider: &str, request: &DemoRequest) -> Report {
        let providers = providers();
        let provider = providers
            .iter()
            .find(|p| p.name() == provider)
            .expect("configured");
        let url = format!("{PUBLIC_URL}{}", request.path_and_query);
        let webhook = WebhookRequest {
            method: &request.method,
            url: &url,
            headers: &request.headers,
            body: &request.body,
            now: DateTime::from_timestamp(1_750_000_000, 0).expect("time"),
        };
        provider
            .verify(&webhook)
            .expect("the demo's request verifies");
        provider.parse(route, &webhook).expect("and parses")
    }

    #[test]
    fn every_sender_speaks_its_providers_format() {
        let at = DateTime::from_timestamp(1_750_000_000, 0).expect("time");
        for sender in all() {
            let id = sender.message_id(0xabc, 7);
            for step in [
                Step::Queued,
                Step::Sent,
                Step::Final(Ending::Delivered),
                Step::Final(Ending::Undelivered),
                Step::Final(Ending::Failed),
                Step::Final(Ending::Expired),
                Step::Final(Ending::Rejected),
            ] {
                let Some(request) = sender.delivery(
                    PUBLIC_URL,
                    &Delivery {
                        provider_message_id: &id,
                        to: "+14155550100",
                        from: "+14155550101",
                        step,
                        error_pick: 3,
                        at,
                        attempt_at: at,
                        nonce: 1,
                    },
                ) else {
                    continue;
                };
                match verify_and_parse(Route::Status, sender.name(), &request) {
                    Report::Delivery(report) => {
                        assert_eq!(report.provider_message_id, id);
                        assert!(report.status.is_some(), "{} {step:?}", sender.name());
                    }
                    other => panic!("{}: {other:?}", sender.name()),
                }
            }
            let unknown = sender
                .delivery(
                    PUBLIC_URL,
                    &Delivery {
                        provider_message_id: &id,
                        to: "+14155550100",
                        from: "+14155550101",
                        step: Step::Unknown,
                        error_pick: 0,
                        at,
                        attempt_at: at,
                        nonce: 2,
                    },
                )
                .expect("every provider reports an unknown word");
            match verify_and_parse(Route::Status, sender.name(), &unknown) {
                Report::Delivery(report) => assert_eq!(report.status, None, "{}", sender.name()),
                other => panic!("{other:?}"),
            }
            let inbound = sender.inbound(
                PUBLIC_URL,
                &Inbound {
                    provider_message_id: &sender.message_id(0xabc, 8),
                    from: "+14155550100",
                    to: "+14155550101",
                    text: "STOP",
                    at,
                },
            );
            match verify_and_parse(Route::Inbound, sender.name(), &inbound) {
                Report::Inbound(report) => assert_eq!(report.body, "STOP"),
                other => panic!("{other:?}"),
            }
        }
    }
}
