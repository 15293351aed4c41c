//! Standard Webhooks (standardwebhooks.com, providers.md §9): the generic
//! format for senders without a provider module of their own. HMAC-SHA256
//! over `id.timestamp.body`, a 5-minute window, and the `{"type", "timestamp",
//! "data"}` envelope of CONTRACT §3.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::common::{self, fresh_timestamp};
use super::{ParseError, Provider, Report, Route, VerifyError, WebhookRequest};
use crate::config::Config;
use crate::domain::{DeliveryReport, DeliveryStatus, InboundReport};

const SECRET_PREFIX: &str = "whsec_";

/// Each `webhook-*` header, then its `svix-*` twin.
const ID: [&str; 2] = ["webhook-id", "svix-id"];
const TIMESTAMP: [&str; 2] = ["webhook-timestamp", "svix-timestamp"];
const SIGNATURE: [&str; 2] = ["webhook-signature", "svix-signature"];

/// The reference libraries accept secrets with or without base64 padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

pub struct StandardWebhooks {
    key: Vec<u8>,
}

impl StandardWebhooks {
    pub fn new(secret: &str) -> Result<Self, String> {
        decode_secret(secret).map(|key| Self { key })
    }

    pub fn from_config(config: &Config) -> Option<Self> {
        let secret = config.standard_secret.as_ref()?;
        Self::new(secret.expose()).ok()
    }
}

/// The HMAC key behind a `whsec_…` secret (the prefix is optional).
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let text = secret.trim();
    let text = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    if text.is_empty() {
        return Err("the secret is empty".to_owned());
    }
    let key = LENIENT_BASE64
        .decode(text)
        .map_err(|e| format!("the secret is not valid base64 ({e})"))?;
    if key.is_empty() {
        return Err("the secret decodes to an empty key".to_owned());
    }
    Ok(key)
}

/// The `webhook-signature` entry a sender computes for this message.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = signed_content_mac(key, msg_id, timestamp, body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

fn signed_content_mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac: HmacSha256 = common::hmac(key);
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn header<'a>(headers: &'a HeaderMap, names: [&'static str; 2]) -> Result<&'a str, VerifyError> {
    common::header(headers, &names)
}

impl Provider for StandardWebhooks {
    fn name(&self) -> &'static str {
        "standard"
    }

    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        // An empty id would make every such event a duplicate of the first,
        // since the id is the dedup key: `header` refuses empty values.
        let msg_id = header(request.headers, ID)?;
        let timestamp = header(request.headers, TIMESTAMP)?;
        let signatures = header(request.headers, SIGNATURE)?;
        let timestamp = fresh_timestamp(timestamp, TIMESTAMP[0], request.now)?;

        let mac = signed_content_mac(&self.key, msg_id, timestamp, request.body);
        // Several entries during a key rotation; other versions (`v1a`
        // ed25519, future ones) are not ours to check and are skipped.
        let candidates = signatures
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|encoded| LENIENT_BASE64.decode(encoded).ok());
        common::any_matches(&mac, candidates)
    }

    /// The envelope's `type`, not the route, decides what the report is:
    /// Standard Webhooks senders usually deliver every event type to one
    /// endpoint, so both routes accept both types.
    fn parse(&self, _route: Route, request: &WebhookRequest<'_>) -> Result<Report, ParseError> {
        let envelope: Value = serde_json::from_slice(request.body)
            .map_err(|e| ParseError::new(format!("body is not JSON: {e}")))?;
        let kind = envelope
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| ParseError::new("envelope has no string \"type\""))?;
        let data = envelope
            .get("data")
            .and_then(Value::as_object)
            .ok_or_else(|| ParseError::new("envelope has no object \"data\""))?;
        let provider_event_id = header(request.headers, ID).ok().map(str::to_owned);
        match kind {
            "message.status" => parse_status(data, provider_event_id).map(Report::Delivery),
            "message.inbound" => parse_inbound(data, provider_event_id).map(Report::Inbound),
            other => Err(ParseError::new(format!(
                "unknown event type {other:?} (expected message.status or message.inbound)"
            ))),
        }
    }
}

