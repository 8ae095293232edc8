//! Retention: the audit log, spent refresh tokens and lapsed invitations would grow without bound
//! (every write and every login attempt is an entry; every refresh leaves a token row; an
//! invitation nobody answers stays), so a periodic task deletes audit entries older than the
//! configured number of days, and refresh tokens and invitations that have expired.
//! The task is tracked and stops with the others on shutdown; a failed round is logged and tried
//! again at the next one.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::App;
use crate::error::AppError;

/// What is kept, and how often the rest is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Audit entries older than this many days are deleted; 0 keeps them forever.
    pub audit_log_days: u32,
    /// How often a round runs (the first right after start).
    pub interval: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            audit_log_days: 365,
            interval: Duration::from_secs(3600),
        }
    }
}

/// What one round deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub audit_entries: u64,
    pub refresh_tokens: u64,
    pub invitations: u64,
}

impl App {
    /// One round: deletes what the settings no longer keep.
    pub async fn purge_expired(&self, settings: RetentionSettings) -> Result<Purged, AppError> {
        let now = Utc::now();
        let accounts = self.store.accounts();
        let audit_entries = if settings.audit_log_days == 0 {
            0
        } else {
            let cutoff = now - chrono::Duration::days(i64::from(settings.audit_log_days));
            accounts.purge_audit_before(cutoff).await?
        };
        let refresh_tokens = accounts.purge_refresh_tokens_expired_before(now).await?;
        let invitations = accounts.purge_invitations_expired_before(now).await?;
        Ok(Purged {
            audit_entries,
            refresh_tokens,
            invitations,
        })
    }
}

/// Starts the retention task on `tasks`; it runs a round every `settings.interval` until `cancel`.
pub fn start(
    app: &Arc<App>,
    settings: RetentionSettings,
    tasks: &TaskTracker,
    cancel: &CancellationToken,
) {
    let app = Arc::clone(app);
    let cancel = cancel.clone();
    tasks.spawn(async move {
        let mut ticks = tokio::time::interval(settings.interval.max(Duration::from_secs(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match app.purge_expired(settings).await {
                Ok(purged) if purged != Purged::default() => tracing::info!(
                    audit_entries = purged.audit_entries,
                    refresh_tokens = purged.refresh_tokens,
                    invitations = purged.invitations,
                    "retention: expired records deleted"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    error = %crate::error::chain(&error),
                    "retention round failed; tried again at the next"
                ),
            }
        }
    });
}
