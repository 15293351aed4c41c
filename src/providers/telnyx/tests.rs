//! providers.md §3.5: the RFC 8032 key pair, the self-generated vectors TX0
//! to TX2, and the SDKs' behavioural cases.

use axum::http::{HeaderValue, Method};
use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::Verifier;
use proptest::prelude::*;

use super::super::common::testing::TestRequest;
use super::*;
use crate::domain::{DeliveryReport, DeliveryStatus};

const SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const PUBLIC_B64: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const TX0_SIGNATURE_HEX: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
const TS: i64 = 1_700_000_000;
const TX1_SIGNATURE: &str =
    "f0kvp2B0X7hYF2YqAbFqf98vvyGYUYizhRvOmebGvVV9pLF3QQJHxehtMhG1IfrSPp1xBgx1DPdrpLbSPM0zCw==";
const TX2_BODY: &str = r#"{"data":{"event_type":"message.finalized","id":"4ee8c3a6-4995-4309-a3c6-38e3db9ea4be","occurred_at":"2019-12-09T21:32:14.148+00:00","payload":{"id":"40317159-5e5e-4c79-9d1b-c5ba6a7dd12e","to":[{"phone_number":"+13125550123","status":"delivered"}],"errors":[]},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://example.com/webhooks/telnyx"}}"#;
const TX2_SIGNATURE: &str =
    "pn0H5DsqGKDCzGWjr+nTjKgB3Ip9MBLFkAgt+PX1UQvmZ6lgfWB+qZre3x+cy9bwtELsddNNTQenWFEKoNfiBw==";

fn rfc8032_key() -> SigningKey {
    let seed: [u8; 32] = hex::decode(SEED_HEX).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&seed)
}

fn instant(ts: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(ts, 0).unwrap()
}

/// A request sent at `ts` and received at that same instant.
fn request_at(ts: &str, signature: &str, body: &str) -> TestRequest {
    let mut req = TestRequest::post("https://example.com/webhooks/telnyx/status", body);
    req.now = instant(ts.parse().unwrap_or(TS));
    req.set(TIMESTAMP_HEADER, ts)
        .set(SIGNATURE_HEADER, signature);
    req
}

/// `body` signed at `ts` by `key`.
fn signed(key: &SigningKey, ts: i64, body: &str) -> TestRequest {
    request_at(&ts.to_string(), &sign(key, ts, body.as_bytes()), body)
}

fn verify(req: &TestRequest) -> Result<(), VerifyError> {
    Telnyx::new(PUBLIC_B64).unwrap().verify(&req.request())
}

// §3.5 vectors.

#[test]
fn tx0_rfc8032_test_1() {
    let key = rfc8032_key();
    assert_eq!(hex::encode(key.verifying_key().as_bytes()), PUBLIC_HEX);
    assert_eq!(BASE64.encode(key.verifying_key().as_bytes()), PUBLIC_B64);
    let signature = key.sign(b"");
    assert_eq!(hex::encode(signature.to_bytes()), TX0_SIGNATURE_HEX);
    assert!(key.verifying_key().verify_strict(b"", &signature).is_ok());
}

#[test]
fn tx1_empty_object() {
    assert_eq!(sign(&rfc8032_key(), TS, b"{}"), TX1_SIGNATURE);
    assert_eq!(
        verify(&request_at("1700000000", TX1_SIGNATURE, "{}")),
        Ok(())
    );
    // The same signature under another timestamp.
    assert_eq!(
        verify(&request_at("1700000001", TX1_SIGNATURE, "{}")),
        Err(VerifyError::Mismatch)
    );
    // The same signature over the bytes without the `|`.
    let signature = Signature::from_slice(&BASE64.decode(TX1_SIGNATURE).unwrap()).unwrap();
    let public = decode_public_key(PUBLIC_B64).unwrap();
    assert!(public.verify(b"1700000000{}", &signature).is_err());
    assert!(public.verify(b"1700000000|{}", &signature).is_ok());
}

#[test]
fn tx2_finalized_event() {
    assert_eq!(TX2_BODY.len(), 357);
    assert_eq!(sign(&rfc8032_key(), TS, TX2_BODY.as_bytes()), TX2_SIGNATURE);
    let req = request_at("1700000000", TX2_SIGNATURE, TX2_BODY);
    assert_eq!(verify(&req), Ok(()));
    let parsed = Telnyx::new(PUBLIC_B64)
        .unwrap()
        .parse(Route::Status, &req.request());
    assert_eq!(
        parsed,
        Ok(Report::Delivery(DeliveryReport {
            provider_message_id: "40317159-5e5e-4c79-9d1b-c5ba6a7dd12e".to_owned(),
            raw_status: "delivered".to_owned(),
            status: Some(DeliveryStatus::Delivered),
            error_code: None,
            provider_event_id: Some("4ee8c3a6-4995-4309-a3c6-38e3db9ea4be".to_owned()),
            provider_occurred_at: Some(
                Utc.with_ymd_and_hms(2019, 12, 9, 21, 32, 14).unwrap()
                    + chrono::Duration::milliseconds(148)
            ),
        }))
    );
}

// The SDKs' behavioural cases.

#[test]
fn header_names_in_any_case() {
    let mut req = request_at("1700000000", TX1_SIGNATURE, "{}");
    req.headers.clear();
    req.set("Telnyx-Signature-Ed25519", TX1_SIGNATURE);
    req.set("TELNYX-TIMESTAMP", "1700000000");
    assert_eq!(verify(&req), Ok(()));
}