fn parse_status(
    data: &Map<String, Value>,
    provider_event_id: Option<String>,
) -> Result<DeliveryReport, ParseError> {
    let raw_status = required_str(data, "status", false)?;
    Ok(DeliveryReport {
        provider_message_id: required_str(data, "provider_message_id", false)?,
        status: normalize_status(&raw_status),
        raw_status,
        error_code: error_code(data)?,
        provider_event_id,
        provider_occurred_at: occurred_at(data)?,
    })
}

fn parse_inbound(
    data: &Map<String, Value>,
    provider_event_id: Option<String>,
) -> Result<InboundReport, ParseError> {
    Ok(InboundReport {
        provider_message_id: required_str(data, "provider_message_id", false)?,
        from: required_str(data, "from", false)?,
        to: required_str(data, "to", false)?,
        // An empty message is still a message.
        body: required_str(data, "body", true)?,
        provider_event_id,
        provider_occurred_at: occurred_at(data)?,
    })
}

fn required_str(
    data: &Map<String, Value>,
    name: &str,
    allow_empty: bool,
) -> Result<String, ParseError> {
    match data.get(name) {
        Some(Value::String(s)) if allow_empty || !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ParseError::new(format!("data.{name} is empty"))),
        Some(_) => Err(ParseError::new(format!("data.{name} is not a string"))),
        None => Err(ParseError::new(format!("data.{name} is missing"))),
    }
}

/// Senders disagree on whether codes are numbers or strings; both are kept as text.
fn error_code(data: &Map<String, Value>) -> Result<Option<String>, ParseError> {
    match data.get("error_code") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ParseError::new(
            "data.error_code is neither a string nor a number",
        )),
    }
}

fn occurred_at(data: &Map<String, Value>) -> Result<Option<DateTime<Utc>>, ParseError> {
    match data.get("occurred_at") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => common::parse_rfc3339("data.occurred_at", text).map(Some),
        Some(_) => Err(ParseError::new("data.occurred_at is not a string")),
    }
}

