//! The published vectors (providers.md §2.5) and the provider as the ingest
//! pipeline drives it: verify, then parse, on GET, form and JSON requests.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::signature::canonical;
use super::*;
use crate::domain::{DeliveryStatus, InboundPart};

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

// ---- §2.5 vectors, on the signing function ----

const V1_SECRET: &str = "my_secret_key_for_testing";
const V1_TIMESTAMP: i64 = 1_385_047_698;

fn v1_params() -> Vec<(String, String)> {
    pairs(&[
        ("message-timestamp", "2013-11-21 15:27:30"),
        ("messageId", "020000001B0FE827"),
        ("msisdn", "14843472194"),
        ("text", "Test again"),
        ("timestamp", "1385047698"),
        ("to", "13239877404"),
        ("type", "text"),
    ])
}

#[test]
fn v1_canonical_string() {
    assert_eq!(
        canonical(&v1_params()),
        "&message-timestamp=2013-11-21 15:27:30&messageId=020000001B0FE827&msisdn=14843472194\
         &text=Test again&timestamp=1385047698&to=13239877404&type=text"
    );
}

#[test]
fn v1_to_v5_inbound_set_every_method() {
    for (method, expected) in [
        (Md5Hash, "d2e7b1dc968737c5998ad624e02f90b7"),
        (Md5, "DDEBD46008C2D4E93CCE578A332A52D5"),
        (Sha1, "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A"),
        (
            Sha256,
            "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330",
        ),
        (
            Sha512,
            "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82",
        ),
    ] {
        // Exactly as Vonage writes it: md5hash lowercase, HMACs uppercase.
        assert_eq!(
            sign(V1_SECRET, method, &v1_params()),
            expected,
            "{method:?}"
        );
        let mut signed = v1_params();
        signed.push(("sig".to_owned(), expected.to_owned()));
        let request = Req::form(&signed);
        assert_eq!(
            request.verify(V1_SECRET, method, at(V1_TIMESTAMP)),
            Ok(()),
            "{method:?}"
        );
        // Either case, in constant time.
        signed.last_mut().unwrap().1 = expected.to_ascii_lowercase();
        assert_eq!(
            Req::form(&signed).verify(V1_SECRET, method, at(V1_TIMESTAMP)),
            Ok(())
        );
        signed.last_mut().unwrap().1 = expected.to_ascii_uppercase();
        assert_eq!(
            Req::form(&signed).verify(V1_SECRET, method, at(V1_TIMESTAMP)),
            Ok(())
        );
    }
}

#[test]
fn v6_wrong_sig_is_refused_for_every_method() {
    let mut signed = v1_params();
    signed.push(("sig".to_owned(), "xxx".to_owned()));
    for method in ALL_METHODS {
        assert_eq!(
            Req::form(&signed).verify(V1_SECRET, method, at(V1_TIMESTAMP)),
            Err(VerifyError::Mismatch),
            "{method:?}"
        );
    }
}

#[test]
fn v7_to_v11_python_sdk_every_method() {
    let params = pairs(&[("a", "1"), ("b", "2"), ("timestamp", "1461605396")]);
    assert_eq!(canonical(&params), "&a=1&b=2&timestamp=1461605396");
    for (method, expected) in [
        (Md5Hash, "6af838ef94998832dbfc29020b564830"),
        (Md5, "c15c21ced558c93a226c305f58f902f2"),
        (Sha1, "3e19a4e6880fdc2c1426bfd0587c98b9532f0210"),
        (
            Sha256,
            "a321e824b9b816be7c3f28859a31749a098713d39f613c80d455bbaffae1cd24",
        ),
        (
            Sha512,
            "812a18f76680fa0fe1b8bd9ee1625466ceb1bd96242e4d050d2cfd9a7b40166c63ed26ec9702168781b6edcf1633db8ff95af9341701004eec3fcf9550572ee8",
        ),
    ] {
        assert!(
            sign("secret", method, &params).eq_ignore_ascii_case(expected),
            "{method:?}"
        );
        let mut signed = params.clone();
        signed.push(("sig".to_owned(), expected.to_owned()));
        assert_eq!(
            Req::get(&signed).verify("secret", method, at(1_461_605_396)),
            Ok(()),
            "{method:?}"
        );
    }
}

