//! One module per provider. Each verifies its own signature scheme on the raw
//! request and parses its own payload into the domain's normalized reports;
//! the ingest pipeline never sees a provider format. Adding a provider is one
//! new file here and one line in [`configured`].

mod common;
pub mod fuzzing;
pub mod plivo;
pub mod standard;
pub mod telnyx;
pub mod twilio;
pub mod vonage;

use axum::http::{HeaderMap, Method};
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::{DeliveryReport, InboundPart, InboundReport};

/// Which of the two ingest routes a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Status,
    Inbound,
}

/// A webhook request as received, before anything is trusted.
#[derive(Debug)]
pub struct WebhookRequest<'a> {
    pub method: &'a Method,
    /// The URL the provider called, rebuilt from `SMSTRAIL_PUBLIC_URL` plus the
    /// request's path and query exactly as received.
    pub url: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The clock, injected so timestamp windows are testable.
    pub now: DateTime<Utc>,
}

/// Why a request was refused as not authentic (answered 401, nothing stored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("signature does not match")]
    Mismatch,
    #[error("timestamp outside the accepted window")]
    StaleTimestamp,
}

/// An authentic payload that could not be read (goes to the review queue).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// What an authentic callback says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Delivery(DeliveryReport),
    Inbound(InboundReport),
    /// One part of a long inbound message, for providers that deliver the
    /// parts one by one (see [`crate::domain::inbound_parts`]).
    InboundPart(InboundReport, InboundPart),
}

/// The answer a provider expects on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledgement {
    pub content_type: &'static str,
    pub body: &'static str,
}

impl Acknowledgement {
    pub const EMPTY_JSON: Self = Self {
        content_type: "application/json",
        body: "{}",
    };

    /// An empty `<Response>`: Twilio (TwiML) and Plivo (Plivo XML) read it as
    /// "send no reply" on their inbound webhooks.
    pub const EMPTY_XML_RESPONSE: Self = Self {
        content_type: "text/xml",
        body: r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#,
    };

    pub const EMPTY_TEXT: Self = Self {
        content_type: "text/plain; charset=utf-8",
        body: "",
    };
}

pub trait Provider: Send + Sync + 'static {
    /// The `{provider}` path segment, also the provider name stored with events.
    fn name(&self) -> &'static str;

    /// Checks the request is authentic, on the raw bytes and the public URL.
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError>;

    /// Reads an authentic request. Only called after [`Provider::verify`] passed.
    fn parse(&self, route: Route, request: &WebhookRequest<'_>) -> Result<Report, ParseError>;

    /// The body answered with 2xx on `route`.
    fn acknowledgement(&self, _route: Route) -> Acknowledgement {
        Acknowledgement::EMPTY_JSON
    }
}

/// The providers that have credentials in `config`; the others answer 404.
pub fn configured(config: &Config) -> Vec<Box<dyn Provider>> {
    [
        twilio::Twilio::from_config(config).map(|p| Box::new(p) as Box<dyn Provider>),
        telnyx::Telnyx::from_config(config).map(|p| Box::new(p) as Box<dyn Provider>),
        plivo::Plivo::from_config(config).map(|p| Box::new(p) as Box<dyn Provider>),
        standard::StandardWebhooks::from_config(config).map(|p| Box::new(p) as Box<dyn Provider>),
        vonage::Vonage::from_config(config).map(|p| Box::new(p) as Box<dyn Provider>),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// CONTRACT §3 step 2: a timestamped scheme accepts a request signed within
/// this many seconds of now, either way (clocks drift both ways).
pub const TIMESTAMP_TOLERANCE_SECS: u64 = 5 * 60;

/// Whether a signed Unix `timestamp` is inside the window around `now`.
pub fn check_timestamp(timestamp: i64, now: DateTime<Utc>) -> Result<(), VerifyError> {
    if timestamp.abs_diff(now.timestamp()) > TIMESTAMP_TOLERANCE_SECS {
        Err(VerifyError::StaleTimestamp)
    } else {
        Ok(())
    }
}

/// Compares a received digest with the expected one without leaking, through
/// timing, how much of it was right.
pub fn digests_match(received: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    received.ct_eq(expected).into()
}

/// Every provider smstrail knows, configured or not.
pub const KNOWN: [&str; 5] = ["twilio", "vonage", "telnyx", "plivo", "standard"];
