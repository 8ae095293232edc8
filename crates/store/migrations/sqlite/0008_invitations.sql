-- Invitations to businesses. An owner invites an e-mail address, not a user: whether an account has
-- the address is not looked up, so inviting tells the owner nothing about accounts. The person with
-- the address sees the invitation once signed in and accepts (becoming a member) or declines it;
-- either deletes the row, as does revoking it. One pending invitation per business and address
-- (inviting again refreshes it). Expired ones are deleted by retention. Times are RFC 3339 UTC text.
CREATE TABLE invitations (
    id          TEXT PRIMARY KEY NOT NULL,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    invited_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    UNIQUE (business_id, email)
);
CREATE INDEX invitations_email ON invitations (email);
CREATE INDEX invitations_expires_at ON invitations (expires_at);