#[test]
fn v12_to_v16_python_sdk_v4() {
    let secret = "signature_secret";
    let params = pairs(&[
        ("param1", "value1"),
        ("param2", "value2"),
        ("timestamp", "1234567890"),
    ]);
    assert!(
        sign(secret, Sha256, &params).eq_ignore_ascii_case(
            "280c4320703dbc98bfa22db676655ed2acfbfe8792b062ff7622e67f1183c287"
        )
    );
    assert!(sign(secret, Md5, &params).eq_ignore_ascii_case("724c2bf6ca423c36e20631b11d1c5753"));

    // V14: `&` and `=` inside values become `_`.
    let escaped = pairs(&[
        ("param1", "value&1"),
        ("param2", "value=2"),
        ("timestamp", "1234567890"),
    ]);
    assert_eq!(
        canonical(&escaped),
        "&param1=value_1&param2=value_2&timestamp=1234567890"
    );
    assert!(sign(secret, Md5, &escaped).eq_ignore_ascii_case("2bbf0abafb2c55e5af6231513896a2ac"));
    // Through a form body the escapes arrive percent-encoded and decode first.
    let mut signed = escaped.clone();
    signed.push((
        "sig".to_owned(),
        "2bbf0abafb2c55e5af6231513896a2ac".to_owned(),
    ));
    assert_eq!(
        Req::form(&signed).verify(secret, Md5, at(1_234_567_890)),
        Ok(())
    );

    // V15: a received `sig` checks out.
    let v15 = pairs(&[
        ("param", "value"),
        ("timestamp", "1234567890"),
        ("sig", "655a4d0b7f064dff438defc52b012cf5"),
    ]);
    assert_eq!(
        Req::json_params(&v15).verify(secret, Md5, at(1_234_567_890)),
        Ok(())
    );

    let v16 = pairs(&[
        ("param1", "value1"),
        ("param2", "value2"),
        ("timestamp", "12345"),
    ]);
    assert!(sign(secret, Md5, &v16).eq_ignore_ascii_case("bc7e95bb4e341090b3a202a2885903a5"));
}

// ---- requests through the provider ----

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

#[test]
fn get_form_and_json_receipts_verify_and_parse_alike() {
    for method in ALL_METHODS {
        let params = signed_receipt(method, NOW);
        for request in [
            Req::get(&params),
            Req::form(&params),
            Req::json_params(&params),
        ] {
            assert_eq!(
                request.verify(SECRET, method, at(NOW + 10)),
                Ok(()),
                "{method:?} {}",
                request.method
            );
            let Ok(Report::Delivery(report)) = request.parse(Route::Status) else {
                panic!("a receipt");
            };
            assert_eq!(report.provider_message_id, "0B00000127FDBC63");
            assert_eq!(report.status, Some(DeliveryStatus::Delivered));
        }
    }
}

#[test]
fn the_signed_timestamp_must_be_fresh_and_present() {
    let now = at(NOW);
    for (offset, expected) in [
        (-301, Err(VerifyError::StaleTimestamp)),
        (-300, Ok(())),
        (0, Ok(())),
        (300, Ok(())),
        (301, Err(VerifyError::StaleTimestamp)),
        (-86_400, Err(VerifyError::StaleTimestamp)),
    ] {
        let params = signed_receipt(Sha256, NOW + offset);
        assert_eq!(
            Req::form(&params).verify(SECRET, Sha256, now),
            expected,
            "{offset}"
        );
    }
    // Signed without a timestamp: authentic, but replayable forever.
    let mut params = signed_receipt(Sha256, NOW);
    params.retain(|(n, _)| n != "timestamp" && n != "sig");
    let sig = sign(SECRET, Sha256, &params);
    params.push(("sig".to_owned(), sig));
    assert_eq!(
        Req::form(&params).verify(SECRET, Sha256, now),
        Err(VerifyError::Missing("timestamp"))
    );
    // A fresh timestamp on an old signature no longer matches.
    let mut replayed = signed_receipt(Sha256, NOW - 3600);
    for pair in replayed.iter_mut().filter(|(n, _)| n == "timestamp") {
        pair.1 = NOW.to_string();
    }
    assert_eq!(
        Req::form(&replayed).verify(SECRET, Sha256, now),
        Err(VerifyError::Mismatch)
    );
    // A timestamp that is no number.
    let mut params = signed_receipt(Sha256, NOW);
    params.retain(|(n, _)| n != "sig");
    for pair in params.iter_mut().filter(|(n, _)| n == "timestamp") {
        pair.1 = "soon".to_owned();
    }
    let sig = sign(SECRET, Sha256, &params);
    params.push(("sig".to_owned(), sig));
    assert_eq!(
        Req::form(&params).verify(SECRET, Sha256, now),
        Err(VerifyError::Malformed("timestamp"))
    );
}

