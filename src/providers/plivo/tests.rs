//! providers.md §4.5 vectors P1–P8 and the verification policy.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method};
use proptest::prelude::*;

use super::super::common::testing::{TestRequest, pairs};
use super::*;

const P1_TOKEN: &str = "my_auth_token";
const P1_URL: &str = "https://answer.url";
const P1_NONCE: &str = "12345";
const P1_SIGNATURE: &str = "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=";

const P3_TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
const P3_NONCE: &str = "31627761595286130198";
const P3_URL: &str =
    "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d";
const P3_SIGNATURE: &str = "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=";
const P4_SIGNATURE: &str = "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ=";
const P5_URL: &str = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml";
const P5_SIGNATURE: &str = "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0=";

const STATUS_URL: &str = "https://smstrail.example.com/webhooks/plivo/status";
const TOKEN: &str = "MAXXXXXXXXXXXXXXXXXX-token";

fn p3_params() -> Vec<(String, String)> {
    pairs(&[
        ("Direction", "outbound"),
        ("From", "19792014278"),
        ("ALegUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("CallStatus", "in-progress"),
        ("BillRate", "0.002"),
        ("ParentAuthID", "MANWVLYTK4ZWU1YTY4QA"),
        (
            "To",
            "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
        ),
        ("ALegRequestUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("CallUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("RequestUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        (
            "SIP-H-To",
            "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
        ),
        ("SessionStart", "2020-04-08 11:34:33.238707"),
        ("Event", "StartApp"),
    ])
}

fn status_params() -> Vec<(String, String)> {
    pairs(&[
        ("MessageUUID", "db3ce55a-7f1d-11e1-8ea7-1231380bc196"),
        ("To", "14155550123"),
        ("From", "14155550100"),
        ("Status", "delivered"),
        ("DeliveryReportTime", "2024-06-13 11:02:55.771020"),
    ])
}

/// A form POST of `params` to `url`, without signature headers.
fn form(url: &str, params: &[(String, String)]) -> TestRequest {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut req = TestRequest::post(url, body);
    req.set(CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded");
    req
}

fn get(url: &str) -> TestRequest {
    let mut req = TestRequest::post(url, Vec::new());
    req.method = Method::GET;
    req
}

fn with_v3<'a>(req: &'a mut TestRequest, signature: &str, nonce: &str) -> &'a mut TestRequest {
    req.set(V3, signature).set(V3_NONCE, nonce)
}

fn with_v2<'a>(req: &'a mut TestRequest, signature: &str, nonce: &str) -> &'a mut TestRequest {
    req.set(V2, signature).set(V2_NONCE, nonce)
}

fn verify(req: &TestRequest, token: &str) -> Result<(), VerifyError> {
    Plivo::new(Secret::new(token)).verify(&req.request())
}

/// A status callback to `STATUS_URL` signed with V3 the way Plivo signs it.
fn v3_status() -> TestRequest {
    let params = status_params();
    let signature = sign_v3(TOKEN, &Method::POST, STATUS_URL, &params, "n-1");
    let mut req = form(STATUS_URL, &params);
    with_v3(&mut req, &signature, "n-1");
    req
}

// §4.5 vectors.

#[test]
fn p1_v2() {
    assert_eq!(sign_v2(P1_TOKEN, P1_URL, P1_NONCE), P1_SIGNATURE);
    let mut req = form(P1_URL, &[]);
    with_v2(&mut req, P1_SIGNATURE, P1_NONCE);
    assert_eq!(verify(&req, P1_TOKEN), Ok(()));
}

#[test]
fn p2_v2_other_token() {
    assert_ne!(sign_v2("my_auth_tokens", P1_URL, P1_NONCE), P1_SIGNATURE);
    let mut req = form(P1_URL, &[]);
    with_v2(&mut req, P1_SIGNATURE, P1_NONCE);
    assert_eq!(verify(&req, "my_auth_tokens"), Err(VerifyError::Mismatch));
}

#[test]
fn p3_v3_post_with_query() {
    let params = p3_params();
    assert_eq!(
        sign_v3(P3_TOKEN, &Method::POST, P3_URL, &params, P3_NONCE),
        P3_SIGNATURE
    );
    let mut req = form(P3_URL, &params);
    with_v3(&mut req, P3_SIGNATURE, P3_NONCE);
    assert_eq!(verify(&req, P3_TOKEN), Ok(()));
}

#[test]
fn p4_v3_get() {
    let params = p3_params();
    assert_eq!(
        sign_v3(P3_TOKEN, &Method::GET, P3_URL, &params, P3_NONCE),
        P4_SIGNATURE
    );
    // As a request: every parameter in the query.
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .append_pair("a", "b")
        .append_pair("c", "d")
        .finish();
    let mut req = get(&format!("{P5_URL}/?{query}"));
    with_v3(&mut req, P4_SIGNATURE, P3_NONCE);
    assert_eq!(verify(&req, P3_TOKEN), Ok(()));
}

