//! [`super::AccountStore`] in SQL both backends share; instantiated per
//! backend by [`impl_accounts`], like [`super::sql::impl_store`].

pub(super) const USER_COLUMNS: &str = "id, email, role, password_hash, timezone, \
    session_generation, disabled_at_us, created_at_us, updated_at_us";

pub(super) const GRANT_SELECT: &str = "SELECT g.id, g.user_id, u.email AS user_email, \
    b.email AS granted_by_email, g.reason, g.created_at_us, g.expires_at_us, g.revoked_at_us \
    FROM reveal_grants g JOIN users u ON u.id = g.user_id JOIN users b ON b.id = g.granted_by";

pub(super) const AUDIT_COLUMNS: &str = "id, at_us, actor_id, actor_email, action, target, \
    message_id, reason, client_addr, detail";

/// The advisory lock key (as a provider/id pair) that serializes changes
/// which may remove an admin.
pub(super) const LAST_ADMIN_LOCK: (&str, &str) = ("smstrail", "last-admin");

macro_rules! impl_accounts {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AccountStore for $store {
            async fn user_count(&self) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
            }

            async fn create_user(&self, user: &NewUser, audit: &NewAuditEntry) -> Result<UserRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let created = Self::insert_user(&mut tx, user).await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn issue_setup_token(&self, digest: &str, created_at_us: i64, expires_at_us: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM setup_tokens WHERE used_at_us IS NULL").execute(&mut *tx).await?;
                sqlx::query("INSERT INTO setup_tokens (digest, created_at_us, expires_at_us) VALUES ($1, $2, $3)")
                    .bind(digest)
                    .bind(created_at_us)
                    .bind(expires_at_us)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn setup_token_usable(&self, digest: &str, now_us: i64) -> Result<bool, StoreError> {
                let usable: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM setup_tokens WHERE digest = $1 AND used_at_us IS NULL \
                     AND expires_at_us > $2 AND NOT EXISTS (SELECT 1 FROM users)",
                )
                .bind(digest)
                .bind(now_us)
                .fetch_one(&self.pool)
                .await?;
                Ok(usable > 0)
            }

            async fn create_first_admin(
                &self,
                token_digest: &str,
                user: &NewUser,
                audit: &NewAuditEntry,
            ) -> Result<UserRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
                if users > 0 {
                    return Err(StoreError::Conflict("an account exists already".to_owned()));
                }
                let used = sqlx::query(
                    "UPDATE setup_tokens SET used_at_us = $2 WHERE digest = $1 AND used_at_us IS NULL \
                     AND expires_at_us > $2",
                )
                .bind(token_digest)
                .bind(user.created_at_us)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if used == 0 {
                    return Err(StoreError::NotFound);
                }
                let created = Self::insert_user(&mut tx, user).await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
                Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
                Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
                Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn update_user(
                &self,
                id: &str,
                change: &UserChange,
                audit: &NewAuditEntry,
            ) -> Result<UserRecord, StoreError> {
                let mut update = sqlx::QueryBuilder::<$db>::new("UPDATE users SET ");
                match change {
                    UserChange::Role(role) => update.push("role = ").push_bind(role.clone()),
                    UserChange::Disabled(true) => update.push("disabled_at_us = ").push_bind(audit.at_us),
                    UserChange::Disabled(false) => update.push("disabled_at_us = NULL"),
                    UserChange::PasswordHash(hash) => update.push("password_hash = ").push_bind(hash.clone()),
                    UserChange::Timezone(zone) => update.push("timezone = ").push_bind(zone.clone()),
                };
                if matches!(change, UserChange::Disabled(true) | UserChange::PasswordHash(_)) {
                    update.push(", session_generation = session_generation + 1");
                }
                update.push(", updated_at_us = ").push_bind(audit.at_us);
                update.push(" WHERE id = ").push_bind(id.to_owned());
                update.push(format!(" RETURNING {USER_COLUMNS}"));
                let may_remove_an_admin = matches!(change, UserChange::Disabled(true))
                    || matches!(change, UserChange::Role(role) if role != "admin");
                let mut tx = self.begin_write().await?;
                if may_remove_an_admin {
                    // Serializes such changes, so two admins demoting each
                    // other at once cannot both see the other still in place.
                    Self::lock_provider_messages(&mut tx, &[LAST_ADMIN_LOCK]).await?;
                }
                let updated: Option<UserRecord> = update.build_query_as().fetch_optional(&mut *tx).await?;
                let updated = updated.ok_or(StoreError::NotFound)?;
                if may_remove_an_admin {
                    let admins: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at_us IS NULL",
                    )
                    .fetch_one(&mut *tx)
                    .await?;
                    if admins == 0 {
                        return Err(StoreError::Conflict(format!(
                            "{} is the last active admin: make someone else admin first",
                            updated.email
                        )));
                    }
                }
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn grant_reveal(&self, grant: &NewGrant, audit: &NewAuditEntry) -> Result<GrantRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO reveal_grants (user_id, granted_by, reason, created_at_us, expires_at_us) \
                     SELECT id, $2, $3, $4, $5 FROM users WHERE id = $1 RETURNING id",
                )
                .bind(&grant.user_id)
                .bind(&grant.granted_by)
                .bind(&grant.reason)
                .bind(grant.created_at_us)
                .bind(grant.expires_at_us)
                .fetch_optional(&mut *tx)
                .await?;
                let id = id.ok_or(StoreError::NotFound)?;
                let record = Self::find_grant(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn revoke_grant(&self, id: i64, revoked_by: &str, audit: &NewAuditEntry) -> Result<GrantRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let revoked = sqlx::query(
                    "UPDATE reveal_grants SET revoked_at_us = $2, revoked_by = $3 \
                     WHERE id = $1 AND revoked_at_us IS NULL",
                )
                .bind(id)
                .bind(audit.at_us)
                .bind(revoked_by)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if revoked == 0 {
                    return Err(StoreError::NotFound);
                }
                let record = Self::find_grant(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
                Ok(sqlx::query_as(&format!("{GRANT_SELECT} ORDER BY g.id DESC"))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn live_grant(&self, user_id: &str, now_us: i64) -> Result<Option<GrantRecord>, StoreError> {
                Ok(sqlx::query_as(&format!(
                    "{GRANT_SELECT} WHERE g.user_id = $1 AND g.revoked_at_us IS NULL AND g.expires_at_us > $2 \
                     ORDER BY g.expires_at_us DESC LIMIT 1"
                ))
                .bind(user_id)
                .bind(now_us)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn create_api_token(&self, t: &NewApiToken, audit: &NewAuditEntry) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, digest, created_at_us, created_by) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.digest)
                .bind(t.created_at_us)
                .bind(&audit.actor_email)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "token already exists"))?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, name, created_at_us, revoked_at_us FROM api_tokens ORDER BY created_at_us DESC, id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn revoke_api_token(&self, id: &str, audit: &NewAuditEntry) -> Result<ApiTokenRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let revoked: Option<ApiTokenRecord> = sqlx::query_as(
                    "UPDATE api_tokens SET revoked_at_us = $2 WHERE id = $1 AND revoked_at_us IS NULL \
                     RETURNING id, name, created_at_us, revoked_at_us",
                )
                .bind(id)
                .bind(audit.at_us)
                .fetch_optional(&mut *tx)
                .await?;
                let revoked = revoked.ok_or(StoreError::NotFound)?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(revoked)
            }

            async fn append_audit(&self, entry: &NewAuditEntry) -> Result<(), StoreError> {
                let mut conn = self.pool.acquire().await?;
                Self::insert_audit(&mut conn, entry).await
            }

            async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE TRUE"));
                if let Some(actor) = &f.actor_email {
                    query.push(" AND actor_email = ").push_bind(actor.clone());
                }
                if let Some(action) = &f.action {
                    query.push(" AND action = ").push_bind(action.clone());
                }
                if let Some(from) = f.from_us {
                    query.push(" AND at_us >= ").push_bind(from);
                }
                if let Some(to) = f.to_us {
                    query.push(" AND at_us < ").push_bind(to);
                }
                if let Some(before) = f.before_id {
                    query.push(" AND id < ").push_bind(before);
                }
                query.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }

            fn session_store(&self) -> SessionBackend {
                SessionBackend::from(self.pool.clone())
            }
        }

        impl $store {
            async fn insert_user(
                conn: &mut <$db as sqlx::Database>::Connection,
                user: &NewUser,
            ) -> Result<UserRecord, StoreError> {
                sqlx::query_as(&format!(
                    "INSERT INTO users (id, email, role, password_hash, created_at_us, updated_at_us) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING {USER_COLUMNS}"
                ))
                .bind(&user.id)
                .bind(&user.email)
                .bind(&user.role)
                .bind(&user.password_hash)
                .bind(user.created_at_us)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| conflict_or(e, "a user with this email exists already"))
            }

            async fn find_grant(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
            ) -> Result<Option<GrantRecord>, StoreError> {
                Ok(sqlx::query_as(&format!("{GRANT_SELECT} WHERE g.id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?)
            }

            async fn insert_audit(
                conn: &mut <$db as sqlx::Database>::Connection,
                e: &NewAuditEntry,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_log (at_us, actor_id, actor_email, action, target, message_id, \
                     reason, client_addr, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(e.at_us)
                .bind(&e.actor_id)
                .bind(&e.actor_email)
                .bind(e.action)
                .bind(&e.target)
                .bind(&e.message_id)
                .bind(&e.reason)
                .bind(&e.client_addr)
                .bind(&e.detail)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_accounts;
