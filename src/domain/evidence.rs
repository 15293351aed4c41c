//! Evidence export: one message's timeline and the audit records about it,
//! as a JSON document signed with an HMAC keyed from the data key, so that
//! a copy handed to a provider shows any later change.
//!
//! The file is an envelope around the document's exact bytes:
//!
//! ```text
//! {"signature":{"alg":"HMAC-SHA256","key_id":"…","value":"…"},
//! "document":<the signed bytes>}
//! ```
//!
//! The HMAC-SHA256 covers the bytes of the `document` value exactly as they
//! stand in the file (no re-serialization, so verifying needs no canonical
//! JSON). The envelope around them has one fixed layout, so a changed byte
//! anywhere in the file is refused, not only one inside the document.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::Sha256;

/// The document's `format`; a later layout gets another version.
pub const FORMAT: &str = "smstrail-evidence/v1";
pub const ALGORITHM: &str = "HMAC-SHA256";
const KEY_ID_INFO: &[u8] = b"smstrail/v1/evidence-key-id";

/// Who may export: admins always, others while they hold a live reveal
/// grant (the file holds no number, but it is a message's whole record).
pub fn may_export(is_admin: bool, has_live_grant: bool) -> bool {
    is_admin || has_live_grant
}

/// The signing key, derived from the data key (see `crypto::DataCipher`).
#[derive(Clone)]
pub struct EvidenceKey([u8; 32]);

impl std::fmt::Debug for EvidenceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EvidenceKey([redacted])")
    }
}

impl EvidenceKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Names the key without giving it away: the first 8 bytes of an HMAC
    /// of a fixed label, in hex. Two files with the same id were signed by
    /// the same data key.
    pub fn key_id(&self) -> String {
        hex::encode(&self.mac(KEY_ID_INFO).finalize().into_bytes()[..8])
    }

    fn mac(&self, bytes: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(bytes);
        mac
    }
}

/// What one export says about one message. Times are RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceDocument {
    pub format: String,
    pub exported_at: String,
    /// The email of the person who exported it.
    pub exported_by: String,
    pub message: MessageEvidence,
    /// The delivery events, in provider time order.
    pub timeline: Vec<EventEvidence>,
    /// The audit records about the message, oldest first; the export itself
    /// is the last.
    pub audit: Vec<AuditEvidence>,
}

/// The message's summary. The recipient only masked: never the number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEvidence {
    pub id: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub recipient_masked: String,
    pub destination_country: Option<String>,
    pub sender_identity: Option<String>,
    pub sender_type: Option<String>,
    pub template: Option<String>,
    pub use_case: Option<String>,
    pub status: String,
    pub raw_status: Option<String>,
    pub error_code: Option<String>,
    pub is_final: bool,
    pub registered_at: String,
    pub sent_at: Option<String>,
    pub status_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEvidence {
    pub id: i64,
    /// The normalized status, or `unmapped`.
    pub status: String,
    pub raw_status: String,
    pub error_code: Option<String>,
    /// What the error code means, in plain language.
    pub error_note: Option<String>,
    pub provider_event_id: Option<String>,
    /// When the provider says it happened.
    pub occurred_at: Option<String>,
    /// When smstrail received it.
    pub received_at: String,
    /// An admin's mapping gave the status: which, by whom, when.
    pub mapping: Option<String>,
    /// smstrail's own event (a timeout), said so.
    pub note: Option<String>,
    pub content_type: String,
    /// The raw payload as received, decoded, every phone number masked;
    /// absent when `payload_note` says why.
    pub raw_payload: Option<String>,
    pub payload_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvidence {
    pub id: i64,
    pub at: String,
    pub action: String,
    pub actor_email: Option<String>,
    pub client_addr: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signature {
    alg: String,
    key_id: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    signature: Signature,
    #[serde(borrow)]
    document: &'a RawValue,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("not a smstrail evidence file: {0}")]
    Malformed(String),
    #[error("signed with {0:?}, which smstrail does not use")]
    UnknownAlgorithm(String),
    #[error(
        "the signature does not match: the file was changed after export, or another smstrail \
         (key id {found}; this one's is {ours}) signed it"
    )]
    OtherKey { found: String, ours: String },
    #[error("the signature does not match: the document was changed after export")]
    Tampered,
    #[error("the signature matches but the file around it was changed after export")]
    Altered,
    #[error("unknown evidence format {0:?}")]
    UnknownFormat(String),
}

/// The file for `document`, signed with `key`.
pub fn sign(key: &EvidenceKey, document: &EvidenceDocument) -> Result<Vec<u8>, EvidenceError> {
    let bytes =
        serde_json::to_vec_pretty(document).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
    let signature = Signature {
        alg: ALGORITHM.to_owned(),
        key_id: key.key_id(),
        value: hex::encode(key.mac(&bytes).finalize().into_bytes()),
    };
    envelope(&signature, &bytes)
}

