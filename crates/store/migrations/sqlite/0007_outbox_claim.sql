-- A relay claims the outbox rows it publishes until `claimed_until` (Unix milliseconds), so the
-- relays of several processes over one file publish each event once; a crashed relay's claim
-- simply ends.
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
