//! What the data key protects: the keyed phone-number hash used for exact
//! search, and the encryption at rest of phone numbers and raw payloads.
//!
//! Subkeys are derived from the one configured key with HKDF so the hash
//! and the cipher never share key material. XChaCha20-Poly1305 is used rather
//! than AES-256-GCM because its 192-bit nonces can be drawn at random for
//! every raw payload without a practical limit on how many we encrypt.

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::DataKey;
use crate::domain::PhoneNumber;
use crate::domain::evidence::EvidenceKey;
use crate::store::ProtectedNumber;

const NONCE_LEN: usize = 24;
const HASH_INFO: &[u8] = b"smstrail/v1/phone-hash";
const CIPHER_INFO: &[u8] = b"smstrail/v1/encryption";
const FINGERPRINT_INFO: &[u8] = b"smstrail/v1/request-fingerprint";
const PAYLOAD_DIGEST_INFO: &[u8] = b"smstrail/v1/payload-digest";
const EVIDENCE_INFO: &[u8] = b"smstrail/v1/evidence";
/// Marks a keyed request fingerprint; rows without it hold the unkeyed
/// SHA-256 of earlier versions and are upgraded at start-up.
pub const FINGERPRINT_PREFIX: &str = "v2:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the ciphertext is damaged or was sealed with another data key")]
    Undecryptable,
    #[error("the operating system's random source failed")]
    NoRandomness,
}

#[derive(Clone)]
pub struct DataCipher {
    hash_key: [u8; 32],
    fingerprint_key: [u8; 32],
    payload_key: [u8; 32],
    evidence_key: EvidenceKey,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for DataCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataCipher([redacted])")
    }
}

impl DataCipher {
    pub fn new(key: &DataKey) -> Self {
        let hkdf = Hkdf::<Sha256>::new(None, key.bytes());
        let mut hash_key = [0u8; 32];
        let mut cipher_key = [0u8; 32];
        let mut fingerprint_key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hkdf.expand(HASH_INFO, &mut hash_key);
        let _ = hkdf.expand(CIPHER_INFO, &mut cipher_key);
        let mut payload_key = [0u8; 32];
        let _ = hkdf.expand(FINGERPRINT_INFO, &mut fingerprint_key);
        let _ = hkdf.expand(PAYLOAD_DIGEST_INFO, &mut payload_key);
        Self {
            hash_key,
            fingerprint_key,
            payload_key,
            evidence_key: EvidenceKey::from_bytes(derive_key::<32>(key, EVIDENCE_INFO)),
            cipher: XChaCha20Poly1305::new(&cipher_key.into()),
        }
    }

    /// HMAC-SHA256 of an E.164 number: equal numbers give equal hashes, and
    /// without the key the hash says nothing about the number.
    pub fn phone_hash(&self, e164: &str) -> Vec<u8> {
        hmac_sha256(&self.hash_key, e164.as_bytes())
    }

    /// The idempotency fingerprint of a registration's canonical JSON, which
    /// holds the recipient in clear: keyed, so that a copy of the database
    /// cannot be searched for the number by hashing candidates.
    ///
    /// It is the HMAC of the unkeyed SHA-256 hex that earlier versions
    /// stored, so an old row is upgraded from its stored value alone
    /// ([`Self::upgrade_fingerprint`]), without the request it came from.
    pub fn request_fingerprint(&self, canonical: &[u8]) -> String {
        use sha2::Digest;
        self.upgrade_fingerprint(&hex::encode(Sha256::digest(canonical)))
    }

    /// A digest of a raw callback body, to tell a replayed copy: keyed,
    /// because the body holds phone numbers.
    pub fn payload_digest(&self, body: &[u8]) -> String {
        hex::encode(hmac_sha256(&self.payload_key, body))
    }

    /// The keyed form of an unkeyed fingerprint stored by an earlier version.
    pub fn upgrade_fingerprint(&self, unkeyed_hex: &str) -> String {
        let mac = hmac_sha256(&self.fingerprint_key, unkeyed_hex.as_bytes());
        format!("{FINGERPRINT_PREFIX}{}", hex::encode(mac))
    }

    /// The key that signs evidence exports ([`crate::domain::evidence`]).
    pub fn evidence_key(&self) -> &EvidenceKey {
        &self.evidence_key
    }

