//! The accounts port in SQL that SQLite and PostgreSQL both accept (`$n` parameters, TEXT ids and
//! times, INTEGER flags, `ON CONFLICT`, `RETURNING`), expanded once per adapter by
//! [`impl_account_store!`]. Row decoding is shared.

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::accounts::{ApiKey, Invitation, KeyScope, Membership, Role, User};
use crate::codec::parse_uuid;
use crate::{Entity, StoreError};

/// RFC 3339 UTC with microseconds: text order is time order.
pub(crate) fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(entity: Entity, text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            entity,
            id: text.to_string(),
            reason: e.to_string(),
        })
}

fn corrupt(entity: Entity, id: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        entity,
        id: id.to_string(),
        reason: reason.into(),
    }
}

pub(crate) const USER_COLUMNS: &str =
    "id, email, password_hash, is_admin, created_at, token_epoch, disabled_at";

#[allow(clippy::too_many_arguments)]
pub(crate) fn user_row(
    id: &str,
    email: String,
    password_hash: String,
    is_admin: i32,
    created_at: &str,
    token_epoch: i64,
    disabled_at: Option<&str>,
) -> Result<User, StoreError> {
    Ok(User {
        id: parse_uuid(Entity::User, id)?,
        email,
        password_hash,
        is_admin: is_admin != 0,
        created_at: parse_time(Entity::User, created_at)?,
        token_epoch,
        disabled_at: disabled_at
            .map(|t| parse_time(Entity::User, t))
            .transpose()?,
    })
}

pub(crate) const MEMBERSHIP_COLUMNS: &str = "business_id, user_id, role, created_at";

pub(crate) fn membership_row(
    business_id: &str,
    user_id: &str,
    role: &str,
    created_at: &str,
) -> Result<Membership, StoreError> {
    Ok(Membership {
        business_id: parse_uuid(Entity::Membership, business_id)?,
        user_id: parse_uuid(Entity::Membership, user_id)?,
        role: Role::parse(role)
            .ok_or_else(|| corrupt(Entity::Membership, business_id, format!("role '{role}'")))?,
        created_at: parse_time(Entity::Membership, created_at)?,
    })
}

/// Adds a member or changes their role: `put_membership` and accepting an invitation.
pub(crate) const UPSERT_MEMBERSHIP: &str =
    "INSERT INTO memberships (business_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (business_id, user_id) DO UPDATE SET role = excluded.role";

pub(crate) const INVITATION_COLUMNS: &str =
    "id, business_id, email, role, invited_by, created_at, expires_at";

pub(crate) fn invitation_row(
    id: &str,
    business_id: &str,
    email: String,
    role: &str,
    invited_by: Option<&str>,
    created_at: &str,
    expires_at: &str,
) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        id: parse_uuid(Entity::Invitation, id)?,
        business_id: parse_uuid(Entity::Invitation, business_id)?,
        email,
        role: Role::parse(role)
            .ok_or_else(|| corrupt(Entity::Invitation, id, format!("role '{role}'")))?,
        invited_by: optional_uuid(Entity::Invitation, invited_by)?,
        created_at: parse_time(Entity::Invitation, created_at)?,
        expires_at: parse_time(Entity::Invitation, expires_at)?,
    })
}

pub(crate) const API_KEY_COLUMNS: &str =
    "id, user_id, name, prefix, scope, created_at, last_used_at, revoked_at";

#[allow(clippy::too_many_arguments)]
pub(crate) fn api_key_row(
    id: &str,
    user_id: &str,
    name: String,
    prefix: String,
    scope: &str,
    created_at: &str,
    last_used_at: Option<&str>,
    revoked_at: Option<&str>,
) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: parse_uuid(Entity::ApiKey, id)?,
        user_id: parse_uuid(Entity::ApiKey, user_id)?,
        name,
        prefix,
        scope: KeyScope::parse(scope)
            .ok_or_else(|| corrupt(Entity::ApiKey, id, format!("scope '{scope}'")))?,
        created_at: parse_time(Entity::ApiKey, created_at)?,
        last_used_at: last_used_at
            .map(|t| parse_time(Entity::ApiKey, t))
            .transpose()?,
        revoked_at: revoked_at
            .map(|t| parse_time(Entity::ApiKey, t))
            .transpose()?,
    })
}

