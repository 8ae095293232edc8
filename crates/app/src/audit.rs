//! The audit log: every write and every login attempt, with who (user, API key), what (action,
//! path, outcome), when and from where. Administrators read it newest first ([`App::audit_page`]).
//!
//! A transport records an entry after the use case answered and before the client gets the
//! answer, so an acknowledged write is in the log. Entries from concurrent requests are appended in
//! one transaction (group commit), which keeps the cost to about one store write per batch.

use std::time::Duration;

use symbiont_store::Store;
use symbiont_store::accounts::{AuditEntry, AuditFilter};
use tokio::sync::{mpsc, oneshot};

use crate::App;
use crate::error::AppError;
use crate::identity::Caller;

const BATCH: usize = 256;
/// Longest a request waits for its entry to be stored before answering anyway.
const WAIT: Duration = Duration::from_secs(5);

type Pending = (AuditEntry, oneshot::Sender<()>);

pub struct AuditLog {
    sender: mpsc::Sender<Pending>,
}

impl AuditLog {
    /// Starts the writer task; it stops when the log is dropped.
    pub fn start(store: std::sync::Arc<dyn Store>) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Pending>(4 * BATCH);
        tokio::spawn(async move {
            let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                let entries: Vec<AuditEntry> = batch.iter().map(|(e, _)| e.clone()).collect();
                if let Err(error) = store.accounts().append_audit(&entries).await {
                    // The actions themselves stand; the log line says which entries were lost.
                    for entry in &entries {
                        tracing::error!(%error, action = %entry.action, path = %entry.path, user = ?entry.user_id, "audit entry not stored");
                    }
                }
                for (_, done) in batch.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        Self { sender }
    }

    /// Stores an entry, waiting (bounded) until it is written.
    pub async fn record(&self, entry: AuditEntry) {
        let (done, stored) = oneshot::channel();
        if self.sender.send((entry, done)).await.is_err() {
            tracing::error!("audit log writer stopped; entry not stored");
            return;
        }
        if tokio::time::timeout(WAIT, stored).await.is_err() {
            tracing::warn!("audit entry not confirmed within 5 s");
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// The `seq` to read older entries before; None on the last page.
    pub next_before: Option<i64>,
}

impl App {
    /// The audit log for administrators, newest first: at most `filter.limit` entries, those with a
    /// `seq` below `filter.before` when it is given.
    pub async fn audit_page(
        &self,
        caller: &Caller,
        filter: AuditFilter,
    ) -> Result<AuditPage, AppError> {
        caller.require_admin()?;
        let limit = filter.limit as usize;
        // One more than asked for tells whether there is a next page.
        let filter = AuditFilter {
            limit: filter.limit.saturating_add(1),
            ..filter
        };
        let mut items = self.store.accounts().list_audit(&filter).await?;
        let next_before = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage { items, next_before })
    }
}
