//! Messages API signed webhooks (providers.md §2.4): `Authorization: Bearer
//! <JWT>`, HS256 keyed with the account's signature secret (the dashboard's
//! method setting does not apply), claims `iat`, `jti`, `iss`,
//! `payload_hash` (SHA-256 hex of the body), `api_key`, `application_id`.
//!
//! Vonage's tokens carry no `exp`, so freshness is `iat` within the same
//! 5-minute window as every other timestamped scheme here
//! ([`super::super::TIMESTAMP_TOLERANCE_SECS`]). The body is bound through
//! `payload_hash`, which is therefore required.

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::super::{VerifyError, check_timestamp, digests_match};

const TOKEN: &str = "bearer token";
const PAYLOAD_HASH: &str = "payload_hash";

/// The claims smstrail checks; others are ignored.
#[derive(Debug, Deserialize)]
struct Claims {
    iat: i64,
    payload_hash: Option<String>,
}

/// The claims Vonage puts in its tokens, for [`sign_jwt`].
#[derive(Serialize)]
struct VonageClaims<'a> {
    iat: i64,
    jti: String,
    iss: &'a str,
    payload_hash: String,
    api_key: &'a str,
    application_id: &'a str,
}

/// A bearer token as Vonage signs it for a Messages API webhook carrying
/// `body`, issued at `issued_at` (Unix seconds).
pub fn sign_jwt(secret: &str, body: &[u8], issued_at: i64) -> String {
    let claims = VonageClaims {
        iat: issued_at,
        jti: uuid::Uuid::now_v7().to_string(),
        iss: "Vonage",
        payload_hash: hex::encode(Sha256::digest(body)),
        api_key: "smstrail",
        application_id: "00000000-0000-0000-0000-000000000000",
    };
    let key = match EncodingKey::from_secret(secret.as_bytes()) {
        Ok(key) => key,
        // Configuration never holds an empty secret; sign nothing with one.
        Err(_) => return String::new(),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap_or_default()
}

/// Checks the token's signature, then `iat`, then that `payload_hash` is
/// the body's.
pub fn verify(
    secret: &str,
    token: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let claims: Claims = decode(secret, token)?;
    check_timestamp(claims.iat, now)?;
    let claimed = claims
        .payload_hash
        .filter(|h| !h.is_empty())
        .ok_or(VerifyError::Missing(PAYLOAD_HASH))?;
    let claimed = hex::decode(claimed.trim()).map_err(|_| VerifyError::Malformed(PAYLOAD_HASH))?;
    if digests_match(&claimed, &Sha256::digest(body)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The claims of an HS256 token signed with `secret`. Only HS256 is
/// accepted whatever the header says (no `none`, no algorithm confusion);
/// an `exp`, where a token has one, must not have passed.
fn decode<T: serde::de::DeserializeOwned>(secret: &str, token: &str) -> Result<T, VerifyError> {
    let key = DecodingKey::from_secret(secret.as_bytes()).map_err(|_| VerifyError::Mismatch)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    validation.leeway = 0;
    match jsonwebtoken::decode::<T>(token, &key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(error) => Err(match error.kind() {
            ErrorKind::InvalidSignature => VerifyError::Mismatch,
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
                VerifyError::StaleTimestamp
            }
            _ => VerifyError::Malformed(TOKEN),
        }),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    // providers.md §2.5 V-J1 (vonage-ruby-sdk test.rb).
    const VJ1_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE1ODc0OTQ5NjIsImp0aSI6ImM1YmE4ZjI0LTFhMTQtNGMxMC1iZmRmLTNmYmU4Y2U1MTFiNSIsImlzcyI6IlZvbmFnZSIsInBheWxvYWRfaGFzaCI6ImQ2YzBlNzRiNTg1N2RmMjBlM2I3ZTUxYjMwYzBjMmE0MGVjNzNhNzc4NzliNmYwNzRkZGM3YTIzMTdkZDAzMWIiLCJhcGlfa2V5IjoiYTFiMmMzZCIsImFwcGxpY2F0aW9uX2lkIjoiYWFhYWFhYWEtYmJiYi1jY2NjLWRkZGQtMDEyMzQ1Njc4OWFiIn0.JQRKi1d0SQitmjPINfTWMpt3XZkGsLbD7EjCdXoNSbk";
    const VJ1_SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgfnI0Xw";
    const VJ1_WRONG_SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgf55555";
    const VJ1_IAT: i64 = 1_587_494_962;
    const VJ1_PAYLOAD_HASH: &str =
        "d6c0e74b5857df20e3b7e51b30c0c2a40ec73a77879b6f074ddc7a2317dd031b";

    // V-J2 (vonage-python-sdk test_verify_jwt.py): a generic HS256 token.
    const VJ2_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2MzQ2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM";
    const VJ2_SECRET: &str = "qwertyuiopasdfghjklzxcvbnm123456";

    #[derive(Debug, Deserialize)]
    struct AllClaims {
        iat: i64,
        jti: String,
        iss: String,
        payload_hash: String,
        api_key: String,
        application_id: String,
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    #[test]
    fn vj1_valid_with_its_secret_and_claims_decode() {
        let claims: AllClaims = decode(VJ1_SECRET, VJ1_TOKEN).unwrap();
        assert_eq!(claims.iat, VJ1_IAT);
        assert_eq!(claims.jti, "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5");
        assert_eq!(claims.iss, "Vonage");
        assert_eq!(claims.payload_hash, VJ1_PAYLOAD_HASH);
        assert_eq!(claims.api_key, "a1b2c3d");
        assert_eq!(
            claims.application_id,
            "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
        );
    }

    #[test]
    fn vj1_invalid_with_another_secret() {
        assert_eq!(
            decode::<AllClaims>(VJ1_WRONG_SECRET, VJ1_TOKEN).unwrap_err(),
            VerifyError::Mismatch
        );
        assert_eq!(
            verify(VJ1_WRONG_SECRET, VJ1_TOKEN, b"{}", at(VJ1_IAT)),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn vj1_full_check_binds_time_and_body() {
        // The vector's body is not published: any body is a hash mismatch,
        // which proves the signature and the window passed first.
        assert_eq!(
            verify(VJ1_SECRET, VJ1_TOKEN, b"{}", at(VJ1_IAT + 60)),
            Err(VerifyError::Mismatch)
        );
        for offset in [-301, 301, 86_400] {
            assert_eq!(
                verify(VJ1_SECRET, VJ1_TOKEN, b"{}", at(VJ1_IAT + offset)),
                Err(VerifyError::StaleTimestamp),
                "{offset}"
            );
        }
    }

    #[test]
    fn vj2_generic_hs256_both_verdicts() {
        #[derive(Deserialize)]
        struct Iss {
            iss: String,
        }
        let claims: Iss = decode(VJ2_SECRET, VJ2_TOKEN).unwrap();
        assert_eq!(claims.iss, "Online JWT Builder");
        assert_eq!(
            decode::<Iss>("asdf", VJ2_TOKEN).err(),
            Some(VerifyError::Mismatch)
        );
    }

    #[test]
    fn signed_tokens_round_trip_and_bind_the_body() {
        let body = br#"{"message_uuid":"m-1","status":"delivered"}"#;
        let token = sign_jwt("s3cret", body, 1_700_000_000);
        assert_eq!(verify("s3cret", &token, body, at(1_700_000_100)), Ok(()));
        assert_eq!(
            verify(
                "s3cret",
                &token,
                br#"{"message_uuid":"m-1","status":"rejected"}"#,
                at(1_700_000_100)
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("other", &token, body, at(1_700_000_100)),
            Err(VerifyError::Mismatch)
        );
        let claims: AllClaims = decode("s3cret", &token).unwrap();
        assert_eq!(claims.payload_hash, hex::encode(Sha256::digest(body)));
        assert_eq!(claims.iss, "Vonage");
    }

    fn token_with(header: &str, claims: &str, secret: &str) -> String {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
        use hmac::{Hmac, KeyInit, Mac};
        let message = format!("{}.{}", B64URL.encode(header), B64URL.encode(claims));
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(message.as_bytes());
        format!("{message}.{}", B64URL.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn other_algorithms_and_garbage_are_refused() {
        let claims = format!(
            r#"{{"iat":1700000000,"payload_hash":"{}"}}"#,
            hex::encode(Sha256::digest(b""))
        );
        let now = at(1_700_000_000);
        let good = token_with(r#"{"alg":"HS256","typ":"JWT"}"#, &claims, "k");
        assert_eq!(verify("k", &good, b"", now), Ok(()));
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS512"}"#,
            r#"{"alg":"RS256"}"#,
        ] {
            let token = token_with(header, &claims, "k");
            assert!(verify("k", &token, b"", now).is_err(), "{header}");
        }
        let unsigned = format!("{}.", good.rsplit_once('.').unwrap().0);
        assert!(verify("k", &unsigned, b"", now).is_err());
        for garbage in ["", "a", "a.b", "a.b.c", "...", "é.é.é", &"x".repeat(10_000)] {
            assert!(verify("k", garbage, b"", now).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn missing_or_odd_claims_are_refused() {
        let now = at(1_700_000_000);
        let no_hash = token_with(r#"{"alg":"HS256"}"#, r#"{"iat":1700000000}"#, "k");
        assert_eq!(
            verify("k", &no_hash, b"", now),
            Err(VerifyError::Missing(PAYLOAD_HASH))
        );
        let bad_hash = token_with(
            r#"{"alg":"HS256"}"#,
            r#"{"iat":1700000000,"payload_hash":"zz"}"#,
            "k",
        );
        assert_eq!(
            verify("k", &bad_hash, b"", now),
            Err(VerifyError::Malformed(PAYLOAD_HASH))
        );
        let no_iat = token_with(r#"{"alg":"HS256"}"#, r#"{"payload_hash":"00"}"#, "k");
        assert_eq!(
            verify("k", &no_iat, b"", now),
            Err(VerifyError::Malformed(TOKEN))
        );
        let text_iat = token_with(
            r#"{"alg":"HS256"}"#,
            r#"{"iat":"soon","payload_hash":"00"}"#,
            "k",
        );
        assert_eq!(
            verify("k", &text_iat, b"", now),
            Err(VerifyError::Malformed(TOKEN))
        );
        let expired = token_with(
            r#"{"alg":"HS256"}"#,
            r#"{"iat":1700000000,"exp":1699999999,"payload_hash":"00"}"#,
            "k",
        );
        assert_eq!(
            verify("k", &expired, b"", now),
            Err(VerifyError::StaleTimestamp)
        );
    }
}
