-- People's decisions on matches (and expiries). Matches themselves are derived by the engine.
CREATE TABLE match_decisions (
    match_id          TEXT PRIMARY KEY NOT NULL,
    offer_business_id TEXT NOT NULL,
    need_business_id  TEXT NOT NULL,
    status            TEXT NOT NULL,
    version           INTEGER NOT NULL,
    doc               TEXT NOT NULL
);
CREATE INDEX match_decisions_offer_business ON match_decisions (offer_business_id);
CREATE INDEX match_decisions_need_business ON match_decisions (need_business_id);