#[test]
fn p5_v3_post_without_query() {
    let params = p3_params();
    assert_eq!(
        sign_v3(P3_TOKEN, &Method::POST, P5_URL, &params, P3_NONCE),
        P5_SIGNATURE
    );
    let mut req = form(P5_URL, &params);
    with_v3(&mut req, P5_SIGNATURE, P3_NONCE);
    assert_eq!(verify(&req, P3_TOKEN), Ok(()));
}

/// V1 (`X-Plivo-Signature`, HMAC-SHA1 over the URL and the sorted
/// parameters) is Twilio's scheme; Plivo's messaging does not send it and
/// smstrail does not accept it from Plivo, but the vectors still pin the
/// shared computation.
#[test]
fn p6_to_p8_v1_is_twilios_scheme_and_not_accepted_from_plivo() {
    use crate::providers::twilio;
    let (token, url) = ("MAXXXXXXXXXXXXXXXXXX", "http://foo.com/answer/");
    let p6 = pairs(&[
        ("CallUUID", "97ceeb52-58b6-11e1-86da-77300b68f8bb"),
        ("Duration", "300"),
    ]);
    assert_eq!(
        twilio::sign(token, url, &p6),
        "EJEt0ELanhr8hjMPIJnLNLex0dE="
    );
    let p7 = pairs(&[("a", "1 2")]);
    assert_eq!(
        twilio::sign(token, url, &p7),
        "n3Xfo4u+vRFyl3gsH8B0qDUIK5g="
    );
    let p8 = pairs(&[
        ("CallUUID", "97ceeb52-58b6-11e1-86da-77300b6b8f8bb"),
        ("Duration", "300"),
    ]);
    assert_ne!(
        twilio::sign(token, url, &p8),
        "EJEt0ELanhr8hjMPIJnLNLex0dE="
    );

    let mut req = form(url, &p6);
    req.set("X-Plivo-Signature", "EJEt0ELanhr8hjMPIJnLNLex0dE=");
    assert_eq!(
        verify(&req, token),
        Err(VerifyError::Missing(
            "X-Plivo-Signature-V3 or X-Plivo-Signature-V2"
        ))
    );
}

// The policy.

#[test]
fn v3_covers_url_query_and_every_parameter() {
    assert_eq!(verify(&v3_status(), TOKEN), Ok(()));
    let mut changed = v3_status();
    changed.body = String::from_utf8(changed.body)
        .unwrap()
        .replace("delivered", "failed")
        .into_bytes();
    assert_eq!(verify(&changed, TOKEN), Err(VerifyError::Mismatch));
    for url in [
        "https://smstrail.example.com/webhooks/plivo/inbound",
        "https://evil.example.com/webhooks/plivo/status",
        "http://smstrail.example.com/webhooks/plivo/status",
        "https://smstrail.example.com/webhooks/plivo/status?x=1",
    ] {
        let mut moved = v3_status();
        moved.url = url.to_owned();
        assert_eq!(verify(&moved, TOKEN), Err(VerifyError::Mismatch), "{url}");
    }
    assert_eq!(
        verify(&v3_status(), "other-token"),
        Err(VerifyError::Mismatch)
    );
    let mut other_nonce = v3_status();
    other_nonce.set(V3_NONCE, "n-2");
    assert_eq!(verify(&other_nonce, TOKEN), Err(VerifyError::Mismatch));
}

#[test]
fn v3_accepts_any_listed_signature_and_the_main_account_header() {
    let good = sign_v3(TOKEN, &Method::POST, STATUS_URL, &status_params(), "n-1");
    let wrong = sign_v3(
        "sub-token",
        &Method::POST,
        STATUS_URL,
        &status_params(),
        "n-1",
    );
    let mut listed = v3_status();
    listed.set(V3, &format!("{wrong}, not-base64!,{good}"));
    assert_eq!(verify(&listed, TOKEN), Ok(()));

    // The subaccount header signed with the subaccount's token; ours is the
    // main account's, which signs the Ma header.
    let mut main_account = v3_status();
    main_account.set(V3, &wrong).set(V3_MAIN_ACCOUNT, &good);
    assert_eq!(verify(&main_account, TOKEN), Ok(()));
    main_account.headers.remove(V3);
    assert_eq!(verify(&main_account, TOKEN), Ok(()));
}