    /// A stored raw payload for people to read: decrypted, decoded, every
    /// phone number masked ([`crate::domain::payload::readable_payload`]).
    pub fn open_readable(&self, content_type: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        let body = self.open(sealed)?;
        Ok(crate::domain::payload::readable_payload(
            content_type,
            &body,
        ))
    }

    /// Encrypts `plaintext`; the result is the random nonce followed by the ciphertext.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::NoRandomness)?;
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), plaintext)
            .map_err(|_| CryptoError::NoRandomness)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Undecryptable)?;
        self.cipher
            .decrypt(&XNonce::from(nonce), ciphertext)
            .map_err(|_| CryptoError::Undecryptable)
    }
}

impl DataCipher {
    /// The three stored forms of a phone number: hash, ciphertext, masked.
    pub fn protect_number(&self, number: &PhoneNumber) -> Result<ProtectedNumber, CryptoError> {
        Ok(ProtectedNumber {
            hash: self.phone_hash(number.e164()),
            sealed: self.seal(number.e164().as_bytes())?,
            masked: number.masked(),
            country: number.country().map(str::to_owned),
        })
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Key material for another purpose (the CSRF cookie key, say), derived
/// from the data key so that it survives restarts and is shared by every
/// instance without another secret to configure.
pub fn derive_key<const N: usize>(key: &DataKey, purpose: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // N is a small constant, far below HKDF-SHA256's 8160-byte limit.
    let _ = Hkdf::<Sha256>::new(None, key.bytes()).expand(purpose, &mut out);
    out
}

/// Random bytes for tokens and generated keys.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| CryptoError::NoRandomness)?;
    Ok(bytes)
}

/// SHA-256 hex of a high-entropy secret (API tokens): fast to look up, and a
/// leaked table reveals nothing because the secrets are random.
pub fn token_digest(token: &str) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> DataCipher {
        DataCipher::new(&DataKey::from_bytes([byte; 32]))
    }

    #[test]
    fn phone_hash_is_stable_and_keyed() {
        let a = cipher(1);
        assert_eq!(a.phone_hash("+14155550100"), a.phone_hash("+14155550100"));
        assert_ne!(a.phone_hash("+14155550100"), a.phone_hash("+14155550101"));
        assert_ne!(
            a.phone_hash("+14155550100"),
            cipher(2).phone_hash("+14155550100")
        );
        assert_eq!(a.phone_hash("+14155550100").len(), 32);
    }

    #[test]
    fn request_fingerprints_are_keyed_and_upgrade_the_old_unkeyed_ones() {
        use sha2::Digest;
        let canonical = br#"{"idempotency_key":"k","to":"+14155550100"}"#;
        let unkeyed = hex::encode(Sha256::digest(canonical));
        let a = cipher(1);
        let keyed = a.request_fingerprint(canonical);
        assert!(keyed.starts_with(FINGERPRINT_PREFIX), "{keyed}");
        assert!(!keyed.contains(&unkeyed));
        assert_eq!(keyed, a.upgrade_fingerprint(&unkeyed));
        assert_ne!(keyed, cipher(2).request_fingerprint(canonical));
        assert_ne!(keyed, a.request_fingerprint(b"{}"));
    }

    #[test]
    fn seal_round_trips_with_fresh_nonces() {
        let c = cipher(3);
        let one = c.seal(b"+14155550100").unwrap();
        let two = c.seal(b"+14155550100").unwrap();
        assert_ne!(one, two, "nonces must differ");
        assert_eq!(c.open(&one).unwrap(), b"+14155550100");
    }

    #[test]
    fn tampered_short_or_foreign_ciphertexts_are_refused() {
        let c = cipher(4);
        let mut sealed = c.seal(b"payload").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(c.open(&sealed), Err(CryptoError::Undecryptable));
        assert_eq!(c.open(&[0u8; 10]), Err(CryptoError::Undecryptable));
        let other = cipher(5).seal(b"payload").unwrap();
        assert_eq!(c.open(&other), Err(CryptoError::Undecryptable));
    }

    #[test]
    fn the_evidence_key_follows_the_data_key_and_no_other_subkey() {
        let a = cipher(6).evidence_key().key_id();
        assert_eq!(a, cipher(6).evidence_key().key_id());
        assert_ne!(a, cipher(7).evidence_key().key_id());
        let derived = derive_key::<32>(&DataKey::from_bytes([6; 32]), EVIDENCE_INFO);
        assert_ne!(derived, cipher(6).hash_key);
        assert_ne!(derived, cipher(6).payload_key);
    }
}
