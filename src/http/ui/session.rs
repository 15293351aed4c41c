//! Who is asking: the session's user, checked against the database on every
//! request (disabled accounts and changed passwords end sessions at once),
//! and the CSRF-checked form every state-changing request goes through.
//!
//! A form's CSRF token is tied to both the CSRF cookie (double submit) and
//! the login it was shown in: each login draws a random binding kept in the
//! session, and the token is an HMAC of it under the cookie's token. A token
//! (and cookie) taken from another session, even the same user's, or from
//! before a logout is refused.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum_csrf::CsrfToken;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono_tz::Tz;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tower_sessions::Session;

use super::error::UiError;
use crate::app::AppState;
use crate::domain::account::Role;
use crate::store::UserRecord;

const SESSION_USER: &str = "user";

/// What the session remembers: whose it is and under which generation of
/// their credentials it was opened.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionUser {
    user_id: String,
    generation: i64,
    /// What this login's CSRF tokens are bound to. Sessions opened before
    /// it existed have none and are bound like an anonymous visitor.
    #[serde(default)]
    csrf_binding: String,
}

/// Binds the session to `user` under a fresh id (no fixation) and a fresh
/// CSRF binding, which is returned for the page answering this request.
pub async fn start_session(session: &Session, user: &UserRecord) -> Result<String, UiError> {
    let binding = crate::crypto::random_bytes::<16>()
        .map(hex::encode)
        .map_err(|e| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    session.cycle_id().await?;
    session
        .insert(
            SESSION_USER,
            SessionUser {
                user_id: user.id.clone(),
                generation: user.session_generation,
                csrf_binding: binding.clone(),
            },
        )
        .await?;
    Ok(binding)
}

/// The CSRF binding of the session's login; empty when nobody is logged in.
pub async fn csrf_binding(session: &Session) -> Result<String, UiError> {
    Ok(session
        .get::<SessionUser>(SESSION_USER)
        .await?
        .map(|remembered| remembered.csrf_binding)
        .unwrap_or_default())
}

fn binding_mac(token: &CsrfToken, binding: &str) -> Result<Hmac<Sha256>, UiError> {
    let cookie_proof = token.authenticity_token().map_err(|e| {
        UiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot make a CSRF token: {e}"),
        )
    })?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(cookie_proof.as_bytes())
        .map_err(|e| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    mac.update(binding.as_bytes());
    Ok(mac)
}

/// The token a form carries: valid only with this CSRF cookie and binding.
pub fn form_token(token: &CsrfToken, binding: &str) -> Result<String, UiError> {
    let mac = binding_mac(token, binding)?;
    Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn form_token_matches(token: &CsrfToken, binding: &str, presented: &str) -> bool {
    let Ok(presented) = URL_SAFE_NO_PAD.decode(presented.trim()) else {
        return false;
    };
    binding_mac(token, binding).is_ok_and(|mac| mac.verify_slice(&presented).is_ok())
}

/// A logged-in, active user.
pub struct Agent {
    pub user: UserRecord,
    pub role: Role,
    pub zone: Tz,
    pub session: Session,
    /// What the CSRF tokens of this agent's pages are bound to.
    pub csrf_binding: String,
}

impl Agent {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(status, message)| UiError::new(status, message))?;
        let login_required = || UiError::LoginRequired {
            next: match parts.uri.query() {
                // A number must not travel on in the login link.
                Some(query) if super::search::query_names_a_number(query) => {
                    parts.uri.path().to_owned()
                }
                _ => parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
            },
        };
        let Some(remembered) = session.get::<SessionUser>(SESSION_USER).await? else {
            return Err(login_required());
        };
        let user = state.store.user(&remembered.user_id).await?;
        let user = match user {
            Some(user) if user.is_active() && user.session_generation == remembered.generation => {
                user
            }
            _ => {
                session.flush().await?;
                return Err(login_required());
            }
        };
        let role = user.role;
        let zone = crate::domain::timezones::parse_zone(&user.timezone).unwrap_or(Tz::UTC);
        Ok(Agent {
            user,
            role,
            zone,
            session,
            csrf_binding: remembered.csrf_binding,
        })
    }
}

