//! Accounts: roles, what a valid email and password are, and the names of
//! audited actions. Pure rules; hashing and storage live elsewhere.

use std::fmt;
use std::str::FromStr;

use super::UnknownValue;

/// Shortest password accepted: long passphrases beat composition rules
/// (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Argon2 takes any length, but an unbounded input is a cheap way to burn CPU.
pub const MAX_PASSWORD_CHARS: usize = 256;
const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Search, timelines, masked numbers.
    Support,
    /// Everything, including users, reveal grants, API tokens and the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Support, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "support" => Ok(Role::Support),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: expected \"support\" or \"admin\""
            )),
        }
    }
}

/// The stored form of an email: trimmed and lower-cased, so that logins do
/// not depend on how someone capitalized their address.
pub fn normalize_email(text: &str) -> Result<String, String> {
    let email = text.trim().to_lowercase();
    if email.is_empty() {
        return Err("email is required".to_owned());
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!("email is longer than {MAX_EMAIL_CHARS} characters"));
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err(format!("{:?} is not an email address", text.trim()))
    }
}

/// Length is the rule; whitespace at the ends is kept (it may be intended)
/// but a password of only whitespace is refused.
pub fn check_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!(
            "password must be at most {MAX_PASSWORD_CHARS} characters"
        ));
    }
    if password.trim().is_empty() {
        return Err("password cannot be only spaces".to_owned());
    }
    Ok(())
}

impl TryFrom<String> for Role {
    type Error = UnknownValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse().map_err(|_| UnknownValue::new("role", text))
    }
}

/// The actions the audit log records, stored as their `as_str` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Setup,
    Login,
    LoginFailed,
    Logout,
    Reveal,
    RevealDenied,
    UserAdd,
    UserRole,
    UserDisable,
    UserEnable,
    UserPasswordReset,
    PasswordChange,
    TimezoneChange,
    Grant,
    GrantRevoke,
    TokenCreate,
    TokenRevoke,
    /// A search by phone number: recorded with the number masked, so that
    /// enumerating a masked number through search leaves a trail.
    PhoneSearch,
    /// Review items settled by hand, with a note.
    ReviewResolve,
    /// A provider's raw status mapped to a normalized status.
    MappingAdd,
    MappingRemove,
    /// A message's signed evidence file downloaded.
    EvidenceExport,
}

impl AuditAction {
    pub const ALL: [AuditAction; 22] = [
        Self::Setup,
        Self::Login,
        Self::LoginFailed,
        Self::Logout,
        Self::Reveal,
        Self::RevealDenied,
        Self::UserAdd,
        Self::UserRole,
        Self::UserDisable,
        Self::UserEnable,
        Self::UserPasswordReset,
        Self::PasswordChange,
        Self::TimezoneChange,
        Self::Grant,
        Self::GrantRevoke,
        Self::TokenCreate,
        Self::TokenRevoke,
        Self::PhoneSearch,
        Self::ReviewResolve,
        Self::MappingAdd,
        Self::MappingRemove,
        Self::EvidenceExport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::Reveal => "reveal",
            Self::RevealDenied => "reveal_denied",
            Self::UserAdd => "user_add",
            Self::UserRole => "user_role",
            Self::UserDisable => "user_disable",
            Self::UserEnable => "user_enable",
            Self::UserPasswordReset => "user_password_reset",
            Self::PasswordChange => "password_change",
            Self::TimezoneChange => "timezone_change",
            Self::Grant => "grant",
            Self::GrantRevoke => "grant_revoke",
            Self::TokenCreate => "token_create",
            Self::TokenRevoke => "token_revoke",
            Self::PhoneSearch => "phone_search",
            Self::ReviewResolve => "review_resolve",
            Self::MappingAdd => "mapping_add",
            Self::MappingRemove => "mapping_remove",
            Self::EvidenceExport => "evidence_export",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == text)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for AuditAction {
    type Error = UnknownValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or_else(|| UnknownValue::new("audit action", text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_others() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Agent@Example.COM "),
            Ok("agent@example.com".to_owned())
        );
        for bad in [
            "",
            "   ",
            "agent",
            "@example.com",
            "agent@",
            "a@b@c",
            "a b@example.com",
            "a@.example.com",
            "a@example.com.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_are_judged_by_length() {
        assert!(check_password("short").is_err());
        assert!(check_password(&" ".repeat(20)).is_err());
        assert!(check_password("correct horse battery staple").is_ok());
        assert!(check_password("ééééééééééééé").is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }

    #[test]
    fn audit_actions_round_trip_and_are_distinct() {
        let mut texts: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("LOGIN"), None);
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), AuditAction::ALL.len());
    }
}
