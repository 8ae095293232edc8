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
use crate::rate_limit::Verdict;

/// A user to create, as given.
#[derive(Debug, Clone)]
pub struct UserDraft {
    pub email: String,
    pub password: String,
    /// Only an administrator may create another administrator.
    pub is_admin: bool,
}

/// What a self-registration answers, the same whether the address was free or taken, so the
/// answer does not tell a stranger which addresses have accounts. The person who registered signs
/// in to continue; someone who tried a taken address cannot, not knowing its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The e-mail as it will be used to sign in (trimmed, lower-cased).
    pub email: String,
}

/// Creates a user after checking the e-mail and password rules; a taken e-mail is a `Conflict`.
/// The caller has decided who may (see [`App::create_user`] and [`App::register`]). Used by the
/// command line, where no server runs, so it hashes on the blocking pool without the app's bound.
pub async fn create_user(store: &dyn Store, draft: UserDraft) -> Result<User, AppError> {
    let email = identity::normalize_email("email", &draft.email)?;
    identity::check_password_rules("password", &draft.password)?;
    let password = draft.password;
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let password_hash = tokio::task::spawn_blocking(move || identity::hash_password(&password))
        .await
        .map_err(|e| AppError::internal("password hashing", e))??;
    insert_user(store, email, password_hash, draft.is_admin).await
}

async fn insert_user(
    store: &dyn Store,
    email: String,
    password_hash: String,
    is_admin: bool,
) -> Result<User, AppError> {
    let user = User {
        id: Uuid::now_v7(),
        email,
        password_hash,
        is_admin,
        created_at: Utc::now(),
        token_epoch: 0,
        disabled_at: None,
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
    /// The registration quota, per client address: its own counter, at the login quota's rate
    /// (`rate_limit.login`), so a burst of registrations neither spends the address's login
    /// attempts nor is bounded only by the general quota. Each registration of a new address
    /// costs an argon2 hash. `Err` carries the refusing verdict for the answer's headers.
    pub async fn check_register_quota(&self, client_ip: &str) -> Result<(), Verdict> {
        let verdict = self
            .limiter
            .check(
                &format!("register-ip:{client_ip}"),
                self.limiter.settings.login,
            )
            .await;
        if verdict.allowed {
            Ok(())
        } else {
            Err(verdict)
        }
    }

    /// A person creates their own account, when the platform allows it; never an administrator.
    ///
    /// The answer is the same for a free and a taken address (see [`Registration`]). A taken
    /// address is found before any hashing, so probing with known addresses costs no argon2; the
    /// answer then waits about as long as a hash takes, so its timing does not tell either.
    pub async fn register(&self, draft: UserDraft) -> Result<Registration, AppError> {
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
        let email = identity::normalize_email("email", &draft.email)?;
        identity::check_password_rules("password", &draft.password)?;
        let registration = Registration {
            email: email.clone(),
        };
        if self.store.accounts().user_by_email(&email).await?.is_some() {
            tokio::time::sleep(self.password_hashing.typical_duration()).await;
            return Ok(registration);
        }
        let password = draft.password;
        let password_hash = self
            .password_hashing
            .run(move || identity::hash_password(&password))
            .await??;
        match insert_user(self.store.as_ref(), email, password_hash, false).await {
            // Taken between the check and the insert: the same answer as any taken address.
            Ok(_) | Err(AppError::Conflict(_)) => Ok(registration),
            Err(other) => Err(other),
        }
    }

    /// An administrator creates a user or another administrator. An administrator is entitled
    /// to know which addresses have accounts, so a taken one is a `Conflict` here.
    pub async fn create_user(&self, caller: &Caller, draft: UserDraft) -> Result<User, AppError> {
        caller.writer()?;
        caller.require_admin()?;
        let email = identity::normalize_email("email", &draft.email)?;
        identity::check_password_rules("password", &draft.password)?;
        let password = draft.password;
        let password_hash = self
            .password_hashing
            .run(move || identity::hash_password(&password))
            .await??;
        insert_user(self.store.as_ref(), email, password_hash, draft.is_admin).await
    }

    /// An administrator disables a user (`disabled`), ending all their sessions and refusing
    /// their API keys, or enables them again (old sessions stay ended). An administrator cannot
    /// disable themself, so the platform cannot lose its last way in by a slip.
    pub async fn set_user_disabled(
        &self,
        caller: &Caller,
        user_id: Uuid,
        disabled: bool,
    ) -> Result<User, AppError> {
        let admin = caller.require_admin()?;
        if disabled && admin.user_id == user_id {
            return Err(AppError::Conflict(
                "you cannot disable your own account".into(),
            ));
        }
        let user = self
            .store
            .accounts()
            .set_user_disabled(user_id, disabled.then(Utc::now))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no user {user_id}")))?;
        self.account_cache.clear();
        Ok(user)
    }

    /// An administrator ends every session of a user (a lost laptop, a suspected theft).
    pub async fn end_sessions_of_user(
        &self,
        caller: &Caller,
        user_id: Uuid,
    ) -> Result<(), AppError> {
        caller.require_admin()?;
        self.end_sessions_of(user_id).await
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
