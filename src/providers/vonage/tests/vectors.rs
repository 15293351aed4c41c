//! providers.md §2.5, on the signing function and through requests.

use super::*;
use crate::providers::vonage::signature::canonical;

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
