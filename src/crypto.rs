//! What the data key protects: the keyed phone-number hash used for exact
//! search, and the encryption at rest of phone numbers and raw payloads.
//!
//! Two subkeys are derived from the one configured key with HKDF so the hash
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
use crate::store::ProtectedNumber;

const NONCE_LEN: usize = 24;
const HASH_INFO: &[u8] = b"smstrail/v1/phone-hash";
const CIPHER_INFO: &[u8] = b"smstrail/v1/encryption";

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
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hkdf.expand(HASH_INFO, &mut hash_key);
        let _ = hkdf.expand(CIPHER_INFO, &mut cipher_key);
        Self {
            hash_key,
            cipher: XChaCha20Poly1305::new(&cipher_key.into()),
        }
    }

    /// HMAC-SHA256 of an E.164 number: equal numbers give equal hashes, and
    /// without the key the hash says nothing about the number.
    pub fn phone_hash(&self, e164: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.hash_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(e164.as_bytes());
        mac.finalize().into_bytes().to_vec()
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

/// Random bytes for tokens and generated keys.
/// Key material for another purpose (the CSRF cookie key, say), derived
/// from the data key so that it survives restarts and is shared by every
/// instance without another secret to configure.
pub fn derive_key<const N: usize>(key: &DataKey, purpose: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // N is a small constant, far below HKDF-SHA256's 8160-byte limit.
    let _ = Hkdf::<Sha256>::new(None, key.bytes()).expand(purpose, &mut out);
    out
}

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
}
