-- Businesses, sites and flows. Each row keeps the entity as a JSON document (`doc`) plus the columns
-- queries filter and sort on. Ids are UUIDv7 text, so ordering by id is creation order (cursor paging).
CREATE TABLE businesses (
    id          TEXT PRIMARY KEY NOT NULL,
    industry    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX businesses_industry ON businesses (industry);

CREATE TABLE sites (
    rid         INTEGER PRIMARY KEY,            -- row id shared with the R*Tree
    id          TEXT NOT NULL UNIQUE,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX sites_business ON sites (business_id, id);

-- Spatial index of site locations; kept in step with `sites` by triggers (cascades included).
CREATE VIRTUAL TABLE site_locations USING rtree (rid, min_lat, max_lat, min_lon, max_lon);
CREATE TRIGGER sites_located AFTER INSERT ON sites BEGIN
    INSERT INTO site_locations VALUES (new.rid, new.lat, new.lat, new.lon, new.lon);
END;
CREATE TRIGGER sites_moved AFTER UPDATE OF lat, lon ON sites BEGIN
    UPDATE site_locations SET min_lat = new.lat, max_lat = new.lat, min_lon = new.lon, max_lon = new.lon
    WHERE rid = new.rid;
END;
CREATE TRIGGER sites_removed AFTER DELETE ON sites BEGIN
    DELETE FROM site_locations WHERE rid = old.rid;
END;

CREATE TABLE flows (
    id          TEXT PRIMARY KEY NOT NULL,
    site_id     TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    business_id TEXT NOT NULL,
    direction   TEXT NOT NULL,
    category    TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX flows_site ON flows (site_id);
CREATE INDEX flows_business ON flows (business_id, id);
CREATE INDEX flows_category ON flows (category, id);
