//! Arbitrary requests against every provider, shared by the `cargo fuzz`
//! targets (`fuzz/`) and the property tests run by `.ci/run`. Two promises
//! are checked: nothing panics on any bytes, headers or URL, and nothing
//! verifies without the key (random bytes never carry a valid signature).

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use chrono::{DateTime, Utc};

use super::{Provider, Route, WebhookRequest, configured};
use crate::config::Config;

/// Throwaway credentials for every provider. The Telnyx key is the RFC 8032
/// test key (any 32 bytes are not a valid ed25519 point).
pub const CREDENTIALS: [(&str, &str); 6] = [
    ("SMSTRAIL_TWILIO_AUTH_TOKEN", "fuzz-twilio-token"),
    (
        "SMSTRAIL_STANDARD_SECRET",
        "whsec_ZnV6ei1zdGFuZGFyZC1zZWNyZXQ=",
    ),
    ("SMSTRAIL_VONAGE_SIGNATURE_SECRET", "fuzz-vonage-secret"),
    (
        "SMSTRAIL_TELNYX_PUBLIC_KEY",
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ),
    ("SMSTRAIL_PLIVO_AUTH_TOKEN", "fuzz-plivo-token"),
    ("SMSTRAIL_PUBLIC_URL", "https://smstrail.example"),
];

/// Every provider smstrail implements, configured with [`CREDENTIALS`].
pub fn providers() -> Vec<Box<dyn Provider>> {
    let env = CREDENTIALS
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()));
    match Config::from_sources(None, env) {
        Ok(config) => configured(&config),
        Err(error) => panic!("the fuzzing credentials are a valid configuration: {error}"),
    }
}

/// A request decoded from arbitrary bytes: a header byte picks the method
/// and route, then `0xFF`-separated parts give the URL's path and query,
/// header lines (`name: value`) and the body.
#[derive(Debug)]
pub struct ArbitraryRequest {
    pub method: Method,
    pub route: Route,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ArbitraryRequest {
    pub fn from_bytes(data: &[u8]) -> Self {
        let (first, rest) = data.split_first().map_or((0, data), |(f, r)| (*f, r));
        let mut parts = rest.splitn(3, |b| *b == 0xFF);
        let path = parts.next().unwrap_or_default();
        let header_block = parts.next().unwrap_or_default();
        let body = parts.next().unwrap_or_default().to_vec();
        let mut headers = HeaderMap::new();
        for line in header_block.split(|b| *b == b'\n') {
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_bytes(value.trim_ascii()),
            ) {
                headers.append(name, value);
            }
        }
        Self {
            method: if first & 1 == 0 {
                Method::POST
            } else {
                Method::GET
            },
            route: if first & 2 == 0 {
                Route::Status
            } else {
                Route::Inbound
            },
            url: format!("https://smstrail.example/{}", String::from_utf8_lossy(path)),
            headers,
            body,
        }
    }

    pub fn as_webhook(&self, now: DateTime<Utc>) -> WebhookRequest<'_> {
        WebhookRequest {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            body: &self.body,
            now,
        }
    }
}

/// Verifies and parses `request` with `provider`: parsing is tried even
/// though the request cannot be authentic, as a parser sees whatever an
/// authentic but careless sender posts. Panics (the fuzzer's finding) when
/// an arbitrary request verifies.
pub fn exercise(provider: &dyn Provider, request: &ArbitraryRequest, now: DateTime<Utc>) {
    let webhook = request.as_webhook(now);
    if provider.verify(&webhook).is_ok() {
        panic!(
            "{} verified a request nobody signed: {request:?}",
            provider.name()
        );
    }
    let _ = provider.parse(request.route, &webhook);
}

/// One fuzz input for the provider called `name` (a `fuzz/` target).
pub fn fuzz_provider(name: &str, data: &[u8]) {
    static PROVIDERS: std::sync::LazyLock<Vec<Box<dyn Provider>>> =
        std::sync::LazyLock::new(providers);
    let Some(provider) = PROVIDERS.iter().find(|p| p.name() == name) else {
        panic!("no provider called {name}");
    };
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    exercise(provider.as_ref(), &ArbitraryRequest::from_bytes(data), now);
}

