//! User accounts: creating one (by an administrator, by the person themself when registration is
//! open, or from the command line) and listing them for administrators.
//!
//! [`create_user`] needs only the store, so the command line can bootstrap the first administrator
//! before any server (and any [`App`]) exists; every other use case here is an [`App`] method.

use chrono::Utc;
use symbiont_store::accounts::User;
use symbiont_store::{Page, PageRequest, Store, StoreError};
use uuid::Uuid;

use crate::App;
use crate::error::AppError;
use crate::identity::{self, Caller};

/// A user to create, as given.
#[derive(Debug, Clone)]
pub struct UserDraft {
    pub email: String,
    pub password: String,
    /// Only an administrator may create another administrator.
    pub is_admin: bool,
}

/// Creates a user after checking the e-mail and password rules; a taken e-mail is a `Conflict`.
/// The caller has decided who may (see [`App::create_user`] and [`App::register`]).
pub async fn create_user(store: &dyn Store, draft: UserDraft) -> Result<User, AppError> {
    let email = identity::normalize_email("email", &draft.email)?;
    identity::check_password_rules("password", &draft.password)?;
    let password = draft.password;
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let password_hash = tokio::task::spawn_blocking(move || identity::hash_password(&password))
        .await
        .map_err(|e| AppError::internal("password hashing", e))??;
    let user = User {
        id: Uuid::now_v7(),
        email,
        password_hash,
        is_admin: draft.is_admin,
        created_at: Utc::now(),
    };
    store
        .accounts()
        .insert_user(&user)
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists { .. } => {
                AppError::Conflict(format!("a user with e-mail {} exists", user.email))
            }
            other => other.into(),
        })?;
    Ok(user)
}

impl App {
    /// A person creates their own account, when the platform allows it; never an administrator.
    pub async fn register(&self, draft: UserDraft) -> Result<User, AppError> {
        if !self.auth.open_registration {
            return Err(AppError::Forbidden(
                "self-registration is closed; ask a platform administrator for an account".into(),
            ));
        }
        if draft.is_admin {
            return Err(AppError::invalid(
                "is_admin",
                "only a platform administrator may create administrators",
            ));
        }
        create_user(self.store.as_ref(), draft).await
    }

    /// An administrator creates a user or another administrator.
    pub async fn create_user(&self, caller: &Caller, draft: UserDraft) -> Result<User, AppError> {
        caller.writer()?;
        caller.require_admin()?;
        create_user(self.store.as_ref(), draft).await
    }

    /// A page of users in creation order, for administrators.
    pub async fn users(&self, caller: &Caller, page: PageRequest) -> Result<Page<User>, AppError> {
        caller.require_admin()?;
        let mut items = self
            .store
            .accounts()
            .list_users(page.after, page.limit.saturating_add(1))
            .await?;
        let next_cursor = if items.len() > page.limit as usize {
            items.truncate(page.limit as usize);
            items.last().map(|u| u.id)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}
