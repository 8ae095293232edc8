-- The same model as the SQLite schema: each row keeps the entity as a JSONB document plus the
-- columns queries filter, join or sort on. Ids are UUIDv7 text, so ORDER BY id is creation order.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE businesses (
    id       TEXT PRIMARY KEY,
    industry TEXT NOT NULL,
    version  BIGINT NOT NULL,
    doc      JSONB NOT NULL
);
CREATE INDEX businesses_industry ON businesses (industry text_pattern_ops);

CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    location    geography(Point, 4326) NOT NULL,
    version     BIGINT NOT NULL,
    doc         JSONB NOT NULL
);
CREATE INDEX sites_business ON sites (business_id, id);
CREATE INDEX sites_location ON sites USING GIST (location);

CREATE TABLE flows (
    id          TEXT PRIMARY KEY,
    site_id     TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    business_id TEXT NOT NULL,
    direction   TEXT NOT NULL,
    category    TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    doc         JSONB NOT NULL
);
CREATE INDEX flows_site ON flows (site_id);
CREATE INDEX flows_business ON flows (business_id, id);
CREATE INDEX flows_category ON flows (category text_pattern_ops, id);

CREATE TABLE match_decisions (
    match_id          TEXT PRIMARY KEY,
    offer_business_id TEXT NOT NULL,
    need_business_id  TEXT NOT NULL,
    status            TEXT NOT NULL,
    version           BIGINT NOT NULL,
    doc               JSONB NOT NULL
);
CREATE INDEX match_decisions_offer_business ON match_decisions (offer_business_id);
CREATE INDEX match_decisions_need_business ON match_decisions (need_business_id);

-- Transactional outbox, published by the relay in seq order.
CREATE TABLE outbox (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    payload     JSONB NOT NULL
);
