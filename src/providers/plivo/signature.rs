//! Plivo's request signatures (providers.md §4.4), as the official helpers
//! compute them (plivo-python `signature_v3.py`, plivo-go `utils.go`).
//!
//! V3: HMAC-SHA256 with the Auth Token over the URL rebuilt with its
//! parameters, then `.` and the nonce:
//! * GET: `scheme://host/path` + `?` + the query parameters sorted, as
//!   `name=value` joined by `&` (nothing after the path when there are none);
//! * POST: `scheme://host/path`, then `?` + the sorted query as above when
//!   the URL has one, then `.` when it has one and the body has parameters,
//!   then the body parameters sorted and concatenated as `namevalue` (with a
//!   `?` first when the URL had no query).
//!
//! Values are the decoded ones (plivo-python decodes the query; plivo-go
//! keeps it raw, which differs only for a query with escapes, and smstrail's
//! own routes have none). Repeated names are sorted by value.
//!
//! V2: HMAC-SHA256 over `scheme://host/path` (no query) + nonce. It covers
//! neither the body nor the query.

use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::super::common::{decode_form, hmac, query_of, sorted_pairs, without_query};

type HmacSha256 = Hmac<Sha256>;

/// The `X-Plivo-Signature-V3` Plivo sends for a request to `url` with
/// `params`: the form body of a POST, or for a GET any parameters beside the
/// URL's own query (the query wins on a shared name, as in plivo-python).
pub fn sign_v3(
    auth_token: &str,
    method: &Method,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
) -> String {
    BASE64.encode(
        v3_mac(auth_token, method, url, params, nonce)
            .finalize()
            .into_bytes(),
    )
}

/// The `X-Plivo-Signature-V2` Plivo sends for a request to `url`.
pub fn sign_v2(auth_token: &str, url: &str, nonce: &str) -> String {
    BASE64.encode(v2_mac(auth_token, url, nonce).finalize().into_bytes())
}

pub(super) fn v3_mac(
    auth_token: &str,
    method: &Method,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
) -> HmacSha256 {
    let mut mac: HmacSha256 = hmac(auth_token.as_bytes());
    mac.update(v3_signed_url(method, url, params).as_bytes());
    mac.update(b".");
    mac.update(nonce.as_bytes());
    mac
}

pub(super) fn v2_mac(auth_token: &str, url: &str, nonce: &str) -> HmacSha256 {
    let mut mac: HmacSha256 = hmac(auth_token.as_bytes());
    mac.update(without_query(url).as_bytes());
    mac.update(nonce.as_bytes());
    mac
}

/// The URL part of the V3 signed string (see the module docs).
fn v3_signed_url(method: &Method, url: &str, params: &[(String, String)]) -> String {
    let mut signed = without_query(url).to_owned();
    let mut query = decode_form(query_of(url).as_bytes());
    if *method == Method::GET {
        let extra: Vec<(String, String)> = params
            .iter()
            .filter(|(name, _)| !query.iter().any(|(n, _)| n == name))
            .cloned()
            .collect();
        query.extend(extra);
        if !query.is_empty() {
            signed.push('?');
            signed.push_str(&joined_query(&query));
        }
        return signed;
    }
    if !query.is_empty() || !params.is_empty() {
        signed.push('?');
    }
    if !query.is_empty() {
        signed.push_str(&joined_query(&query));
        if !params.is_empty() {
            signed.push('.');
        }
    }
    for (name, value) in sorted_pairs(params) {
        signed.push_str(name);
        signed.push_str(value);
    }
    signed
}

fn joined_query(pairs: &[(String, String)]) -> String {
    sorted_pairs(pairs)
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::super::super::common::testing::pairs;
    use super::*;

    #[test]
    fn signed_url_shapes() {
        let base = "https://h.example/p";
        let body = pairs(&[("b", "2"), ("a", "1 2"), ("a", "0")]);
        for (method, url, params, expected) in [
            (
                Method::POST,
                base,
                &body[..],
                "https://h.example/p?a0a1 2b2",
            ),
            (Method::POST, base, &[][..], "https://h.example/p"),
            (
                Method::POST,
                "https://h.example/p?y=2&x=1",
                &body[..],
                "https://h.example/p?x=1&y=2.a0a1 2b2",
            ),
            (
                Method::POST,
                "https://h.example/p?y=2&x=1",
                &[][..],
                "https://h.example/p?x=1&y=2",
            ),
            (
                Method::GET,
                "https://h.example/p?y=2&x=%2B1",
                &[][..],
                "https://h.example/p?x=+1&y=2",
            ),
            (Method::GET, base, &[][..], "https://h.example/p"),
            (
                Method::GET,
                "https://h.example/p?x=1",
                &pairs(&[("x", "9"), ("w", "0")])[..],
                "https://h.example/p?w=0&x=1",
            ),
        ] {
            assert_eq!(
                v3_signed_url(&method, url, params),
                expected,
                "{method} {url}"
            );
        }
    }
}
