//! The published vectors (providers.md §2.5) and the provider as the ingest
//! pipeline drives it: verify, then parse, on GET, form and JSON requests.

mod requests;
mod vectors;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method};
use chrono::{DateTime, TimeZone, Utc};

use super::*;

use VonageSignatureMethod::*;

const ALL_METHODS: [VonageSignatureMethod; 5] = [Md5Hash, Md5, Sha1, Sha256, Sha512];
const URL: &str = "https://smstrail.example.com/webhooks/vonage/status";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).unwrap()
}

/// A request as the ingest pipeline hands it to the provider.
struct Req {
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Req {
    fn get(params: &[(String, String)]) -> Self {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        Self {
            method: Method::GET,
            url: format!("{URL}?{query}"),
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    fn form(params: &[(String, String)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        Self::post("application/x-www-form-urlencoded", body.into_bytes())
    }

    fn json_params(params: &[(String, String)]) -> Self {
        let object: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
            .collect();
        Self::post("application/json", serde_json::to_vec(&object).unwrap())
    }

    fn post(content_type: &str, body: Vec<u8>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        Self {
            method: Method::POST,
            url: URL.to_owned(),
            headers,
            body,
        }
    }

    fn bearer(mut self, token: &str) -> Self {
        self.headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        self
    }

    fn request(&self, now: DateTime<Utc>) -> WebhookRequest<'_> {
        WebhookRequest {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            body: &self.body,
            now,
        }
    }

    fn verify(
        &self,
        secret: &str,
        method: VonageSignatureMethod,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        Vonage::new(Secret::new(secret), method).verify(&self.request(now))
    }

    fn parse(&self, route: Route) -> Result<Report, ParseError> {
        Vonage::new(Secret::new(SECRET), Md5Hash).parse(route, &self.request(at(NOW)))
    }
}

const SECRET: &str = "vonage-test-secret";
const NOW: i64 = 1_718_276_561;

/// A receipt as the SMS API sends it, signed at `timestamp`.
fn signed_receipt(method: VonageSignatureMethod, timestamp: i64) -> Vec<(String, String)> {
    let mut params = pairs(&[
        ("msisdn", "447700900000"),
        ("to", "AcmeInc"),
        ("network-code", "23410"),
        ("messageId", "0B00000127FDBC63"),
        ("price", "0.03330000"),
        ("status", "delivered"),
        ("scts", "2406131102"),
        ("err-code", "0"),
        ("api-key", "a1b2c3d4"),
        ("client-ref", "ticket-8812&co=1"),
        ("message-timestamp", "2024-06-13 11:02:41"),
        ("nonce", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
    ]);
    params.push(("timestamp".to_owned(), timestamp.to_string()));
    let sig = sign(SECRET, method, &params);
    params.push(("sig".to_owned(), sig));
    params
}