#[test]
fn v2_is_checked_only_without_any_v3_header() {
    let v2 = sign_v2(TOKEN, STATUS_URL, "n-9");
    let mut only_v2 = form(STATUS_URL, &status_params());
    with_v2(&mut only_v2, &v2, "n-9");
    assert_eq!(verify(&only_v2, TOKEN), Ok(()));
    let mut main_account = form(STATUS_URL, &status_params());
    main_account.set(V2_MAIN_ACCOUNT, &v2).set(V2_NONCE, "n-9");
    assert_eq!(verify(&main_account, TOKEN), Ok(()));

    // A bad V3 is not rescued by a good V2: no downgrade once V3 is present.
    let mut both = form(STATUS_URL, &status_params());
    with_v2(&mut both, &v2, "n-9");
    with_v3(&mut both, "AAAA", "n-1");
    assert_eq!(verify(&both, TOKEN), Err(VerifyError::Mismatch));
    let mut blank_v3 = form(STATUS_URL, &status_params());
    with_v2(&mut blank_v3, &v2, "n-9").set(V3_MAIN_ACCOUNT, "");
    assert_eq!(
        verify(&blank_v3, TOKEN),
        Err(VerifyError::Missing(V3_NONCE))
    );
}

#[test]
fn v2_covers_the_path_but_not_the_query_or_the_body() {
    let v2 = sign_v2(TOKEN, STATUS_URL, "n-9");
    let mut moved = form("https://smstrail.example.com/webhooks/plivo/inbound", &[]);
    with_v2(&mut moved, &v2, "n-9");
    assert_eq!(verify(&moved, TOKEN), Err(VerifyError::Mismatch));
    // The weakness the module docs and README state: under V2 a captured
    // signature authenticates any body (and any query) on the same path.
    let mut other_body = form(
        &format!("{STATUS_URL}?x=1"),
        &pairs(&[("MessageUUID", "u"), ("Status", "failed")]),
    );
    with_v2(&mut other_body, &v2, "n-9");
    assert_eq!(verify(&other_body, TOKEN), Ok(()));
}

#[test]
fn missing_headers_are_named() {
    assert_eq!(
        verify(&form(STATUS_URL, &status_params()), TOKEN),
        Err(VerifyError::Missing(
            "X-Plivo-Signature-V3 or X-Plivo-Signature-V2"
        ))
    );
    let mut no_v3_nonce = v3_status();
    no_v3_nonce.headers.remove(V3_NONCE);
    assert_eq!(
        verify(&no_v3_nonce, TOKEN),
        Err(VerifyError::Missing(V3_NONCE))
    );
    let mut no_v2_nonce = form(STATUS_URL, &status_params());
    no_v2_nonce.set(V2, &sign_v2(TOKEN, STATUS_URL, "n"));
    assert_eq!(
        verify(&no_v2_nonce, TOKEN),
        Err(VerifyError::Missing(V2_NONCE))
    );
    let mut empty_signature = v3_status();
    empty_signature.set(V3, "");
    assert_eq!(verify(&empty_signature, TOKEN), Err(VerifyError::Mismatch));
}

#[test]
fn get_must_not_carry_a_body_and_other_bodies_are_refused() {
    let url = format!("{STATUS_URL}?MessageUUID=u1&Status=sent");
    let signature = sign_v3(TOKEN, &Method::GET, &url, &[], "n");
    let mut get = get(&url);
    with_v3(&mut get, &signature, "n");
    assert_eq!(verify(&get, TOKEN), Ok(()));
    get.body = b"Status=delivered".to_vec();
    assert_eq!(verify(&get, TOKEN), Err(VerifyError::Malformed("body")));

    for content_type in ["application/json", "text/plain"] {
        let mut req = v3_status();
        req.set(CONTENT_TYPE.as_str(), content_type);
        assert_eq!(
            verify(&req, TOKEN),
            Err(VerifyError::Malformed("content-type")),
            "{content_type}"
        );
    }
    let mut no_content_type = v3_status();
    no_content_type.headers.remove(CONTENT_TYPE);
    assert_eq!(verify(&no_content_type, TOKEN), Ok(()));
}

#[test]
fn name_and_acknowledgements() {
    let plivo = Plivo::new(Secret::new(TOKEN));
    assert_eq!(plivo.name(), "plivo");
    assert_eq!(
        plivo.acknowledgement(Route::Inbound),
        Acknowledgement::EMPTY_XML_RESPONSE
    );
    assert_eq!(
        plivo.acknowledgement(Route::Status),
        Acknowledgement::EMPTY_TEXT
    );
}

proptest! {
    #[test]
    fn garbage_headers_and_bodies_never_panic(
        signature in ".{0,80}",
        nonce in ".{0,30}",
        body in prop::collection::vec(any::<u8>(), 0..200),
        get in any::<bool>(),
    ) {
        let mut req = form(STATUS_URL, &[]);
        req.body = body;
        if get {
            req.method = Method::GET;
        }
        for (name, value) in [(V3, &signature), (V3_NONCE, &nonce), (V2, &signature)] {
            if let Ok(value) = HeaderValue::from_str(value) {
                req.headers.insert(name, value);
            }
        }
        let _ = verify(&req, TOKEN);
        let plivo = Plivo::new(Secret::new(TOKEN));
        let _ = plivo.parse(Route::Status, &req.request());
        let _ = plivo.parse(Route::Inbound, &req.request());
    }
}
