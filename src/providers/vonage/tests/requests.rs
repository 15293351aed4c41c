//! Requests through the provider: carriers, the timestamp window, refusals,
//! the Messages API token, inbound parts, and arbitrary input.

use proptest::prelude::*;

use super::*;
use crate::domain::{DeliveryStatus, InboundPart};

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
