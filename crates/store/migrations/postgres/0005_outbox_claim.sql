-- A relay claims the outbox rows it publishes until `claimed_until` (Unix milliseconds), so the
-- relays of several instances over one database publish each event once; a crashed relay's claim
-- simply ends.
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
