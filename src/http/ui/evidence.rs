//! `GET /messages/{id}/evidence`: the message's signed evidence file, as a
//! download. Who may have it and what it holds is the use case's
//! ([`crate::usecase::evidence`]).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::UiError;
use super::page::actor;
use super::session::{Agent, ClientAddr};
use crate::app::AppState;
use crate::domain::retention::removed_note;
use crate::usecase::evidence::{self, Export, ExportRequest};

/// Said on the 403 page, and on the message page to those without a grant.
pub const NEEDS_GRANT: &str =
    "Downloading a message's evidence needs a live reveal grant: ask an admin for one.";

pub async fn evidence(
    State(state): State<AppState>,
    agent: Agent,
    addr: ClientAddr,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let actor = actor(&agent, &addr);
    let request = ExportRequest {
        actor: &actor,
        is_admin: agent.is_admin(),
        payload_removed: &removed_note(state.config.retain_raw_payloads),
    };
    match evidence::export(&state.store, &state.cipher, &id, &request).await? {
        Export::Denied => Err(UiError::forbidden(NEEDS_GRANT)),
        Export::File(file) => Ok((
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (header::CONTENT_DISPOSITION, attachment(&id)),
            ],
            file,
        )
            .into_response()),
    }
}

/// `attachment; filename="smstrail-evidence-<id>.json"`, the id reduced to
/// characters that need no quoting in a header.
fn attachment(id: &str) -> String {
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    format!("attachment; filename=\"smstrail-evidence-{safe}.json\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_carries_the_id_and_nothing_that_breaks_the_header() {
        assert_eq!(
            attachment("0190-ab_c"),
            "attachment; filename=\"smstrail-evidence-0190-ab_c.json\""
        );
        assert_eq!(
            attachment("a\"b\r\nc"),
            "attachment; filename=\"smstrail-evidence-abc.json\""
        );
    }
}