/// The raw-payload masking on arbitrary bytes under each content type.
pub fn exercise_masking(data: &[u8]) {
    for content_type in [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
    ] {
        let _ = crate::domain::payload::readable_payload(content_type, data);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::VerifyError;
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    /// The providers smstrail implements; a new one is added here, to
    /// [`CREDENTIALS`] and as a target in `fuzz/`.
    const IMPLEMENTED: [&str; 5] = ["twilio", "standard", "vonage", "telnyx", "plivo"];

    #[test]
    fn every_known_provider_is_exercised() {
        let mut names: Vec<&str> = providers().iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let mut implemented = IMPLEMENTED.to_vec();
        implemented.sort_unstable();
        assert_eq!(names, implemented);
    }

    /// The committed seeds (`fuzz/seeds/<target>/`) are the fuzzer's start:
    /// each must be a request its provider reads, refused only at the
    /// signature comparison, so mutations start deep in the code.
    #[test]
    fn every_seed_parses_and_fails_only_on_its_signature() {
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        for provider in providers() {
            let dir = seeds.join(provider.name());
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
            let mut count = 0;
            for entry in entries.flatten() {
                let data = std::fs::read(entry.path()).unwrap_or_default();
                let request = ArbitraryRequest::from_bytes(&data);
                let webhook = request.as_webhook(now());
                let seed = entry.path();
                assert_eq!(
                    provider.verify(&webhook),
                    Err(VerifyError::Mismatch),
                    "{seed:?}"
                );
                let parsed = provider.parse(request.route, &webhook);
                assert!(parsed.is_ok(), "{seed:?}: {parsed:?}");
                count += 1;
            }
            assert!(count > 0, "no seeds in {dir:?}");
        }
    }

    #[test]
    fn the_decoder_reads_method_route_url_headers_and_body() {
        let request = ArbitraryRequest::from_bytes(
            b"\x03webhooks/x/status?a=1\xFFX-Twilio-Signature: abc\nbad line\n\xFFBody=1",
        );
        assert_eq!(request.method, Method::GET);
        assert_eq!(request.route, Route::Inbound);
        assert_eq!(
            request.url,
            "https://smstrail.example/webhooks/x/status?a=1"
        );
        assert_eq!(request.headers["x-twilio-signature"], "abc");
        assert_eq!(request.body, b"Body=1");
    }

    proptest! {
        // PROPTEST_CASES raises the count for a longer run.
        #[test]
        fn arbitrary_requests_never_panic_and_never_verify(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let request = ArbitraryRequest::from_bytes(&data);
            for provider in providers() {
                exercise(provider.as_ref(), &request, now());
            }
        }

        #[test]
        fn plausible_requests_never_verify_without_the_key(
            signature in "[A-Za-z0-9+/=,. ]{0,120}",
            timestamp in prop_oneof![Just("1700000000".to_owned()), "[0-9]{0,12}"],
            body in "[ -~]{0,400}",
            json in any::<bool>(),
        ) {
            // Well-formed headers of every scheme with values that are not
            // signatures: the checks must run to the end and still refuse.
            let mut headers = HeaderMap::new();
            for name in [
                "x-twilio-signature", "webhook-signature", "telnyx-signature-ed25519",
                "x-plivo-signature-v3", "x-plivo-signature-v2", "authorization",
            ] {
                if let Ok(value) = HeaderValue::from_str(&signature) {
                    headers.insert(HeaderName::from_static(name), value);
                }
            }
            for name in ["webhook-timestamp", "telnyx-timestamp", "webhook-id",
                         "x-plivo-signature-v3-nonce", "x-plivo-signature-v2-nonce"] {
                if let Ok(value) = HeaderValue::from_str(&timestamp) {
                    headers.insert(HeaderName::from_static(name), value);
                }
            }
            let content_type = if json { "application/json" } else { "application/x-www-form-urlencoded" };
            headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            let request = ArbitraryRequest {
                method: Method::POST,
                route: Route::Status,
                url: format!("https://smstrail.example/webhooks/p/status?timestamp={timestamp}&sig={signature}"),
                headers,
                body: body.into_bytes(),
            };
            for provider in providers() {
                exercise(provider.as_ref(), &request, now());
            }
        }

        #[test]
        fn masking_never_panics(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            exercise_masking(&data);
        }
    }
}