/// The signed document of `file`, if `key` signed exactly these bytes.
/// Whitespace after the closing brace is allowed (editors add a newline).
pub fn verify(key: &EvidenceKey, file: &[u8]) -> Result<EvidenceDocument, EvidenceError> {
    let malformed = |e: serde_json::Error| EvidenceError::Malformed(e.to_string());
    let parsed: Envelope<'_> = serde_json::from_slice(file).map_err(malformed)?;
    let signature = &parsed.signature;
    if signature.alg != ALGORITHM {
        return Err(EvidenceError::UnknownAlgorithm(signature.alg.clone()));
    }
    let document = parsed.document.get().as_bytes();
    let claimed = hex::decode(&signature.value)
        .map_err(|_| EvidenceError::Malformed("the signature value is not hex".to_owned()))?;
    let ours = key.key_id();
    if key.mac(document).verify_slice(&claimed).is_err() {
        return Err(if signature.key_id == ours {
            EvidenceError::Tampered
        } else {
            EvidenceError::OtherKey {
                found: signature.key_id.clone(),
                ours,
            }
        });
    }
    // The MAC holds; the rest of the file must be as `sign` wrote it, down
    // to the key id and the case of the hex.
    let written = Signature {
        alg: ALGORITHM.to_owned(),
        key_id: ours,
        value: hex::encode(&claimed),
    };
    if envelope(&written, document)? != file.trim_ascii_end() {
        return Err(EvidenceError::Altered);
    }
    let document: EvidenceDocument = serde_json::from_slice(document).map_err(malformed)?;
    if document.format != FORMAT {
        return Err(EvidenceError::UnknownFormat(document.format));
    }
    Ok(document)
}

/// The one layout of an evidence file, shared by signing and verifying.
fn envelope(signature: &Signature, document: &[u8]) -> Result<Vec<u8>, EvidenceError> {
    let signature =
        serde_json::to_vec(signature).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
    let mut out = Vec::with_capacity(document.len() + signature.len() + 32);
    out.extend_from_slice(b"{\"signature\":");
    out.extend_from_slice(&signature);
    out.extend_from_slice(b",\n\"document\":");
    out.extend_from_slice(document);
    out.extend_from_slice(b"}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> EvidenceKey {
        EvidenceKey::from_bytes([byte; 32])
    }

    fn document() -> EvidenceDocument {
        EvidenceDocument {
            format: FORMAT.to_owned(),
            exported_at: "2026-01-02T03:04:05.000006Z".to_owned(),
            exported_by: "ana@example.com".to_owned(),
            message: MessageEvidence {
                id: "m-1".to_owned(),
                provider: "twilio".to_owned(),
                provider_message_id: Some("SM1".to_owned()),
                recipient_masked: "+1 •••• ••0100".to_owned(),
                destination_country: Some("US".to_owned()),
                sender_identity: None,
                sender_type: None,
                template: None,
                use_case: Some("otp".to_owned()),
                status: "delivered".to_owned(),
                raw_status: Some("delivered".to_owned()),
                error_code: None,
                is_final: true,
                registered_at: "2026-01-02T03:00:00Z".to_owned(),
                sent_at: None,
                status_at: "2026-01-02T03:00:01Z".to_owned(),
            },
            timeline: vec![],
            audit: vec![AuditEvidence {
                id: 9,
                at: "2026-01-02T03:04:05.000006Z".to_owned(),
                action: "evidence_export".to_owned(),
                actor_email: Some("ana@example.com".to_owned()),
                client_addr: None,
                reason: None,
                detail: None,
            }],
        }
    }

    #[test]
    fn a_signed_file_verifies_to_its_document() {
        let file = sign(&key(1), &document()).unwrap();
        assert_eq!(verify(&key(1), &file), Ok(document()));
        // A newline added at the end changes nothing signed.
        let mut with_newline = file.clone();
        with_newline.extend_from_slice(b"\n");
        assert_eq!(verify(&key(1), &with_newline), Ok(document()));
        let text = String::from_utf8(file).unwrap();
        assert!(text.starts_with("{\"signature\":{\"alg\":\"HMAC-SHA256\""));
        assert!(text.contains(&key(1).key_id()));
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let file = sign(&key(1), &document()).unwrap();
        for i in 0..file.len() {
            for flip in [0x01, 0x20] {
                let mut changed = file.clone();
                changed[i] ^= flip;
                assert!(
                    verify(&key(1), &changed).is_err(),
                    "byte {i} ^ {flip:#x} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn a_changed_value_is_named_as_tampering() {
        let file = String::from_utf8(sign(&key(1), &document()).unwrap()).unwrap();
        let changed = file.replace("delivered", "undelivered");
        assert_eq!(
            verify(&key(1), changed.as_bytes()),
            Err(EvidenceError::Tampered)
        );
        // Re-indented, the document's bytes differ: refused the same way.
        let reflowed = file.replace("\n  ", "\n   ");
        assert_eq!(
            verify(&key(1), reflowed.as_bytes()),
            Err(EvidenceError::Tampered)
        );
    }

    #[test]
    fn another_key_or_a_broken_file_is_refused_and_said_so() {
        let file = sign(&key(1), &document()).unwrap();
        assert!(matches!(
            verify(&key(2), &file),
            Err(EvidenceError::OtherKey { .. })
        ));
        assert_ne!(key(1).key_id(), key(2).key_id());
        assert_eq!(key(1).key_id().len(), 16);
        for broken in [&b""[..], b"{}", b"[]", b"not json", &file[..file.len() - 1]] {
            assert!(
                matches!(verify(&key(1), broken), Err(EvidenceError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(broken)
            );
        }
        // Upper-case hex decodes to the same MAC, but it is not what was written.
        let text = String::from_utf8(file).unwrap();
        let start = text.find("\"value\":\"").unwrap() + 9;
        let end = start + 64;
        let upper = format!(
            "{}{}{}",
            &text[..start],
            text[start..end].to_uppercase(),
            &text[end..]
        );
        assert_eq!(
            verify(&key(1), upper.as_bytes()),
            Err(EvidenceError::Altered)
        );
        let other_alg = text.replace("HMAC-SHA256", "none");
        assert_eq!(
            verify(&key(1), other_alg.as_bytes()),
            Err(EvidenceError::UnknownAlgorithm("none".to_owned()))
        );
    }

    #[test]
    fn the_key_is_never_printed() {
        assert_eq!(format!("{:?}", key(1)), "EvidenceKey([redacted])");
    }
}