/// An admin; anyone else gets 403.
pub struct Admin(pub Agent);

impl FromRequestParts<AppState> for Admin {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let agent = Agent::from_request_parts(parts, state).await?;
        if agent.is_admin() {
            Ok(Admin(agent))
        } else {
            Err(UiError::forbidden("This page is for admins."))
        }
    }
}

/// The client's address, for the audit log and the login throttle: the TCP
/// peer, or, when the peer is a configured trusted proxy, the address that
/// proxy reports in `X-Forwarded-For`.
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|_| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no client address"))?;
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientAddr(client_address(
            peer.ip(),
            &forwarded.join(","),
            &state.config.trusted_proxies,
        )))
    }
}

/// Walks `X-Forwarded-For` from the nearest hop back while the hop is a
/// trusted proxy: the first untrusted address is the client. Entries a
/// client wrote itself sit further left and are never reached unless every
/// hop after them is trusted.
fn client_address(peer: IpAddr, forwarded_for: &str, trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    if !trusted.contains(&peer) {
        return client;
    }
    for hop in forwarded_for.rsplit(',').map(str::trim) {
        let Ok(address) = hop.parse::<IpAddr>() else {
            break;
        };
        client = address;
        if !trusted.contains(&address) {
            break;
        }
    }
    client
}

/// A urlencoded form whose `authenticity_token` matched the CSRF cookie
/// and the session's login.
/// Every POST handler of the UI takes its input through this.
pub struct CsrfForm<T> {
    pub form: T,
    /// Handed back with the response so the cookie stays set.
    pub token: CsrfToken,
}

#[derive(Deserialize)]
struct AuthenticityToken {
    authenticity_token: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, UiError> {
        let (mut parts, body) = request.into_parts();
        let token = CsrfToken::from_request_parts(&mut parts, state)
            .await
            .map_err(|(status, message)| UiError::new(status, message))?;
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(|(status, message)| UiError::new(status, message))?;
        let binding = csrf_binding(&session).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| UiError::bad_request(format!("Unreadable form: {e}")))?;
        let presented: AuthenticityToken = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| UiError::bad_request(format!("Unreadable form: {e}")))?;
        let valid = presented
            .authenticity_token
            .is_some_and(|t| form_token_matches(&token, &binding, &t));
        if !valid {
            return Err(UiError::forbidden(
                "This form is out of date or was not sent from smstrail (CSRF check failed). \
                 Reload the page and try again.",
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| UiError::bad_request(format!("Invalid form: {e}")))?;
        Ok(CsrfForm { form, token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        assert_eq!(client_address(PROXY, "203.0.113.9", &[]), PROXY);
        assert_eq!(client_address(PROXY, "203.0.113.9", &[PROXY]), CLIENT);
        assert_eq!(client_address(CLIENT, "198.51.100.1", &[PROXY]), CLIENT);
    }

    #[test]
    fn a_spoofed_left_entry_is_not_believed() {
        // The client sent "1.2.3.4" itself; the proxy appended the real peer.
        assert_eq!(
            client_address(PROXY, "1.2.3.4, 203.0.113.9", &[PROXY]),
            CLIENT
        );
        // Two trusted hops: the client is the first untrusted from the right.
        let inner = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 3));
        assert_eq!(
            client_address(PROXY, "203.0.113.9, 10.0.0.3", &[PROXY, inner]),
            CLIENT
        );
    }

    #[test]
    fn garbage_or_missing_headers_leave_the_peer() {
        assert_eq!(client_address(PROXY, "", &[PROXY]), PROXY);
        assert_eq!(client_address(PROXY, "unknown", &[PROXY]), PROXY);
    }
}
