//! Accounts from the command line: `symbiont admin create-user` bootstraps the first platform admin,
//! and the demo gets its documented login.

use symbiont_app::AppError;
use symbiont_app::users::{self, UserDraft};
use symbiont_store::Store;
use symbiont_store::accounts::User;
use uuid::Uuid;

/// The demo's login (see README): owner of the first two demo businesses.
pub const DEMO_EMAIL: &str = "demo@symbiont.example";
pub const DEMO_PASSWORD: &str = "symbiont-demo";
/// How many demo businesses the demo login owns.
const DEMO_OWNED_BUSINESSES: usize = 2;

/// Creates a user through the same use case as `POST /api/v1/admin/users`; a taken e-mail or a
/// weak password is a clear error.
pub async fn create_user(
    store: &dyn Store,
    email: &str,
    password: &str,
    is_admin: bool,
) -> anyhow::Result<User> {
    let draft = UserDraft {
        email: email.to_string(),
        password: password.to_string(),
        is_admin,
    };
    match users::create_user(store, draft).await {
        Ok(user) => Ok(user),
        Err(AppError::Conflict(_)) => {
            anyhow::bail!(
                "a user with e-mail {} exists already",
                email.trim().to_lowercase()
            )
        }
        Err(error) => Err(error.into()),
    }
}

/// Creates the demo login owning the first of `demo_businesses` (the demo data just loaded, never
/// businesses that were in the store before), unless the e-mail is taken.
pub async fn create_demo_login(store: &dyn Store, demo_businesses: &[Uuid]) -> anyhow::Result<()> {
    if store.accounts().user_by_email(DEMO_EMAIL).await?.is_some() {
        tracing::warn!(
            email = DEMO_EMAIL,
            "the demo login's e-mail is taken; demo login not created"
        );
        return Ok(());
    }
    let user = create_user(store, DEMO_EMAIL, DEMO_PASSWORD, false).await?;
    let owned: Vec<Uuid> = demo_businesses
        .iter()
        .take(DEMO_OWNED_BUSINESSES)
        .copied()
        .collect();
    symbiont_app::memberships::grant_ownership(store, user.id, &owned).await?;
    tracing::info!(email = DEMO_EMAIL, "demo login created");
    Ok(())
}