/// The normalized names themselves plus the aliases common senders use;
/// anything else is left for review rather than guessed.
fn normalize_status(raw: &str) -> Option<DeliveryStatus> {
    let lower = raw.to_ascii_lowercase();
    if let Ok(status) = lower.parse::<DeliveryStatus>() {
        return Some(status);
    }
    match lower.as_str() {
        "queued" | "scheduled" | "sending" | "enroute" => Some(DeliveryStatus::Accepted),
        "delivery_failed" => Some(DeliveryStatus::Undelivered),
        "canceled" | "cancelled" => Some(DeliveryStatus::Failed),
        "read" => Some(DeliveryStatus::Delivered),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue, Method};
    use chrono::{Duration, TimeZone};

    use super::*;

    const W1_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const W1_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const W1_TS: i64 = 1_614_265_330;
    const W1_BODY: &str = r#"{"test": 2432232314}"#;
    const W1_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    const W2_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const W2_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const W2_TS: i64 = 1_649_367_553;
    const W2_BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
    const W2_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    struct Req {
        method: Method,
        headers: HeaderMap,
        body: Vec<u8>,
        now: DateTime<Utc>,
    }

    impl Req {
        /// A request sent at `ts` and received at that same instant.
        fn new(id: &str, ts: i64, signature: &str, body: impl Into<Vec<u8>>) -> Self {
            let mut req = Self {
                method: Method::POST,
                headers: HeaderMap::new(),
                body: body.into(),
                now: Utc.timestamp_opt(ts, 0).unwrap(),
            };
            req.set("webhook-id", id);
            req.set("webhook-timestamp", &ts.to_string());
            req.set("webhook-signature", signature);
            req
        }

        fn set(&mut self, name: &'static str, value: &str) {
            self.headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }

        fn request(&self) -> WebhookRequest<'_> {
            WebhookRequest {
                method: &self.method,
                url: "https://example.com/webhooks/standard/status",
                headers: &self.headers,
                body: &self.body,
                now: self.now,
            }
        }

        fn verify(&self, secret: &str) -> Result<(), VerifyError> {
            StandardWebhooks::new(secret)
                .unwrap()
                .verify(&self.request())
        }
    }

    fn w1_key() -> Vec<u8> {
        decode_secret(W1_SECRET).unwrap()
    }

    fn w1_request() -> Req {
        Req::new(W1_ID, W1_TS, W1_SIGNATURE, W1_BODY)
    }

    // §9.3 vectors.

    #[test]
    fn w1_reference_vector() {
        assert_eq!(
            sign(&w1_key(), W1_ID, W1_TS, W1_BODY.as_bytes()),
            W1_SIGNATURE
        );
        assert_eq!(w1_request().verify(W1_SECRET), Ok(()));
        let without_prefix = W1_SECRET.trim_start_matches(SECRET_PREFIX);
        assert_eq!(w1_request().verify(without_prefix), Ok(()));
    }

    #[test]
    fn w2_reference_vector() {
        let key = decode_secret(W2_SECRET).unwrap();
        assert_eq!(sign(&key, W2_ID, W2_TS, W2_BODY.as_bytes()), W2_SIGNATURE);
        assert_eq!(
            Req::new(W2_ID, W2_TS, W2_SIGNATURE, W2_BODY).verify(W2_SECRET),
            Ok(())
        );
    }

    /// W3–W5: the payload is the letter `a` repeated N times, unquoted; the
    /// sizes straddle 256 KiB and reach 1 MiB to exercise block boundaries.
    fn check_large_payload(len: usize, expected: &str) {
        let body = "a".repeat(len);
        assert_eq!(sign(&w1_key(), W1_ID, W1_TS, body.as_bytes()), expected);
        assert_eq!(
            Req::new(W1_ID, W1_TS, expected, body).verify(W1_SECRET),
            Ok(())
        );
    }

    #[test]
    fn w3_one_mebibyte_payload() {
        check_large_payload(1_048_576, "v1,txpEUxqWZJ5nteTnymUVa+7C4NHpBeXJ6CsBAW0c3/A=");
    }

    #[test]
    fn w4_256_kib_payload() {
        check_large_payload(262_144, "v1,Mw4Pe2WgApuT7NSqnSq0PQPV9gbLdggCl9B865x5Xh0=");
    }

    #[test]
    fn w5_256_kib_minus_one_payload() {
        check_large_payload(262_143, "v1,NTItnqyWMoFhk2Bbe5V/BMdcFRWgcSQaTgqLHX7FC7c=");
    }

    #[test]
    fn w6_last_character_changed() {
        let ts = Utc::now().timestamp();
        let changed = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
        let req = Req::new(W1_ID, ts, changed, W1_BODY);
        assert_eq!(req.verify(W1_SECRET), Err(VerifyError::Mismatch));
        // The vector's signature is for its own timestamp, not a fresh one.
        let req = Req::new(W1_ID, ts, W1_SIGNATURE, W1_BODY);
        assert_eq!(req.verify(W1_SECRET), Err(VerifyError::Mismatch));
    }

    #[test]
    fn w7_wrong_signature() {
        let ts = Utc::now().timestamp();
        let wrong = "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=";
        let req = Req::new(W2_ID, ts, wrong, W2_BODY);
        assert_eq!(req.verify(W2_SECRET), Err(VerifyError::Mismatch));
    }

    #[test]
    fn w8_rotation_list_matches_only_with_the_correct_entry() {
        let ts = Utc::now().timestamp();
        let wrong = [
            "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
            "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
            "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
        ];
        let req = Req::new(W2_ID, ts, &wrong.join(" "), W2_BODY);
        assert_eq!(req.verify(W2_SECRET), Err(VerifyError::Mismatch));

        let key = decode_secret(W2_SECRET).unwrap();
        let correct = sign(&key, W2_ID, ts, W2_BODY.as_bytes());
        for at in 0..=wrong.len() {
            let mut list: Vec<&str> = wrong.to_vec();
            list.insert(at, &correct);
            let req = Req::new(W2_ID, ts, &list.join(" "), W2_BODY);
            assert_eq!(req.verify(W2_SECRET), Ok(()), "correct entry at {at}");
        }
    }

    // Behavioural cases.

    #[test]
    fn each_missing_header_is_named() {
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut req = w1_request();
            req.headers.remove(name);
            assert_eq!(req.verify(W1_SECRET), Err(VerifyError::Missing(name)));
        }
        let mut req = w1_request();
        req.set("webhook-id", "");
        assert_eq!(
            req.verify(W1_SECRET),
            Err(VerifyError::Missing("webhook-id"))
        );
    }

    #[test]
    fn svix_headers_are_accepted() {
        let mut req = w1_request();
        req.headers.clear();
        req.set("svix-id", W1_ID);
        req.set("svix-timestamp", &W1_TS.to_string());
        req.set("svix-signature", W1_SIGNATURE);
        assert_eq!(req.verify(W1_SECRET), Ok(()));
        let mut header_names_in_capitals = HeaderMap::new();
        for (name, value) in &req.headers {
            let upper = name.as_str().to_ascii_uppercase();
            header_names_in_capitals.insert(
                HeaderName::from_bytes(upper.as_bytes()).unwrap(),
                value.clone(),
            );
        }
        req.headers = header_names_in_capitals;
        assert_eq!(req.verify(W1_SECRET), Ok(()));
    }

    #[test]
    fn non_integer_timestamp_is_malformed() {
        for bad in ["hello", "1614265330.5", "", " 1614265330"] {
            let mut req = w1_request();
            req.set("webhook-timestamp", bad);
            let expected = if bad.is_empty() {
                VerifyError::Missing("webhook-timestamp")
            } else {
                VerifyError::Malformed("webhook-timestamp")
            };
            assert_eq!(req.verify(W1_SECRET), Err(expected), "{bad:?}");
        }
    }

    #[test]
    fn timestamp_window_is_five_minutes_both_ways_inclusive() {
        let key = w1_key();
        let now = Utc.timestamp_opt(W1_TS, 0).unwrap();
        for (offset, accepted) in [
            (-301, false),
            (-300, true),
            (0, true),
            (300, true),
            (301, false),
        ] {
            let ts = W1_TS + offset;
            let mut req = Req::new(
                W1_ID,
                ts,
                &sign(&key, W1_ID, ts, W1_BODY.as_bytes()),
                W1_BODY,
            );
            req.now = now;
            let expected = if accepted {
                Ok(())
            } else {
                Err(VerifyError::StaleTimestamp)
            };
            assert_eq!(req.verify(W1_SECRET), expected, "offset {offset}");
        }
    }

    #[test]
    fn negative_timestamp_is_refused() {
        let key = w1_key();
        let mut req = Req::new(
            W1_ID,
            -1,
            &sign(&key, W1_ID, -1, W1_BODY.as_bytes()),
            W1_BODY,
        );
        req.now = Utc.timestamp_opt(0, 0).unwrap();
        assert_eq!(req.verify(W1_SECRET), Err(VerifyError::StaleTimestamp));
        req.set("webhook-timestamp", &i64::MIN.to_string());
        assert_eq!(req.verify(W1_SECRET), Err(VerifyError::StaleTimestamp));
    }

    #[test]
    fn empty_partial_and_foreign_entries_do_not_match() {
        let partial = &W1_SIGNATURE[..W1_SIGNATURE.len() - 8];
        let unprefixed = W1_SIGNATURE.trim_start_matches("v1,");
        let v1a = W1_SIGNATURE.replace("v1,", "v1a,");
        for header in ["v1,", partial, "v1,not*base64", unprefixed, &v1a, "v2,abc"] {
            let mut req = w1_request();
            req.set("webhook-signature", header);
            assert_eq!(
                req.verify(W1_SECRET),
                Err(VerifyError::Mismatch),
                "{header}"
            );
        }
        let mut req = w1_request();
        req.set("webhook-signature", &format!("v1a,xyz  v1, {W1_SIGNATURE}"));
        assert_eq!(req.verify(W1_SECRET), Ok(()));
    }

    #[test]
    fn tampered_id_or_body_does_not_match() {
        let mut req = w1_request();
        req.set("webhook-id", "msg_other");
        assert_eq!(req.verify(W1_SECRET), Err(VerifyError::Mismatch));
        let mut req = w1_request();
        req.body = br#"{"test": 2432232315}"#.to_vec();
        assert_eq!(req.verify(W1_SECRET), Err(VerifyError::Mismatch));
        assert_eq!(w1_request().verify(W2_SECRET), Err(VerifyError::Mismatch));
    }

    #[test]
    fn secrets_decode_with_or_without_prefix_and_padding() {
        let key = w1_key();
        assert_eq!(key.len(), 24);
        assert_eq!(
            decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            key
        );
        assert_eq!(decode_secret("whsec_YWJj").unwrap(), b"abc");
        assert_eq!(decode_secret("whsec_YWI").unwrap(), b"ab");
        assert_eq!(decode_secret("whsec_YWI=").unwrap(), b"ab");
        for bad in ["", "whsec_", "   ", "whsec_%%%"] {
            let err = decode_secret(bad).unwrap_err();
            assert!(bad.contains('%') || err.contains("empty"), "{bad:?}: {err}");
            assert!(StandardWebhooks::new(bad).is_err());
        }
    }

    // Parsing.

    fn parse(route: Route, body: &str) -> Result<Report, ParseError> {
        let req = Req::new("msg_evt1", W1_TS, "v1,unused", body);
        StandardWebhooks::new(W1_SECRET)
            .unwrap()
            .parse(route, &req.request())
    }

    #[test]
    fn status_event_parses_on_either_route() {
        let body = r#"{"type":"message.status","timestamp":"2024-06-13T11:02:05Z","data":{
            "provider_message_id":"m-1","status":"delivered","error_code":null,
            "occurred_at":"2024-06-13T13:02:00+02:00"}}"#;
        let expected = Report::Delivery(DeliveryReport {
            provider_message_id: "m-1".to_owned(),
            raw_status: "delivered".to_owned(),
            status: Some(DeliveryStatus::Delivered),
            error_code: None,
            provider_event_id: Some("msg_evt1".to_owned()),
            provider_occurred_at: Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 0).unwrap()),
        });
        assert_eq!(parse(Route::Status, body), Ok(expected.clone()));
        assert_eq!(parse(Route::Inbound, body), Ok(expected));
    }

    #[test]
    fn error_code_may_be_a_string_or_a_number() {
        for (code, expected) in [
            ("\"30003\"", Some("30003")),
            ("30003", Some("30003")),
            ("\"\"", None),
        ] {
            let body = format!(
                r#"{{"type":"message.status","data":{{"provider_message_id":"m","status":"failed","error_code":{code}}}}}"#
            );
            let Ok(Report::Delivery(report)) = parse(Route::Status, &body) else {
                panic!("{body}");
            };
            assert_eq!(report.error_code.as_deref(), expected);
            assert_eq!(report.provider_occurred_at, None);
        }
        let body = r#"{"type":"message.status","data":{"provider_message_id":"m","status":"failed","error_code":[1]}}"#;
        assert!(parse(Route::Status, body).is_err());
    }

    #[test]
    fn inbound_event_parses_on_either_route() {
        let body = r#"{"type":"message.inbound","timestamp":"2024-06-13T11:02:05Z","data":{
            "provider_message_id":"in-1","from":"+14155550123","to":"+15017122661","body":"STOP",
            "occurred_at":"2024-06-13T11:02:04.5Z"}}"#;
        let expected = Report::Inbound(InboundReport {
            provider_message_id: "in-1".to_owned(),
            from: "+14155550123".to_owned(),
            to: "+15017122661".to_owned(),
            body: "STOP".to_owned(),
            provider_event_id: Some("msg_evt1".to_owned()),
            provider_occurred_at: Some(
                Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 4).unwrap() + Duration::milliseconds(500),
            ),
        });
        assert_eq!(parse(Route::Inbound, body), Ok(expected.clone()));
        assert_eq!(parse(Route::Status, body), Ok(expected));
        let empty_body = r#"{"type":"message.inbound","data":{"provider_message_id":"in-2","from":"a","to":"b","body":""}}"#;
        assert!(parse(Route::Inbound, empty_body).is_ok());
    }

    #[test]
    fn each_missing_field_is_a_parse_error() {
        let status = [("provider_message_id", "\"m\""), ("status", "\"sent\"")];
        let inbound = [
            ("provider_message_id", "\"m\""),
            ("from", "\"+1\""),
            ("to", "\"+2\""),
            ("body", "\"hi\""),
        ];
        for (kind, fields) in [
            ("message.status", &status[..]),
            ("message.inbound", &inbound[..]),
        ] {
            for skip in 0..fields.len() {
                let data: Vec<String> = fields
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, (name, value))| format!("\"{name}\":{value}"))
                    .collect();
                let body = format!(r#"{{"type":"{kind}","data":{{{}}}}}"#, data.join(","));
                let err = parse(Route::Status, &body).unwrap_err();
                assert!(err.0.contains(fields[skip].0), "{body}: {err}");
            }
        }
        let wrong_type =
            r#"{"type":"message.status","data":{"provider_message_id":7,"status":"sent"}}"#;
        assert!(parse(Route::Status, wrong_type).is_err());
        let bad_time = r#"{"type":"message.status","data":{"provider_message_id":"m","status":"sent","occurred_at":"yesterday"}}"#;
        assert!(parse(Route::Status, bad_time).is_err());
    }

    #[test]
    fn unknown_type_bad_envelope_and_bad_json_are_parse_errors() {
        for body in [
            r#"{"type":"message.created","data":{}}"#,
            r#"{"data":{}}"#,
            r#"{"type":"message.status"}"#,
            r#"{"type":"message.status","data":[]}"#,
            "not json",
            "",
        ] {
            assert!(parse(Route::Status, body).is_err(), "{body}");
        }
        let err = parse(Route::Status, r#"{"type":"message.created","data":{}}"#).unwrap_err();
        assert!(err.0.contains("message.created"), "{err}");
    }

    #[test]
    fn status_mapping_table() {
        use DeliveryStatus::*;
        for (raw, expected) in [
            ("accepted", Some(Accepted)),
            ("sent", Some(Sent)),
            ("delivered", Some(Delivered)),
            ("undelivered", Some(Undelivered)),
            ("failed", Some(Failed)),
            ("expired", Some(Expired)),
            ("rejected", Some(Rejected)),
            ("unknown", Some(Unknown)),
            ("DELIVERED", Some(Delivered)),
            ("Queued", Some(Accepted)),
            ("queued", Some(Accepted)),
            ("scheduled", Some(Accepted)),
            ("sending", Some(Accepted)),
            ("enroute", Some(Accepted)),
            ("delivery_failed", Some(Undelivered)),
            ("canceled", Some(Failed)),
            ("cancelled", Some(Failed)),
            ("read", Some(Delivered)),
            ("received", None),
            ("bounced", None),
            ("", None),
        ] {
            assert_eq!(normalize_status(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn name_and_acknowledgement() {
        let provider = StandardWebhooks::new(W1_SECRET).unwrap();
        assert_eq!(provider.name(), "standard");
        assert_eq!(
            provider.acknowledgement(Route::Status),
            super::super::Acknowledgement::EMPTY_JSON
        );
    }
}
