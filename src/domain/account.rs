//! Accounts: roles, what a valid email and password are, and the names of
//! audited actions. Pure rules; hashing and storage live elsewhere.

use std::fmt;
use std::str::FromStr;

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

/// The actions the audit log records. Stored as these strings.
pub mod audit {
    pub const SETUP: &str = "setup";
    pub const LOGIN: &str = "login";
    pub const LOGIN_FAILED: &str = "login_failed";
    pub const LOGOUT: &str = "logout";
    pub const REVEAL: &str = "reveal";
    pub const REVEAL_DENIED: &str = "reveal_denied";
    pub const USER_ADD: &str = "user_add";
    pub const USER_ROLE: &str = "user_role";
    pub const USER_DISABLE: &str = "user_disable";
    pub const USER_ENABLE: &str = "user_enable";
    pub const USER_PASSWORD_RESET: &str = "user_password_reset";
    pub const PASSWORD_CHANGE: &str = "password_change";
    pub const TIMEZONE_CHANGE: &str = "timezone_change";
    pub const GRANT: &str = "grant";
    pub const GRANT_REVOKE: &str = "grant_revoke";
    pub const TOKEN_CREATE: &str = "token_create";
    pub const TOKEN_REVOKE: &str = "token_revoke";

    pub const ALL: &[&str] = &[
        SETUP,
        LOGIN,
        LOGIN_FAILED,
        LOGOUT,
        REVEAL,
        REVEAL_DENIED,
        USER_ADD,
        USER_ROLE,
        USER_DISABLE,
        USER_ENABLE,
        USER_PASSWORD_RESET,
        PASSWORD_CHANGE,
        TIMEZONE_CHANGE,
        GRANT,
        GRANT_REVOKE,
        TOKEN_CREATE,
        TOKEN_REVOKE,
    ];
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
    fn audit_actions_are_distinct() {
        let mut actions = audit::ALL.to_vec();
        actions.sort_unstable();
        actions.dedup();
        assert_eq!(actions.len(), audit::ALL.len());
    }
}
