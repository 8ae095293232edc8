//! The audit log: every write and every login attempt, with who (user, API key), what (action,
//! path, outcome), when and from where. Admins read it through `GET /api/v1/admin/audit`.
//!
//! A transport records an entry after the use case answered and before the client gets the
//! answer, so an acknowledged write is in the log. Entries from concurrent requests are appended in
//! one transaction (group commit), which keeps the cost to about one store write per batch.

use std::time::Duration;

use symbiont_store::Store;
use symbiont_store::accounts::AuditEntry;
use tokio::sync::{mpsc, oneshot};

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
