//! [`super::SupportStore`] in SQL both backends share.

macro_rules! impl_support {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::SupportStore for $store {
            async fn search_messages(&self, q: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE TRUE"
                ));
                match &q.key {
                    Some(SearchKey::RecipientHash(hash)) => {
                        query.push(" AND recipient_hash = ").push_bind(hash.clone());
                    }
                    Some(SearchKey::Identifier(text)) => {
                        query.push(" AND (id = ").push_bind(text.clone());
                        query.push(" OR provider_message_id = ").push_bind(text.clone());
                        query.push(" OR user_ref = ").push_bind(text.clone());
                        query.push(" OR product_action_ref = ").push_bind(text.clone());
                        query.push(")");
                    }
                    None => {}
                }
                let equal = [
                    ("current_status", &q.status),
                    ("destination_country", &q.country),
                    ("provider", &q.provider),
                    ("sender_identity", &q.sender_identity),
                    ("template_key", &q.template_key),
                    ("use_case", &q.use_case),
                ];
                for (column, value) in equal {
                    if let Some(value) = value {
                        query.push(format!(" AND {column} = ")).push_bind(value.clone());
                    }
                }
                if let Some(from) = q.from_us {
                    query.push(" AND created_at_us >= ").push_bind(from);
                }
                if let Some(to) = q.to_us {
                    query.push(" AND created_at_us < ").push_bind(to);
                }
                if let Some((created, id)) = &q.before {
                    query.push(" AND (created_at_us < ").push_bind(*created);
                    query.push(" OR (created_at_us = ").push_bind(*created);
                    query.push(" AND id < ").push_bind(id.clone());
                    query.push("))");
                }
                query.push(" ORDER BY created_at_us DESC, id DESC LIMIT ").push_bind(q.limit);
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn duplicate_counts(&self, event_ids: &[i64]) -> Result<std::collections::HashMap<i64, i64>, StoreError> {
                if event_ids.is_empty() {
                    return Ok(Default::default());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT event_id, count FROM event_duplicates WHERE event_id IN (",
                );
                let mut ids = query.separated(", ");
                for id in event_ids {
                    ids.push_bind(*id);
                }
                query.push(")");
                let rows: Vec<(i64, i64)> = query.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().collect())
            }

            async fn retries_into(&self, message_id: &str) -> Result<Vec<RetryRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, message_id, kind, new_message_id, reason, created_at_us \
                     FROM message_retries WHERE new_message_id = $1 ORDER BY id",
                )
                .bind(message_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn inbound_from(&self, sender_hash: &[u8], limit: i64) -> Result<Vec<InboundRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, provider, provider_message_id, sender_hash, sender_masked, \
                     recipient_identity, body_sealed, keyword, provider_occurred_at_us, \
                     received_at_us FROM inbound_messages WHERE sender_hash = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(sender_hash)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn verifications_of_message(
                &self,
                message_id: &str,
            ) -> Result<Vec<(VerificationRecord, Vec<VerificationEventRecord>)>, StoreError> {
                let mut conn = self.pool.acquire().await?;
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
                    let events = Self::verification_events(&mut conn, &verification.id).await?;
                    found.push((verification, events));
                }
                Ok(found)
            }
        }
    };
}

pub(super) use impl_support;
