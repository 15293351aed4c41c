//! Vonage (providers.md §2). Two Vonage products call the same two routes:
//!
//! - the **SMS API** sends delivery receipts and inbound messages as a GET
//!   query string, a POST form or a POST JSON object, signed with the `sig`
//!   parameter ([`signature`]);
//! - the **Messages API** sends JSON, signed with an `Authorization: Bearer`
//!   JWT (HS256) whose `payload_hash` binds the body ([`jwt`]).
//!
//! Both are keyed with the account's signature secret. Whether the request
//! carries a bearer token decides which of the two it is, for the signature
//! check and for parsing alike, so an SMS API payload can never be read as
//! authenticated by a token or the other way round.
//!
//! Neither scheme signs the URL: a payload signed for one route and posted
//! to the other is authentic, and lands in review because it does not fit.

mod jwt;
mod messages_api;
mod params;
mod signature;
mod sms_api;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::{Acknowledgement, ParseError, Provider, Report, Route, VerifyError, WebhookRequest};
use crate::config::{Config, Secret, VonageSignatureMethod};

pub use jwt::sign_jwt;
pub use signature::sign;

/// Vonage wants 200 or 204; the body is ignored.
const EMPTY: Acknowledgement = Acknowledgement {
    content_type: "text/plain; charset=utf-8",
    body: "",
};

pub struct Vonage {
    secret: Secret,
    method: VonageSignatureMethod,
}

impl Vonage {
    pub fn new(secret: Secret, method: VonageSignatureMethod) -> Self {
        Self { secret, method }
    }

    pub fn from_config(config: &Config) -> Option<Self> {
        let secret = config.vonage_signature_secret.clone()?;
        Some(Self::new(secret, config.vonage_signature_method))
    }
}

impl Provider for Vonage {
    fn name(&self) -> &'static str {
        "vonage"
    }

    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let secret = self.secret.expose();
        match bearer_token(request.headers)? {
            Some(token) => jwt::verify(secret, token, request.body, request.now),
            None => {
                let params =
                    params::Params::read(request).map_err(|e| VerifyError::Malformed(e.what()))?;
                signature::verify(secret, self.method, &params, request.now)
            }
        }
    }

    fn parse(&self, route: Route, request: &WebhookRequest<'_>) -> Result<Report, ParseError> {
        let messages_api = bearer_token(request.headers)
            .map_err(|e| ParseError::new(e.to_string()))?
            .is_some();
        if messages_api {
            return messages_api::parse(route, request.body);
        }
        let params = params::Params::read(request).map_err(|e| ParseError::new(e.to_string()))?;
        sms_api::parse(route, &params)
    }

    fn acknowledgement(&self, _route: Route) -> Acknowledgement {
        EMPTY
    }
}

/// The Messages API's bearer token, if the request carries one. Any other
/// `Authorization` is refused: the SMS API sends none.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, VerifyError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| VerifyError::Malformed("Authorization"))?
        .trim();
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(VerifyError::Malformed("Authorization"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(VerifyError::Malformed("Authorization"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(VerifyError::Missing("bearer token"));
    }
    Ok(Some(token))
}

/// Vonage writes numbers without the `+` (`447700900000`); smstrail keeps
/// E.164. Anything that is not all digits (an alphanumeric sender such as
/// `AcmeInc`, a short code written otherwise) is kept as given.
fn e164(number: &str) -> String {
    let number = number.trim();
    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{number}")
    } else {
        number.to_owned()
    }
}

#[cfg(test)]
mod tests;
