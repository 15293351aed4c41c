//! Use cases: the rules that more than one front end applies (the CLI and
//! the web pages), written once. Callers parse their own input format and
//! render the outcome their own way; what is checked, stored and audited is
//! decided here.

pub mod accounts;
pub mod evidence;
pub mod login;
pub mod registration;
pub mod reveal;
pub mod tokens;

use crate::domain::account::AuditAction;
use crate::store::{NewAuditEntry, StoreError};

/// Who asks for a change, as the audit log records it.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<String>,
    pub email: Option<String>,
    pub client_addr: Option<String>,
}

impl Actor {
    /// Someone at the server's command line: no account, no address.
    pub fn command_line() -> Self {
        Self::default()
    }

    /// An audit entry for `action` by this actor at `at_us`.
    pub fn audit(&self, action: AuditAction, at_us: i64) -> NewAuditEntry {
        NewAuditEntry {
            at_us,
            actor_id: self.id.clone(),
            actor_email: self.email.clone(),
            client_addr: self.client_addr.clone(),
            ..NewAuditEntry::new(action)
        }
    }

    /// Audit detail text, saying where a change without an account came from.
    fn detail(&self, text: String) -> String {
        if self.id.is_none() {
            format!("{text}, from the command line")
        } else {
            text
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// Input a person can correct; lower case without a final stop, so a
    /// page can capitalize it and the CLI can put its flag in front.
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist ("Message").
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that is valid but clashes with what is stored.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server could not do its part (no randomness, hashing failed).
    #[error("{0}")]
    Internal(String),
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
