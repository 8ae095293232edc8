-- The account lifecycle. token_epoch: every access and refresh token carries the epoch of its user
-- when it was issued, and only tokens of the current epoch are accepted, so bumping it (password
-- change, "sign out everywhere", disabling) ends every session at once. disabled_at: a disabled
-- user can neither sign in nor use an API key. session_expires_at: the absolute end of a refresh
-- token family, fixed at login and copied by every rotation; older families end with their current
-- token.
ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE refresh_tokens ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN session_expires_at TEXT;
UPDATE refresh_tokens SET session_expires_at = expires_at;