#[test]
fn changed_added_or_removed_parameters_do_not_match() {
    let now = at(NOW);
    let good = signed_receipt(Md5Hash, NOW);
    let mut changed = good.clone();
    for pair in changed.iter_mut().filter(|(n, _)| n == "status") {
        pair.1 = "failed".to_owned();
    }
    let mut added = good.clone();
    added.push(("extra".to_owned(), "1".to_owned()));
    let mut removed = good.clone();
    removed.retain(|(n, _)| n != "client-ref");
    for (case, params) in [("changed", changed), ("added", added), ("removed", removed)] {
        assert_eq!(
            Req::form(&params).verify(SECRET, Md5Hash, now),
            Err(VerifyError::Mismatch),
            "{case}"
        );
    }
    assert_eq!(
        Req::form(&good).verify("another-secret", Md5Hash, now),
        Err(VerifyError::Mismatch)
    );
    // Configured for another method: nothing matches.
    assert_eq!(
        Req::form(&good).verify(SECRET, Md5, now),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn missing_and_malformed_requests_are_refused() {
    let now = at(NOW);
    let mut unsigned = signed_receipt(Md5Hash, NOW);
    unsigned.retain(|(n, _)| n != "sig");
    assert_eq!(
        Req::form(&unsigned).verify(SECRET, Md5Hash, now),
        Err(VerifyError::Missing("sig"))
    );
    let good = signed_receipt(Md5Hash, NOW);
    let mut repeated = good.clone();
    repeated.push(("status".to_owned(), "failed".to_owned()));
    assert_eq!(
        Req::form(&repeated).verify(SECRET, Md5Hash, now),
        Err(VerifyError::Malformed("parameters"))
    );
    let mut get_with_body = Req::get(&good);
    get_with_body.body = b"status=failed".to_vec();
    assert_eq!(
        get_with_body.verify(SECRET, Md5Hash, now),
        Err(VerifyError::Malformed("body"))
    );
    let mut text = Req::form(&good);
    text.headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    assert_eq!(
        text.verify(SECRET, Md5Hash, now),
        Err(VerifyError::Malformed("content-type"))
    );
    let nested = Req::post("application/json", br#"{"sig":"00","x":{"y":1}}"#.to_vec());
    assert_eq!(
        nested.verify(SECRET, Md5Hash, now),
        Err(VerifyError::Malformed("JSON body"))
    );
    let mut basic = Req::form(&good);
    basic.headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    );
    assert_eq!(
        basic.verify(SECRET, Md5Hash, now),
        Err(VerifyError::Malformed("Authorization"))
    );
    let empty_bearer = Req::form(&good).bearer("");
    assert!(empty_bearer.verify(SECRET, Md5Hash, now).is_err());
}

#[test]
fn form_without_content_type_is_read_as_form() {
    let mut request = Req::form(&signed_receipt(Sha1, NOW));
    request.headers.remove(CONTENT_TYPE);
    assert_eq!(request.verify(SECRET, Sha1, at(NOW)), Ok(()));
    request.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
    );
    assert_eq!(request.verify(SECRET, Sha1, at(NOW)), Ok(()));
}

#[test]
fn json_numbers_and_booleans_are_signed_as_their_text() {
    let params = pairs(&[
        ("messageId", "M1"),
        ("status", "delivered"),
        ("concat", "true"),
        ("price", "0.0333"),
        ("timestamp", &NOW.to_string()),
    ]);
    let sig = sign(SECRET, Sha256, &params);
    let body = format!(
        r#"{{"messageId":"M1","status":"delivered","concat":true,"price":0.0333,"timestamp":{NOW},"sig":"{sig}"}}"#
    );
    let request = Req::post("application/json", body.into_bytes());
    assert_eq!(request.verify(SECRET, Sha256, at(NOW)), Ok(()));
}

#[test]
fn a_bearer_token_makes_it_a_messages_api_request() {
    let body = br#"{"message_uuid":"u-1","status":"rejected","timestamp":"2024-06-13T11:02:41Z","error":{"title":1330}}"#;
    let token = sign_jwt(SECRET, body, NOW);
    let request = Req::post("application/json", body.to_vec()).bearer(&token);
    // The dashboard method does not apply to tokens.
    for method in ALL_METHODS {
        assert_eq!(request.verify(SECRET, method, at(NOW + 5)), Ok(()));
    }
    let Ok(Report::Delivery(report)) = request.parse(Route::Status) else {
        panic!("a status");
    };
    assert_eq!(report.provider_message_id, "u-1");
    assert_eq!(report.status, Some(DeliveryStatus::Unknown));
    assert_eq!(report.error_code.as_deref(), Some("1330"));

    assert_eq!(
        request.verify(SECRET, Md5Hash, at(NOW + 301)),
        Err(VerifyError::StaleTimestamp)
    );
    let other_body = Req::post("application/json", b"{}".to_vec()).bearer(&token);
    assert_eq!(
        other_body.verify(SECRET, Md5Hash, at(NOW)),
        Err(VerifyError::Mismatch)
    );
    // A valid `sig` does not help a request whose token is bad.
    let mut both = Req::form(&signed_receipt(Md5Hash, NOW)).bearer("not.a.token");
    assert!(both.verify(SECRET, Md5Hash, at(NOW)).is_err());
    both.headers.remove(AUTHORIZATION);
    assert_eq!(both.verify(SECRET, Md5Hash, at(NOW)), Ok(()));
}

#[test]
fn inbound_parts_and_messages_parse_through_the_provider() {
    let mut params = pairs(&[
        ("msisdn", "447700900000"),
        ("to", "447700900001"),
        ("messageId", "0A00000012345678"),
        ("text", "first half, "),
        ("type", "text"),
        ("concat", "true"),
        ("concat-ref", "42"),
        ("concat-total", "2"),
        ("concat-part", "1"),
        ("timestamp", &NOW.to_string()),
    ]);
    let sig = sign(SECRET, Md5Hash, &params);
    params.push(("sig".to_owned(), sig));
    let request = Req::get(&params);
    assert_eq!(request.verify(SECRET, Md5Hash, at(NOW)), Ok(()));
    let Ok(Report::InboundPart(report, part)) = request.parse(Route::Inbound) else {
        panic!("a part");
    };
    assert_eq!(report.from, "+447700900000");
    assert_eq!(
        part,
        InboundPart {
            group: "42".to_owned(),
            number: 1,
            total: 2
        }
    );

    let body = br#"{"message_uuid":"u-2","from":"447700900000","to":"447700900001","text":"STOP","channel":"sms"}"#;
    let request = Req::post("application/json", body.to_vec()).bearer(&sign_jwt(SECRET, body, NOW));
    assert_eq!(request.verify(SECRET, Md5Hash, at(NOW)), Ok(()));
    let Ok(Report::Inbound(report)) = request.parse(Route::Inbound) else {
        panic!("inbound");
    };
    assert_eq!(report.keyword(), Some(crate::domain::InboundKeyword::Stop));
}

#[test]
fn e164_adds_the_plus_to_digits_only() {
    assert_eq!(e164("447700900000"), "+447700900000");
    assert_eq!(e164(" 447700900000 "), "+447700900000");
    assert_eq!(e164("+447700900000"), "+447700900000");
    assert_eq!(e164("AcmeInc"), "AcmeInc");
    assert_eq!(e164(""), "");
}

#[test]
fn acknowledgement_and_name() {
    let vonage = Vonage::new(Secret::new(SECRET), Md5Hash);
    assert_eq!(vonage.name(), "vonage");
    for route in [Route::Status, Route::Inbound] {
        assert_eq!(vonage.acknowledgement(route).body, "");
    }
}

proptest! {
    #[test]
    fn arbitrary_requests_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        query in "[a-z=&%0-9-]{0,64}",
        kind in 0usize..4,
        bearer in proptest::option::of("[A-Za-z0-9._-]{0,64}"),
    ) {
        let mut request = match kind {
            0 => Req::post("application/json", body),
            1 => Req::post("application/x-www-form-urlencoded", body),
            2 => Req::post("text/plain", body),
            _ => Req { method: Method::GET, url: format!("{URL}?{query}"), headers: HeaderMap::new(), body: Vec::new() },
        };
        if let Some(token) = bearer {
            request = request.bearer(&token);
        }
        for route in [Route::Status, Route::Inbound] {
            let _ = request.verify(SECRET, Sha256, at(NOW));
            let _ = request.parse(route);
        }
    }
}
