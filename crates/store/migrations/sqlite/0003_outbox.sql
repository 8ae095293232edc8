-- Transactional outbox: each write appends its domain events here in the same transaction; the
-- relay publishes them in `seq` order and deletes them once the bus has them.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    payload     TEXT NOT NULL
);
