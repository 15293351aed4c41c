//! The four streams of one user's page (`/users/{user_ref}`), each read
//! newest first after a keyset bound (see `domain::user_timeline`), so a
//! page costs at most `limit` rows per stream whatever the user's history.
//!
//! What belongs to a user:
//! - messages registered with that `user_ref`;
//! - events of OTP verifications opened with that `user_ref`;
//! - retries recorded on those messages;
//! - inbound messages from any number those messages went to (at any time:
//!   the number is the only link an inbound message has, so a number shared
//!   by two users shows its replies on both pages).

use crate::domain::user_timeline::{Bound, RowId};
use crate::domain::verification::VerificationEventKind;

use super::messages::MESSAGE_COLUMNS;
use super::query::Query;
use super::{InboundRecord, MessageRecord, RetryRecord, Store, StoreError};

/// An event of a verification, with the verification it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserVerificationEvent {
    pub id: i64,
    pub verification_id: String,
    #[sqlx(try_from = "String")]
    pub kind: VerificationEventKind,
    pub message_id: Option<String>,
    pub occurred_at_us: i64,
}

/// The instant an inbound message is placed at: when the number sent it,
/// else when we received it (as the message page shows it).
pub(super) const INBOUND_AT: &str = "COALESCE(provider_occurred_at_us, received_at_us)";

impl Store {
    /// Whether any message or verification names this user.
    pub async fn user_ref_known(&self, user_ref: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) WHERE EXISTS (SELECT 1 FROM messages WHERE user_ref = $1) \
             OR EXISTS (SELECT 1 FROM verifications WHERE user_ref = $1)",
        )
        .bind(user_ref)
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    pub async fn user_messages(
        &self,
        user_ref: &str,
        bound: Option<&Bound>,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let mut query = Query::new(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_ref = "
        ));
        query.bind(user_ref.to_owned());
        push_bound(&mut query, "created_at_us", "id", bound);
        query
            .push(" ORDER BY created_at_us DESC, id DESC LIMIT ")
            .bind(limit);
        self.fetch(query).await
    }

    pub async fn user_verification_events(
        &self,
        user_ref: &str,
        bound: Option<&Bound>,
        limit: i64,
    ) -> Result<Vec<UserVerificationEvent>, StoreError> {
        let mut query = Query::new(
            "SELECT e.id, e.verification_id, e.kind, e.message_id, e.occurred_at_us \
             FROM verification_events e JOIN verifications v ON v.id = e.verification_id \
             WHERE v.user_ref = ",
        );
        query.bind(user_ref.to_owned());
        push_bound(&mut query, "e.occurred_at_us", "e.id", bound);
        query
            .push(" ORDER BY e.occurred_at_us DESC, e.id DESC LIMIT ")
            .bind(limit);
        self.fetch(query).await
    }

    pub async fn user_retries(
        &self,
        user_ref: &str,
        bound: Option<&Bound>,
        limit: i64,
    ) -> Result<Vec<RetryRecord>, StoreError> {
        let mut query = Query::new(
            "SELECT r.id, r.message_id, r.kind, r.new_message_id, r.reason, r.created_at_us \
             FROM message_retries r JOIN messages m ON m.id = r.message_id WHERE m.user_ref = ",
        );
        query.bind(user_ref.to_owned());
        push_bound(&mut query, "r.created_at_us", "r.id", bound);
        query
            .push(" ORDER BY r.created_at_us DESC, r.id DESC LIMIT ")
            .bind(limit);
        self.fetch(query).await
    }

    pub async fn user_inbound(
        &self,
        user_ref: &str,
        bound: Option<&Bound>,
        limit: i64,
    ) -> Result<Vec<InboundRecord>, StoreError> {
        let mut query = Query::new(format!(
            "SELECT {} FROM inbound_messages WHERE sender_hash IN \
             (SELECT recipient_hash FROM messages WHERE user_ref = ",
            super::inbound::INBOUND_COLUMNS
        ));
        query.bind(user_ref.to_owned()).push(")");
        push_bound(&mut query, INBOUND_AT, "id", bound);
        query
            .push(&format!(" ORDER BY {INBOUND_AT} DESC, id DESC LIMIT "))
            .bind(limit);
        self.fetch(query).await
    }

    async fn fetch<T>(&self, query: Query<'_>) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let (sql, args) = query.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(self.pool())
            .await?)
    }
}

/// ` AND <at> … ` for a keyset bound on the time column `at` and id column `id`.
fn push_bound(query: &mut Query<'_>, at: &str, id: &str, bound: Option<&Bound>) {
    match bound {
        None => {}
        Some(Bound::Before(at_us)) => {
            query.push(&format!(" AND {at} < ")).bind(*at_us);
        }
        Some(Bound::AtOrBefore(at_us)) => {
            query.push(&format!(" AND {at} <= ")).bind(*at_us);
        }
        Some(Bound::BeforeRow { at_us, id: row }) => {
            query.push(&format!(" AND ({at} < ")).bind(*at_us);
            query.push(&format!(" OR ({at} = ")).bind(*at_us);
            query.push(&format!(" AND {id} < "));
            match row {
                RowId::Text(text) => query.bind(text.clone()),
                RowId::Int(n) => query.bind(*n),
            };
            query.push("))");
        }
    }
}
