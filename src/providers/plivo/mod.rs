//! Plivo messaging (providers.md §4): message status callbacks (form POST,
//! or query GET when the send request chose GET) on the `url` given when
//! sending, and inbound messages on the application's `message_url`.
//!
//! Which signature is checked, without a setting of its own: a request that
//! carries a V3 header (`X-Plivo-Signature-V3` or `-Ma-V3`) must match V3,
//! which covers the URL, the query and every body parameter; only a request
//! with no V3 header at all is checked against V2 (`X-Plivo-Signature-V2` or
//! `-Ma-V2`), which is what Plivo documents for messaging and which covers
//! the URL path alone. A V3 mismatch is never retried as V2. Each scheme
//! accepts the subaccount header or the main-account (`Ma`) header, both
//! checked with the one configured Auth Token.
//!
//! No scheme is timestamped, so there is no window: a replay of an authentic
//! callback is recognized by deduplication (answered 2xx, stored once), and
//! a callback moved to another URL fails the signature. Under V2 the body is
//! not signed at all; see the README.

mod parse;
pub mod signature;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub use signature::{sign_v2, sign_v3};

use super::common::{Carrier, any_matches, header};
use super::{Acknowledgement, ParseError, Provider, Report, Route, VerifyError, WebhookRequest};
use crate::config::{Config, Secret};

const V3: &str = "X-Plivo-Signature-V3";
const V3_MAIN_ACCOUNT: &str = "X-Plivo-Signature-Ma-V3";
const V3_NONCE: &str = "X-Plivo-Signature-V3-Nonce";
const V2: &str = "X-Plivo-Signature-V2";
const V2_MAIN_ACCOUNT: &str = "X-Plivo-Signature-Ma-V2";
const V2_NONCE: &str = "X-Plivo-Signature-V2-Nonce";

pub struct Plivo {
    auth_token: Secret,
}

impl Plivo {
    pub fn new(auth_token: Secret) -> Self {
        Self { auth_token }
    }

    pub fn from_config(config: &Config) -> Option<Self> {
        config.plivo_auth_token.clone().map(Self::new)
    }
}

impl Provider for Plivo {
    fn name(&self) -> &'static str {
        "plivo"
    }

    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let carrier = match Carrier::of(request)? {
            // Plivo posts forms; a JSON body would be covered by no scheme.
            Carrier::Json => return Err(VerifyError::Malformed("content-type")),
            carrier => carrier,
        };
        let params = carrier.signed_body_params(request)?;
        let token = self.auth_token.expose();
        if let Some(candidates) = signatures(request, &[V3, V3_MAIN_ACCOUNT])? {
            let nonce = header(request.headers, &[V3_NONCE])?;
            let mac = signature::v3_mac(token, request.method, request.url, &params, nonce);
            any_matches(&mac, decoded(&candidates))
        } else if let Some(candidates) = signatures(request, &[V2, V2_MAIN_ACCOUNT])? {
            let nonce = header(request.headers, &[V2_NONCE])?;
            let mac = signature::v2_mac(token, request.url, nonce);
            any_matches(&mac, decoded(&candidates))
        } else {
            Err(VerifyError::Missing(
                "X-Plivo-Signature-V3 or X-Plivo-Signature-V2",
            ))
        }
    }

    fn parse(&self, route: Route, request: &WebhookRequest<'_>) -> Result<Report, ParseError> {
        parse::report(route, request)
    }

    fn acknowledgement(&self, route: Route) -> Acknowledgement {
        match route {
            Route::Inbound => Acknowledgement::EMPTY_XML_RESPONSE,
            Route::Status => Acknowledgement::EMPTY_TEXT,
        }
    }
}

/// Every signature in the `names` headers (each may list several, comma
/// separated), or `None` when the request carries none of those headers.
fn signatures(
    request: &WebhookRequest<'_>,
    names: &[&'static str],
) -> Result<Option<Vec<String>>, VerifyError> {
    let mut found = None;
    for name in names {
        let Some(value) = request.headers.get(*name) else {
            continue;
        };
        let value = value.to_str().map_err(|_| VerifyError::Malformed(name))?;
        found
            .get_or_insert_with(Vec::new)
            .extend(value.split(',').map(|s| s.trim().to_owned()));
    }
    Ok(found)
}

/// Not base64 cannot be the base64 of an HMAC: such entries never match.
fn decoded(candidates: &[String]) -> impl Iterator<Item = Vec<u8>> + '_ {
    candidates
        .iter()
        .filter_map(|candidate| BASE64.decode(candidate).ok())
}