#[test]
fn each_missing_header_is_named() {
    for name in [SIGNATURE_HEADER, TIMESTAMP_HEADER] {
        let mut req = request_at("1700000000", TX1_SIGNATURE, "{}");
        req.headers.remove(name);
        assert_eq!(verify(&req), Err(VerifyError::Missing(name)));
        req.set(name, "");
        assert_eq!(verify(&req), Err(VerifyError::Missing(name)));
    }
}

#[test]
fn zero_signature_and_non_signatures_do_not_match() {
    let zeros = BASE64.encode([0u8; 64]);
    let short = BASE64.encode([1u8; 63]);
    let long = BASE64.encode([1u8; 65]);
    for signature in [zeros.as_str(), &short, &long, "not*base64", "AAAA"] {
        let req = request_at("1700000000", signature, "{}");
        assert_eq!(verify(&req), Err(VerifyError::Mismatch), "{signature}");
    }
}

#[test]
fn timestamps_ten_minutes_off_are_stale_and_the_window_is_five_minutes() {
    let key = rfc8032_key();
    for (offset, fresh) in [
        (-600, false),
        (-301, false),
        (-300, true),
        (0, true),
        (300, true),
        (301, false),
        (600, false),
    ] {
        let mut req = signed(&key, TS + offset, "{}");
        req.now = instant(TS);
        let expected = if fresh {
            Ok(())
        } else {
            Err(VerifyError::StaleTimestamp)
        };
        assert_eq!(verify(&req), expected, "offset {offset}");
    }
}

#[test]
fn non_integer_timestamp_is_malformed() {
    for bad in ["soon", "1700000000.0", "0x65", " 1700000000"] {
        let mut req = request_at("1700000000", TX1_SIGNATURE, "{}");
        req.set(TIMESTAMP_HEADER, bad);
        assert_eq!(
            verify(&req),
            Err(VerifyError::Malformed(TIMESTAMP_HEADER)),
            "{bad:?}"
        );
    }
}

#[test]
fn tampered_payload_or_other_key_does_not_match() {
    let mut req = request_at("1700000000", TX2_SIGNATURE, TX2_BODY);
    req.body = TX2_BODY
        .replace("delivered", "delivery_failed")
        .into_bytes();
    assert_eq!(verify(&req), Err(VerifyError::Mismatch));

    let other = SigningKey::from_bytes(&[7; 32]);
    assert_eq!(
        verify(&signed(&other, TS, TX2_BODY)),
        Err(VerifyError::Mismatch)
    );
    let other_public = BASE64.encode(other.verifying_key().as_bytes());
    let req = signed(&other, TS, TX2_BODY);
    assert_eq!(
        Telnyx::new(&other_public).unwrap().verify(&req.request()),
        Ok(())
    );
}

#[test]
fn public_keys_must_be_base64_of_32_bytes() {
    assert!(Telnyx::new(PUBLIC_B64).is_ok());
    assert!(Telnyx::new(&format!("  {PUBLIC_B64}\n")).is_ok());
    for (bad, reason) in [
        ("not base64!", "base64"),
        ("", "0 bytes"),
        (&BASE64.encode([1u8; 31]), "31 bytes"),
        (&BASE64.encode([1u8; 33]), "33 bytes"),
        // A 44-byte DER SubjectPublicKeyInfo, as PEM files hold it.
        (
            "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "44 bytes",
        ),
    ] {
        let err = decode_public_key(bad).unwrap_err();
        assert!(err.contains(reason), "{bad:?}: {err}");
        assert!(Telnyx::new(bad).is_err());
    }
}

#[test]
fn the_signature_does_not_depend_on_the_route_or_method() {
    let mut req = request_at("1700000000", TX1_SIGNATURE, "{}");
    req.method = Method::GET;
    assert_eq!(verify(&req), Ok(()));
}

#[test]
fn both_routes_read_the_event_type() {
    let telnyx = Telnyx::new(PUBLIC_B64).unwrap();
    let req = request_at("1700000000", TX2_SIGNATURE, TX2_BODY);
    assert_eq!(
        telnyx.parse(Route::Inbound, &req.request()),
        telnyx.parse(Route::Status, &req.request())
    );
    assert_eq!(telnyx.name(), "telnyx");
    assert_eq!(
        telnyx.acknowledgement(Route::Inbound),
        super::super::Acknowledgement::EMPTY_JSON
    );
}

proptest! {
    #[test]
    fn garbage_headers_and_bodies_never_panic(
        signature in ".{0,100}",
        timestamp in ".{0,24}",
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut req = request_at("1700000000", TX1_SIGNATURE, "");
        req.body = body;
        if let Ok(value) = HeaderValue::from_str(&signature) {
            req.headers.insert(SIGNATURE_HEADER, value);
        }
        if let Ok(value) = HeaderValue::from_str(&timestamp) {
            req.headers.insert(TIMESTAMP_HEADER, value);
        }
        if req.body != b"{}" {
            prop_assert!(verify(&req).is_err());
        }
        let _ = Telnyx::new(PUBLIC_B64).unwrap().parse(Route::Status, &req.request());
    }

    #[test]
    fn garbage_keys_never_panic(text in ".{0,80}") {
        let _ = Telnyx::new(&text);
    }
}
