-- Hardening: handles and display names, every spent refresh token remembered, QR sessions tied to
-- the session that approved them, and rate limits shared by every server instance.

-- Usernames become handles: ASCII a-z 0-9 . _ -, 3 to 32 characters, starting with a letter or
-- digit, stored in their one lowercase form (Handle::parse in src/proto.rs is the Rust side).
-- A name of another script becomes the display name, and the account gets a handle made from
-- its id, which the person can read on their account page.
ALTER TABLE users ADD COLUMN display_name text
    CHECK (char_length(display_name) BETWEEN 1 AND 64);

UPDATE users SET display_name = username,
                 username = 'user-' || substr(replace(id::text, '-', ''), 1, 12)
    WHERE lower(trim(username)) !~ '^[a-z0-9][a-z0-9._-]{2,31}$';

DO $$
DECLARE
    clash text;
BEGIN
    SELECT string_agg(handle, ', ') INTO clash FROM (
        SELECT lower(trim(username)) AS handle FROM users
        GROUP BY 1 HAVING count(*) > 1
    ) AS clashes;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'cannot turn usernames into handles: these would be shared by two accounts: %', clash
            USING HINT = 'Rename one account of each pair (UPDATE users SET username = ...), then start Sesame again.';
    END IF;
END $$;

UPDATE users SET username = lower(trim(username));
DROP INDEX users_username_lower_key;
ALTER TABLE users ADD CONSTRAINT users_username_key UNIQUE (username),
                  ADD CONSTRAINT users_username_is_a_handle CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,31}$');

-- Every refresh token a session has spent, so a replay is recognised however many rotations ago
-- the token was used (RFC 9700 §4.14.2). Rows go with their session.
CREATE TABLE spent_refresh_tokens (
    hash       bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    spent_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX spent_refresh_tokens_session_idx ON spent_refresh_tokens (session_id);
INSERT INTO spent_refresh_tokens (hash, session_id, spent_at)
    SELECT previous_refresh_hash, id, refreshed_at FROM sessions WHERE previous_refresh_hash IS NOT NULL
    ON CONFLICT DO NOTHING;
ALTER TABLE sessions DROP COLUMN previous_refresh_hash;

-- A session made by QR ends when the session that approved it would have ended, at the latest,
-- so a stolen short-lived token cannot mint itself a fresh 30-day session. The approving session
-- is remembered for "approved from <device>"; ending it later does not end this one.
ALTER TABLE sessions ADD COLUMN approved_by uuid REFERENCES sessions (id) ON DELETE SET NULL;
ALTER TABLE qr_logins ADD COLUMN approved_by uuid REFERENCES sessions (id) ON DELETE SET NULL;

-- Fixed-window counters for the abuse limits, in the database so every instance counts against
-- one limit. One upsert per attempt. UNLOGGED: losing the counters in a crash only forgives a few
-- attempts, and skipping the WAL keeps the upsert cheap.
CREATE UNLOGGED TABLE rate_limits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    count        integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_window_end_idx ON rate_limits (window_end);

-- The device of each security event, for the account's activity page.
ALTER TABLE audit_events ADD COLUMN user_agent text NOT NULL DEFAULT '';
