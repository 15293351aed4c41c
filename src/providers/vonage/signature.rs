//! SMS API "signed messages" (providers.md §2.4): a `sig` parameter over
//! every other parameter, sorted by name, as `&name=value` with `&` and `=`
//! in values replaced by `_`; the signed `timestamp` bounds replays.
//!
//! Methods, as set in the Vonage dashboard and `SMSTRAIL_VONAGE_SIGNATURE_METHOD`:
//! `md5hash` is MD5(canonical + secret); `md5`, `sha1`, `sha256` and
//! `sha512` are HMACs keyed with the secret. Vonage writes the first in
//! lowercase hex and the HMACs in uppercase; either case is accepted.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::super::{VerifyError, check_timestamp, digests_match};
use super::params::Params;
use crate::config::VonageSignatureMethod;

pub const SIGNATURE_PARAM: &str = "sig";
pub const TIMESTAMP_PARAM: &str = "timestamp";

/// The `sig` Vonage sends for `params` (every parameter but `sig` itself is
/// signed; a `sig` among `params` is left out). Nothing is added: unlike
/// Vonage's SDK helpers this never inserts a `timestamp`, so callers that
/// want an authentic request include one.
pub fn sign(secret: &str, method: VonageSignatureMethod, params: &[(String, String)]) -> String {
    let digest = digest(secret, method, &canonical(params));
    match method {
        VonageSignatureMethod::Md5Hash => hex::encode(digest),
        _ => hex::encode_upper(digest),
    }
}

/// Checks `sig`, then that the signed `timestamp` is fresh. A request
/// without a timestamp is refused: without it a captured request could be
/// replayed forever.
pub fn verify(
    secret: &str,
    method: VonageSignatureMethod,
    params: &Params,
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let received = params
        .non_empty(SIGNATURE_PARAM)
        .ok_or(VerifyError::Missing(SIGNATURE_PARAM))?;
    // `hex` reads either case; text that is not hex is no digest of ours.
    let received = hex::decode(received.trim()).map_err(|_| VerifyError::Mismatch)?;
    let expected = digest(secret, method, &canonical(params.pairs()));
    if !digests_match(&received, &expected) {
        return Err(VerifyError::Mismatch);
    }
    let timestamp = params
        .non_empty(TIMESTAMP_PARAM)
        .ok_or(VerifyError::Missing(TIMESTAMP_PARAM))?
        .trim()
        .parse::<i64>()
        .map_err(|_| VerifyError::Malformed(TIMESTAMP_PARAM))?;
    check_timestamp(timestamp, now)
}

/// `&name=value` for every parameter but `sig`, sorted by name (byte order,
/// which is code point order), with `&` and `=` in values replaced by `_`.
/// Values are the decoded text, not their URL encoding.
pub fn canonical(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params
        .iter()
        .filter(|(name, _)| name != SIGNATURE_PARAM)
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    for (name, value) in sorted {
        text.push('&');
        text.push_str(name);
        text.push('=');
        text.extend(
            value
                .chars()
                .map(|c| if c == '&' || c == '=' { '_' } else { c }),
        );
    }
    text
}

fn digest(secret: &str, method: VonageSignatureMethod, canonical: &str) -> Vec<u8> {
    let key = secret.as_bytes();
    let text = canonical.as_bytes();
    match method {
        VonageSignatureMethod::Md5Hash => {
            let mut hasher = Md5::new();
            hasher.update(text);
            hasher.update(key);
            hasher.finalize().to_vec()
        }
        VonageSignatureMethod::Md5 => hmac::<Md5>(key, text),
        VonageSignatureMethod::Sha1 => hmac::<Sha1>(key, text),
        VonageSignatureMethod::Sha256 => hmac::<Sha256>(key, text),
        VonageSignatureMethod::Sha512 => hmac::<Sha512>(key, text),
    }
}

fn hmac<D: hmac::EagerHash>(key: &[u8], text: &[u8]) -> Vec<u8>
where
    Hmac<D>: KeyInit + Mac,
{
    let mut mac = match <Hmac<D> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(text);
    mac.finalize().into_bytes().to_vec()
}