pub(crate) const AUDIT_COLUMNS: &str =
    "seq, at, user_id, email, api_key_id, ip, method, path, action, status, request_id";

pub(crate) fn optional_uuid(
    entity: Entity,
    text: Option<&str>,
) -> Result<Option<Uuid>, StoreError> {
    text.map(|t| parse_uuid(entity, t)).transpose()
}

/// Implements [`crate::accounts::AccountStore`] for an adapter: `$store` with the sqlx database
/// `$db`, its write pool `$writer` and read pool `$reader` (expressions over `self`), and its
/// in-transaction business insert `$insert_business`.
macro_rules! impl_account_store {
    ($store:ty, $db:ty, writer: |$w:ident| $writer:expr, reader: |$r:ident| $reader:expr, insert_business: $insert_business:path) => {
        impl $store {
            /// The memberships whose `column` (`user_id` or `business_id`) is `id`, by `order`.
            async fn memberships_where(
                &self,
                column: &str,
                id: uuid::Uuid,
                order: &str,
            ) -> Result<Vec<$crate::accounts::Membership>, $crate::StoreError> {
                use sqlx::Row;
                let $r = self;
                let rows = sqlx::query::<$db>(&format!(
                    "SELECT {} FROM memberships WHERE {column} = $1 ORDER BY {order}",
                    $crate::accounts_sql::MEMBERSHIP_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_all($reader)
                .await?;
                rows.iter()
                    .map(|r| {
                        $crate::accounts_sql::membership_row(r.get(0), r.get(1), r.get(2), r.get(3))
                    })
                    .collect()
            }

            /// The invitations matching `condition` over the parameters `binds` ($1, $2 ...), oldest
            /// first.
            async fn invitations_where(
                &self,
                condition: &str,
                binds: &[String],
            ) -> Result<Vec<$crate::accounts::Invitation>, $crate::StoreError> {
                use sqlx::Row;
                let $r = self;
                let sql = format!(
                    "SELECT {} FROM invitations WHERE {condition} ORDER BY id",
                    $crate::accounts_sql::INVITATION_COLUMNS
                );
                let mut query = sqlx::query::<$db>(&sql);
                for value in binds {
                    query = query.bind(value.as_str());
                }
                let rows = query.fetch_all($reader).await?;
                rows.iter()
                    .map(|r| {
                        $crate::accounts_sql::invitation_row(
                            r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6),
                        )
                    })
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl $crate::accounts::AccountStore for $store {
            async fn insert_user(
                &self,
                user: &$crate::accounts::User,
            ) -> Result<(), $crate::StoreError> {
                let $w = self;
                sqlx::query::<$db>(
                    "INSERT INTO users (id, email, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(user.id.to_string())
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(i32::from(user.is_admin))
                .bind($crate::accounts_sql::time_text(user.created_at))
                .execute($writer)
                .await
                .map_err($crate::codec::insert_error($crate::Entity::User, user.id))?;
                Ok(())
            }

            async fn get_user(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::accounts::User>, $crate::StoreError> {
                let $r = self;
                let row = sqlx::query::<$db>(&format!(
                    "SELECT {} FROM users WHERE id = $1",
                    $crate::accounts_sql::USER_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_optional($reader)
                .await?;
                row.map(|r| {
                    use sqlx::Row;
                    $crate::accounts_sql::user_row(
                        r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6),
                    )
                })
                .transpose()
            }

            async fn user_by_email(
                &self,
                email: &str,
            ) -> Result<Option<$crate::accounts::User>, $crate::StoreError> {
                let $r = self;
                let row = sqlx::query::<$db>(&format!(
                    "SELECT {} FROM users WHERE email = $1",
                    $crate::accounts_sql::USER_COLUMNS
                ))
                .bind(email)
                .fetch_optional($reader)
                .await?;
                row.map(|r| {
                    use sqlx::Row;
                    $crate::accounts_sql::user_row(
                        r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6),
                    )
                })
                .transpose()
            }

            async fn list_users(
                &self,
                after: Option<uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::accounts::User>, $crate::StoreError> {
                use sqlx::Row;
                let $r = self;
                let rows = sqlx::query::<$db>(&format!(
                    "SELECT {} FROM users WHERE id > $1 ORDER BY id LIMIT $2",
                    $crate::accounts_sql::USER_COLUMNS
                ))
                .bind(after.map(|a| a.to_string()).unwrap_or_default())
                .bind(i64::from(limit))
                .fetch_all($reader)
                .await?;
                rows.iter()
                    .map(|r| {
                        $crate::accounts_sql::user_row(
                            r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6),
                        )
                    })
                    .collect()
            }

            async fn count_users(&self) -> Result<u64, $crate::StoreError> {
                let $r = self;
                let n: i64 = sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM users")
                    .fetch_one($reader)
                    .await?;
                Ok(u64::try_from(n).unwrap_or_default())
            }

            async fn bump_token_epoch(
                &self,
                user_id: uuid::Uuid,
            ) -> Result<Option<i64>, $crate::StoreError> {
                let $w = self;
                // One statement: concurrent bumps each raise the epoch, none is lost.
                Ok(sqlx::query_scalar::<$db, i64>(
                    "UPDATE users SET token_epoch = token_epoch + 1 WHERE id = $1 RETURNING token_epoch",
                )
                .bind(user_id.to_string())
                .fetch_optional($writer)
                .await?)
            }

            async fn set_password_hash(
                &self,
                user_id: uuid::Uuid,
                password_hash: &str,
            ) -> Result<Option<i64>, $crate::StoreError> {
                let $w = self;
                Ok(sqlx::query_scalar::<$db, i64>(
                    "UPDATE users SET password_hash = $2, token_epoch = token_epoch + 1
                     WHERE id = $1 RETURNING token_epoch",
                )
                .bind(user_id.to_string())
                .bind(password_hash)
                .fetch_optional($writer)
                .await?)
            }

            async fn set_user_disabled(
                &self,
                user_id: uuid::Uuid,
                disabled_at: Option<chrono::DateTime<chrono::Utc>>,
            ) -> Result<Option<$crate::accounts::User>, $crate::StoreError> {
                let $w = self;
                // Disabling also bumps the epoch, so a re-enabled account does not bring its old
                // sessions back.
                let bump = i64::from(disabled_at.is_some());
                let row = sqlx::query::<$db>(&format!(
                    "UPDATE users SET disabled_at = $2, token_epoch = token_epoch + $3
                     WHERE id = $1 RETURNING {}",
                    $crate::accounts_sql::USER_COLUMNS
                ))
                .bind(user_id.to_string())
                .bind(disabled_at.map($crate::accounts_sql::time_text))
                .bind(bump)
                .fetch_optional($writer)
                .await?;
                row.map(|r| {
                    use sqlx::Row;
                    $crate::accounts_sql::user_row(
                        r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6),
                    )
                })
                .transpose()
            }

            async fn insert_business_owned_by(
                &self,
                business: &symbiont_core::Business,
                owner: uuid::Uuid,
            ) -> Result<(), $crate::StoreError> {
                let $w = self;
                let mut tx = ($writer).begin().await?;
                $insert_business(&mut tx, business).await?;
                sqlx::query::<$db>(
                    "INSERT INTO memberships (business_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(business.id.to_string())
                .bind(owner.to_string())
                .bind($crate::accounts::Role::Owner.as_str())
                .bind($crate::accounts_sql::time_text(business.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        $crate::StoreError::NotFound {
                            entity: $crate::Entity::User,
                            id: owner,
                        }
                    }
                    _ => e.into(),
                })?;
                tx.commit().await?;
                Ok(())
            }

            async fn memberships_of_user(
                &self,
                user_id: uuid::Uuid,
            ) -> Result<Vec<$crate::accounts::Membership>, $crate::StoreError> {
                self.memberships_where("user_id", user_id, "business_id").await
            }

            async fn members_of_business(
                &self,
                business_id: uuid::Uuid,
            ) -> Result<Vec<$crate::accounts::Membership>, $crate::StoreError> {
                self.memberships_where("business_id", business_id, "user_id").await
            }

            async fn put_membership(
                &self,
                m: &$crate::accounts::Membership,
            ) -> Result<(), $crate::StoreError> {
                let $w = self;
                sqlx::query::<$db>($crate::accounts_sql::UPSERT_MEMBERSHIP)
                .bind(m.business_id.to_string())
                .bind(m.user_id.to_string())
                .bind(m.role.as_str())
                .bind($crate::accounts_sql::time_text(m.created_at))
                .execute($writer)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        $crate::StoreError::NotFound {
                            entity: $crate::Entity::Business,
                            id: m.business_id,
                        }
                    }
                    _ => e.into(),
                })?;
                Ok(())
            }

            async fn remove_membership(
                &self,
                business_id: uuid::Uuid,
                user_id: uuid::Uuid,
            ) -> Result<bool, $crate::StoreError> {
                let $w = self;
                let done = sqlx::query::<$db>(
                    "DELETE FROM memberships WHERE business_id = $1 AND user_id = $2",
                )
                .bind(business_id.to_string())
                .bind(user_id.to_string())
                .execute($writer)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn put_invitation(
                &self,
                invitation: &$crate::accounts::Invitation,
            ) -> Result<$crate::accounts::Invitation, $crate::StoreError> {
                use sqlx::Row;
                let $w = self;
                // One statement: two owners inviting the same address at once leave one invitation.
                let row = sqlx::query::<$db>(&format!(
                    "INSERT INTO invitations ({columns}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (business_id, email) DO UPDATE
                     SET role = excluded.role, invited_by = excluded.invited_by,
                         expires_at = excluded.expires_at
                     RETURNING {columns}",
                    columns = $crate::accounts_sql::INVITATION_COLUMNS
                ))
                .bind(invitation.id.to_string())
                .bind(invitation.business_id.to_string())
                .bind(&invitation.email)
                .bind(invitation.role.as_str())
                .bind(invitation.invited_by.map(|u| u.to_string()))
                .bind($crate::accounts_sql::time_text(invitation.created_at))
                .bind($crate::accounts_sql::time_text(invitation.expires_at))
                .fetch_one($writer)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        $crate::StoreError::NotFound {
                            entity: $crate::Entity::Business,
                            id: invitation.business_id,
                        }
                    }
                    _ => e.into(),
                })?;
                $crate::accounts_sql::invitation_row(
                    row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6),
                )
            }

            async fn get_invitation(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::accounts::Invitation>, $crate::StoreError> {
                let found = self.invitations_where("id = $1", &[id.to_string()]).await?;
                Ok(found.into_iter().next())
            }

            async fn invitations_of_business(
                &self,
                business_id: uuid::Uuid,
            ) -> Result<Vec<$crate::accounts::Invitation>, $crate::StoreError> {
                self.invitations_where("business_id = $1", &[business_id.to_string()])
                    .await
            }

            async fn invitations_to_email(
                &self,
                email: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::accounts::Invitation>, $crate::StoreError> {
                // Times are fixed-width RFC 3339 text in UTC, so text order is time order.
                self.invitations_where(
                    "email = $1 AND expires_at > $2",
                    &[email.to_string(), $crate::accounts_sql::time_text(now)],
                )
                .await
            }

            async fn remove_invitation(&self, id: uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let $w = self;
                let done = sqlx::query::<$db>("DELETE FROM invitations WHERE id = $1")
                    .bind(id.to_string())
                    .execute($writer)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn accept_invitation(
                &self,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
                m: &$crate::accounts::Membership,
            ) -> Result<bool, $crate::StoreError> {
                let $w = self;
                let mut tx = ($writer).begin().await?;
                // Taking the invitation first: of two concurrent accepts (or an accept racing a
                // revoke) one deletes the row and the other finds nothing.
                let taken = sqlx::query::<$db>(
                    "DELETE FROM invitations WHERE id = $1 AND expires_at > $2",
                )
                .bind(id.to_string())
                .bind($crate::accounts_sql::time_text(now))
                .execute(&mut *tx)
                .await?;
                if taken.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query::<$db>($crate::accounts_sql::UPSERT_MEMBERSHIP)
                    .bind(m.business_id.to_string())
                    .bind(m.user_id.to_string())
                    .bind(m.role.as_str())
                    .bind($crate::accounts_sql::time_text(m.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                            $crate::StoreError::NotFound {
                                entity: $crate::Entity::User,
                                id: m.user_id,
                            }
                        }
                        _ => e.into(),
                    })?;
                tx.commit().await?;
                Ok(true)
            }

            async fn purge_invitations_expired_before(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                let $w = self;
                let result = sqlx::query::<$db>("DELETE FROM invitations WHERE expires_at < $1")
                    .bind($crate::accounts_sql::time_text(before))
                    .execute($writer)
                    .await?;
                Ok(result.rows_affected())
            }

            async fn insert_refresh_token(
                &self,
                t: &$crate::accounts::RefreshToken,
            ) -> Result<(), $crate::StoreError> {
                let $w = self;
                sqlx::query::<$db>(
                    "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, created_at, epoch, session_expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(t.id.to_string())
                .bind(t.family_id.to_string())
                .bind(t.user_id.to_string())
                .bind(&t.token_hash)
                .bind($crate::accounts_sql::time_text(t.expires_at.min(t.session_expires_at)))
                .bind($crate::accounts_sql::time_text(t.created_at))
                .bind(t.epoch)
                .bind($crate::accounts_sql::time_text(t.session_expires_at))
                .execute($writer)
                .await
                .map_err($crate::codec::insert_error($crate::Entity::RefreshToken, t.id))?;
                Ok(())
            }

            async fn rotate_refresh_token(
                &self,
                presented: &str,
                next: &$crate::accounts::RefreshToken,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::accounts::Rotation, $crate::StoreError> {
                use sqlx::Row;
                use $crate::accounts::Rotation;
                let $w = self;
                let mut tx = ($writer).begin().await?;
                // Marking the token replaced first makes two concurrent refreshes with the same
                // token race on one row: exactly one of them sees it still current.
                let current = sqlx::query::<$db>(
                    "UPDATE refresh_tokens SET replaced = 1
                     WHERE token_hash = $1 AND replaced = 0 AND revoked = 0
                     RETURNING user_id, family_id, expires_at, epoch, session_expires_at",
                )
                .bind(presented)
                .fetch_optional(&mut *tx)
                .await?;
                let outcome = match current {
                    Some(row) => {
                        let user_id: String = row.get(0);
                        let family_id: String = row.get(1);
                        let expires_at = $crate::accounts_sql::parse_time(
                            $crate::Entity::RefreshToken,
                            row.get(2),
                        )?;
                        let epoch: i64 = row.get(3);
                        let session_expires_at = match row.get::<Option<&str>, _>(4) {
                            Some(t) => $crate::accounts_sql::parse_time(
                                $crate::Entity::RefreshToken,
                                t,
                            )?,
                            None => expires_at,
                        };
                        // The user's current epoch and state, read in the same transaction: a
                        // token of an older epoch or of a disabled user is dead, and so is its
                        // family.
                        let user = sqlx::query::<$db>(
                            "SELECT token_epoch, disabled_at FROM users WHERE id = $1",
                        )
                        .bind(&user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        let alive = user.is_some_and(|u| {
                            u.get::<i64, _>(0) == epoch && u.get::<Option<String>, _>(1).is_none()
                        });
                        if !alive {
                            sqlx::query::<$db>(
                                "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = $1",
                            )
                            .bind(&family_id)
                            .execute(&mut *tx)
                            .await?;
                            Rotation::Expired
                        } else if expires_at <= now || session_expires_at <= now {
                            Rotation::Expired
                        } else {
                            sqlx::query::<$db>(
                                "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, created_at, epoch, session_expires_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                            )
                            .bind(next.id.to_string())
                            .bind(&family_id)
                            .bind(&user_id)
                            .bind(&next.token_hash)
                            // No rotation carries the family past its absolute end.
                            .bind($crate::accounts_sql::time_text(next.expires_at.min(session_expires_at)))
                            .bind($crate::accounts_sql::time_text(next.created_at))
                            .bind(epoch)
                            .bind($crate::accounts_sql::time_text(session_expires_at))
                            .execute(&mut *tx)
                            .await?;
                            Rotation::Rotated {
                                user_id: $crate::codec::parse_uuid(
                                    $crate::Entity::RefreshToken,
                                    &user_id,
                                )?,
                                epoch,
                            }
                        }
                    }
                    None => {
                        let known = sqlx::query::<$db>(
                            "SELECT family_id, replaced, revoked FROM refresh_tokens WHERE token_hash = $1",
                        )
                        .bind(presented)
                        .fetch_optional(&mut *tx)
                        .await?;
                        match known {
                            None => Rotation::Unknown,
                            Some(row) => {
                                let family_id: String = row.get(0);
                                let revoked: i32 = row.get(2);
                                if revoked != 0 {
                                    Rotation::Expired
                                } else {
                                    sqlx::query::<$db>(
                                        "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = $1",
                                    )
                                    .bind(family_id)
                                    .execute(&mut *tx)
                                    .await?;
                                    Rotation::Reused
                                }
                            }
                        }
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            }

            async fn revoke_refresh_family(
                &self,
                token_hash: &str,
            ) -> Result<bool, $crate::StoreError> {
                let $w = self;
                let done = sqlx::query::<$db>(
                    "UPDATE refresh_tokens SET revoked = 1
                     WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
                )
                .bind(token_hash)
                .execute($writer)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_api_key(
                &self,
                key: &$crate::accounts::ApiKey,
                key_hash: &str,
            ) -> Result<(), $crate::StoreError> {
                let $w = self;
                sqlx::query::<$db>(
                    "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scope, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(key.id.to_string())
                .bind(key.user_id.to_string())
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(key_hash)
                .bind(key.scope.as_str())
                .bind($crate::accounts_sql::time_text(key.created_at))
                .execute($writer)
                .await
                .map_err($crate::codec::insert_error($crate::Entity::ApiKey, key.id))?;
                Ok(())
            }

            async fn api_key_by_hash(
                &self,
                key_hash: &str,
            ) -> Result<Option<$crate::accounts::ApiKey>, $crate::StoreError> {
                use sqlx::Row;
                let $r = self;
                let row = sqlx::query::<$db>(&format!(
                    "SELECT {} FROM api_keys WHERE key_hash = $1",
                    $crate::accounts_sql::API_KEY_COLUMNS
                ))
                .bind(key_hash)
                .fetch_optional($reader)
                .await?;
                row.map(|r| {
                    $crate::accounts_sql::api_key_row(
                        r.get(0),
                        r.get(1),
                        r.get(2),
                        r.get(3),
                        r.get(4),
                        r.get(5),
                        r.get(6),
                        r.get(7),
                    )
                })
                .transpose()
            }

            async fn api_keys_of_user(
                &self,
                user_id: uuid::Uuid,
            ) -> Result<Vec<$crate::accounts::ApiKey>, $crate::StoreError> {
                use sqlx::Row;
                let $r = self;
                let rows = sqlx::query::<$db>(&format!(
                    "SELECT {} FROM api_keys WHERE user_id = $1 ORDER BY id",
                    $crate::accounts_sql::API_KEY_COLUMNS
                ))
                .bind(user_id.to_string())
                .fetch_all($reader)
                .await?;
                rows.iter()
                    .map(|r| {
                        $crate::accounts_sql::api_key_row(
                            r.get(0),
                            r.get(1),
                            r.get(2),
                            r.get(3),
                            r.get(4),
                            r.get(5),
                            r.get(6),
                            r.get(7),
                        )
                    })
                    .collect()
            }

            async fn revoke_api_key(
                &self,
                user_id: uuid::Uuid,
                key_id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let $w = self;
                let done = sqlx::query::<$db>(
                    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
                )
                .bind($crate::accounts_sql::time_text(at))
                .bind(key_id.to_string())
                .bind(user_id.to_string())
                .execute($writer)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn touch_api_key(
                &self,
                key_id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::StoreError> {
                let $w = self;
                sqlx::query::<$db>("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                    .bind($crate::accounts_sql::time_text(at))
                    .bind(key_id.to_string())
                    .execute($writer)
                    .await?;
                Ok(())
            }

            async fn append_audit(
                &self,
                entries: &[$crate::accounts::AuditEntry],
            ) -> Result<(), $crate::StoreError> {
                if entries.is_empty() {
                    return Ok(());
                }
                let $w = self;
                let mut tx = ($writer).begin().await?;
                for e in entries {
                    sqlx::query::<$db>(
                        "INSERT INTO audit_log (at, user_id, email, api_key_id, ip, method, path, action, status, request_id)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind($crate::accounts_sql::time_text(e.at))
                    .bind(e.user_id.map(|u| u.to_string()))
                    .bind(e.email.clone())
                    .bind(e.api_key_id.map(|k| k.to_string()))
                    .bind(&e.ip)
                    .bind(&e.method)
                    .bind(&e.path)
                    .bind(&e.action)
                    .bind(i32::from(e.status))
                    .bind(e.request_id.clone())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn purge_audit_before(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                let $w = self;
                // Times are fixed-width RFC 3339 text in UTC, so text order is time order.
                let result = sqlx::query::<$db>("DELETE FROM audit_log WHERE at < $1")
                    .bind($crate::accounts_sql::time_text(before))
                    .execute($writer)
                    .await?;
                Ok(result.rows_affected())
            }

            async fn purge_refresh_tokens_expired_before(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                let $w = self;
                let result = sqlx::query::<$db>("DELETE FROM refresh_tokens WHERE expires_at < $1")
                    .bind($crate::accounts_sql::time_text(before))
                    .execute($writer)
                    .await?;
                Ok(result.rows_affected())
            }

            async fn list_audit(
                &self,
                filter: &$crate::accounts::AuditFilter,
            ) -> Result<Vec<$crate::accounts::AuditEntry>, $crate::StoreError> {
                use sqlx::Row;
                let $r = self;
                let rows = sqlx::query::<$db>(&format!(
                    "SELECT {} FROM audit_log
                     WHERE seq < $1 AND ($2 = '' OR user_id = $2) AND ($3 = '' OR action = $3)
                     ORDER BY seq DESC LIMIT $4",
                    $crate::accounts_sql::AUDIT_COLUMNS
                ))
                .bind(filter.before.unwrap_or(i64::MAX))
                .bind(filter.user_id.map(|u| u.to_string()).unwrap_or_default())
                .bind(filter.action.clone().unwrap_or_default())
                .bind(i64::from(filter.limit))
                .fetch_all($reader)
                .await?;
                rows.iter()
                    .map(|r| {
                        let status: i32 = r.get(9);
                        Ok($crate::accounts::AuditEntry {
                            seq: r.get(0),
                            at: $crate::accounts_sql::parse_time($crate::Entity::Audit, r.get(1))?,
                            user_id: $crate::accounts_sql::optional_uuid(
                                $crate::Entity::Audit,
                                r.get(2),
                            )?,
                            email: r.get(3),
                            api_key_id: $crate::accounts_sql::optional_uuid(
                                $crate::Entity::Audit,
                                r.get(4),
                            )?,
                            ip: r.get(5),
                            method: r.get(6),
                            path: r.get(7),
                            action: r.get(8),
                            status: u16::try_from(status).unwrap_or_default(),
                            request_id: r.get(10),
                        })
                    })
                    .collect()
            }

            async fn signing_secret(&self, candidate: &str) -> Result<String, $crate::StoreError> {
                let $w = self;
                sqlx::query::<$db>(
                    "INSERT INTO settings (name, value) VALUES ('token_signing_secret', $1)
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(candidate)
                .execute($writer)
                .await?;
                let secret: String = sqlx::query_scalar::<$db, String>(
                    "SELECT value FROM settings WHERE name = 'token_signing_secret'",
                )
                .fetch_one($writer)
                .await?;
                Ok(secret)
            }
        }
    };
}

pub(crate) use impl_account_store;
