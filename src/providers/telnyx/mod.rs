//! Telnyx Messaging, webhook API v2 (providers.md §3): JSON events signed
//! with the account's ed25519 key over `{telnyx-timestamp}|{raw body}`, the
//! timestamp held to a 5-minute window.
//!
//! Telnyx sends every messaging event of a messaging profile (`message.sent`,
//! `message.finalized`, `message.received`) to that profile's one webhook
//! URL, so the event type decides what a request is, not the route: both
//! `/webhooks/telnyx/status` and `/webhooks/telnyx/inbound` accept every
//! event type. The signature does not cover the URL, so a request moved to
//! the other route is the same event, deduplicated on its `data.id`.

mod parse;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{PUBLIC_KEY_LENGTH, Signature, Signer, SigningKey, VerifyingKey};

use super::common::{fresh_timestamp, header};
use super::{ParseError, Provider, Report, Route, VerifyError, WebhookRequest};
use crate::config::Config;

const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
const TIMESTAMP_HEADER: &str = "telnyx-timestamp";

pub struct Telnyx {
    public_key: VerifyingKey,
}

impl Telnyx {
    /// `public_key`: the account's public key as Mission Control shows it,
    /// the base64 of the raw 32-byte ed25519 key.
    pub fn new(public_key: &str) -> Result<Self, String> {
        decode_public_key(public_key).map(|public_key| Self { public_key })
    }

    pub fn from_config(config: &Config) -> Option<Self> {
        let key = config.telnyx_public_key.as_ref()?;
        Self::new(key.expose()).ok()
    }
}

/// The verifying key behind `SMSTRAIL_TELNYX_PUBLIC_KEY`. The SDKs accept
/// only the raw 32-byte key, so other lengths (a PEM or DER wrapping, a
/// truncated paste) are refused with the reason.
pub fn decode_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|e| format!("the public key is not valid base64 ({e})"))?;
    let bytes: [u8; PUBLIC_KEY_LENGTH] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "the public key is {} bytes; Telnyx ed25519 keys are {PUBLIC_KEY_LENGTH} (base64 of the raw key)",
            bytes.len()
        )
    })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "the public key is not an ed25519 point".to_owned())
}

/// The `telnyx-signature-ed25519` value Telnyx would send with `body` at
/// `timestamp`: for tests and the demo generator, which sign with a key of
/// their own and configure its public half.
pub fn sign(key: &SigningKey, timestamp: i64, body: &[u8]) -> String {
    let signature = key.sign(&signed_bytes(&timestamp.to_string(), body));
    BASE64.encode(signature.to_bytes())
}

/// The header value exactly as received (it is what Telnyx signed), `|`, body.
fn signed_bytes(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    signed
}

impl Provider for Telnyx {
    fn name(&self) -> &'static str {
        "telnyx"
    }

    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let signature = header(request.headers, &[SIGNATURE_HEADER])?;
        let timestamp = header(request.headers, &[TIMESTAMP_HEADER])?;
        fresh_timestamp(timestamp, TIMESTAMP_HEADER, request.now)?;
        // Not base64, or not 64 bytes, cannot be a signature: a plain mismatch.
        let signature = BASE64
            .decode(signature.trim())
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(VerifyError::Mismatch)?;
        // Strict: no small-order points or non-canonical encodings, which a
        // genuine signer never produces.
        self.public_key
            .verify_strict(&signed_bytes(timestamp, request.body), &signature)
            .map_err(|_| VerifyError::Mismatch)
    }

    /// The event type decides, on either route (see the module docs).
    fn parse(&self, _route: Route, request: &WebhookRequest<'_>) -> Result<Report, ParseError> {
        parse::report(request.body)
    }
}
