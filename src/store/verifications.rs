//! OTP verifications (CONTRACT §4) and their events.

use sqlx::AnyConnection;

use crate::domain::verification::VerificationEventKind;

use super::{Store, StoreError};

/// A verification and the `requested` event that opens it.
#[derive(Debug, Clone)]
pub struct NewVerification {
    pub id: String,
    pub user_ref: Option<String>,
    pub created_at_us: i64,
    pub first_event: NewVerificationEvent,
}

#[derive(Debug, Clone)]
pub struct NewVerificationEvent {
    pub verification_id: String,
    pub kind: VerificationEventKind,
    pub message_id: Option<String>,
    pub occurred_at_us: i64,
    pub recorded_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerificationRecord {
    pub id: String,
    pub user_ref: Option<String>,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerificationEventRecord {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: VerificationEventKind,
    pub message_id: Option<String>,
    pub occurred_at_us: i64,
    pub recorded_at_us: i64,
}

/// A verification with its events in time order.
pub type VerificationTimeline = (VerificationRecord, Vec<VerificationEventRecord>);

impl Store {
    pub async fn verification(&self, id: &str) -> Result<Option<VerificationTimeline>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let found: Option<VerificationRecord> =
            sqlx::query_as("SELECT id, user_ref, created_at_us FROM verifications WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        let Some(verification) = found else {
            return Ok(None);
        };
        let events = verification_events(&mut conn, id).await?;
        Ok(Some((verification, events)))
    }

    /// The OTP verifications that mention this message, with their events.
    pub async fn verifications_of_message(
        &self,
        message_id: &str,
    ) -> Result<Vec<VerificationTimeline>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let verifications: Vec<VerificationRecord> = sqlx::query_as(
            "SELECT id, user_ref, created_at_us FROM verifications WHERE id IN \
             (SELECT verification_id FROM verification_events WHERE message_id = $1) \
             ORDER BY created_at_us, id",
        )
        .bind(message_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut found = Vec::with_capacity(verifications.len());
        for verification in verifications {
            let events = verification_events(&mut conn, &verification.id).await?;
            found.push((verification, events));
        }
        Ok(found)
    }
}

async fn verification_events(
    conn: &mut AnyConnection,
    verification_id: &str,
) -> Result<Vec<VerificationEventRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, kind, message_id, occurred_at_us, recorded_at_us FROM verification_events \
         WHERE verification_id = $1 ORDER BY occurred_at_us, id",
    )
    .bind(verification_id)
    .fetch_all(&mut *conn)
    .await?)
}
