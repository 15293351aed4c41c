//! The answer of a reveal form, the same on every page that has one (the
//! message page and the number page): the rules are the use case's
//! ([`crate::usecase::reveal`]); this says how its outcome reads.

use axum::http::StatusCode;
use serde::Deserialize;

use super::account::capitalize;
use super::error::UiError;
use super::page::actor;
use super::session::{Agent, ClientAddr};
use crate::app::AppState;
use crate::domain::retention::removed_note;
use crate::usecase::UseCaseError;
use crate::usecase::reveal::{self, Reveal, RevealTarget};

/// A reveal form: the reason is required (the use case says so when empty).
#[derive(Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    pub reason: String,
}

/// What the page shows after a reveal attempt, and with which status.
pub struct RevealAnswer {
    pub status: StatusCode,
    /// The number in clear, for this response only.
    pub revealed: Option<String>,
    pub error: Option<String>,
}

impl RevealAnswer {
    fn refused(status: StatusCode, error: String) -> Self {
        Self {
            status,
            revealed: None,
            error: Some(error),
        }
    }
}

pub async fn answer(
    state: &AppState,
    agent: &Agent,
    addr: &ClientAddr,
    target: RevealTarget<'_>,
    reason: &str,
) -> Result<RevealAnswer, UiError> {
    let actor = actor(agent, addr);
    match reveal::reveal(&state.store, &state.cipher, target, reason, &actor).await {
        Ok(Reveal::Revealed(number)) => Ok(RevealAnswer {
            status: StatusCode::OK,
            revealed: Some(number),
            error: None,
        }),
        Ok(Reveal::Denied) => Ok(RevealAnswer::refused(
            StatusCode::FORBIDDEN,
            "You have no live reveal grant: ask an admin for one. This attempt was recorded."
                .to_owned(),
        )),
        Ok(Reveal::Removed) => {
            let note = removed_note(state.config.retain_numbers);
            Ok(RevealAnswer::refused(
                StatusCode::GONE,
                format!(
                    "This number was {note}: it can no longer be revealed. Only its masked form is kept."
                ),
            ))
        }
        Err(UseCaseError::Invalid(message)) => Ok(RevealAnswer::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            capitalize(&message),
        )),
        Err(other) => Err(other.into()),
    }
}
