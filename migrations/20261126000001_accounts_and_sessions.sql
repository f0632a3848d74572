-- Accounts, the sessions that back every token, and the audit trail.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    -- Shown as typed; uniqueness ignores case (see the index below), so "Alice" and "alice" are one account.
    username      text NOT NULL,
    -- argon2id PHC string. Never leaves the server.
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

-- One row per signed-in device: the "token record". An access token is valid only while its row
-- (named by the JWT's jti) is neither revoked nor expired, so logout and revocation take effect at once.
CREATE TABLE sessions (
    id                    uuid PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method                text NOT NULL CHECK (method IN ('password', 'qr')),
    user_agent            text NOT NULL DEFAULT '',
    ip                    text NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL DEFAULT now(),
    -- Touched at most once a minute, so a busy client does not turn every read into a write.
    last_seen_at          timestamptz NOT NULL DEFAULT now(),
    -- Absolute lifetime: refreshing never extends it.
    expires_at            timestamptz NOT NULL,
    revoked_at            timestamptz,
    -- SHA-256 of the current refresh token; the token itself is never stored.
    refresh_hash          bytea NOT NULL UNIQUE,
    -- The token rotated out last, kept to recognise a replay (theft) or a benign race between two tabs.
    previous_refresh_hash bytea,
    refreshed_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id, created_at DESC);
CREATE INDEX sessions_previous_refresh_hash_idx ON sessions (previous_refresh_hash)
    WHERE previous_refresh_hash IS NOT NULL;

-- Append-only record of security events: sign-ins, failures, refresh-token reuse, revocations, QR steps.
CREATE TABLE audit_events (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    event      text NOT NULL,
    user_id    uuid,
    session_id uuid,
    ip         text NOT NULL DEFAULT '',
    -- Free-form context (never a secret): the username tried, the QR id, the reason.
    detail     text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at DESC);
