-- Sesame as an OpenID Connect provider: the apps that sign in through it, the keys it signs their
-- tokens with, authorization codes, remembered consent, app sessions, and the outbox of
-- back-channel logout calls. See src/domain/oauth/.

-- Apps, registered by the operator (`sesame client add`).
CREATE TABLE oauth_clients (
    id                     text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    name                   text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    -- SHA-256 of the client secret (256 random bits, so a plain hash suffices); NULL for a
    -- public client (a browser or native app that cannot keep a secret).
    secret_hash            bytea,
    -- Compared with the request's redirect_uri exactly, character for character.
    redirect_uris          text[] NOT NULL,
    grant_types            text[] NOT NULL,
    backchannel_logout_uri text,
    created_at             timestamptz NOT NULL DEFAULT now()
);

-- ES256 keys. The newest is the current one; every instance reads it from here, so all sign
-- alike. A superseded key stays in the JWKS until every token it signed has expired.
CREATE TABLE signing_keys (
    kid           text PRIMARY KEY,
    -- PKCS#8 DER. Whoever can read this table can sign tokens, as with any provider's key store.
    private_der   bytea NOT NULL,
    -- The public point, base64url, as it appears in the JWKS.
    public_x      text NOT NULL,
    public_y      text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded_at timestamptz
);

-- Authorization codes: single use, short-lived, stored hashed.
CREATE TABLE oauth_codes (
    hash               bytea PRIMARY KEY,
    client_id          text NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The Sesame session that approved; the app session may not outlive it.
    approved_by        uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri       text NOT NULL,
    scope              text NOT NULL,
    nonce              text,
    code_challenge     text NOT NULL,
    auth_time          timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    used_at            timestamptz,
    -- The app session the first use created; a second use ends it (RFC 6749 §4.1.2).
    issued_session_id  uuid REFERENCES sessions (id) ON DELETE SET NULL
);
CREATE INDEX oauth_codes_expires_at_idx ON oauth_codes (expires_at);

-- What each person allowed each app to learn. Withdrawing it ends the app's sessions.
CREATE TABLE oauth_consents (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    -- Space-separated, sorted.
    scope      text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client_id)
);

-- App sessions are sessions: the same row, revocation and refresh-token rotation as Sesame's own,
-- with the app they belong to. Sesame's own calls never accept them (client_id IS NULL there).
ALTER TABLE sessions ADD COLUMN client_id text REFERENCES oauth_clients (id) ON DELETE CASCADE,
                     ADD COLUMN scope text,
                     ADD COLUMN auth_time timestamptz;
ALTER TABLE sessions DROP CONSTRAINT sessions_method_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_method_check
    CHECK (method IN ('password', 'qr', 'oidc', 'device', 'passkey'));
ALTER TABLE notices DROP CONSTRAINT notices_method_check;
ALTER TABLE notices ADD CONSTRAINT notices_method_check
    CHECK (method IN ('password', 'qr', 'oidc', 'device', 'passkey'));
CREATE INDEX sessions_approved_by_idx ON sessions (approved_by) WHERE approved_by IS NOT NULL;

-- Back-channel logout calls still to be made. Any instance may send one: it takes the row with
-- FOR UPDATE SKIP LOCKED and leases it (next_attempt_at moves ahead), so none is sent twice,
-- and an instance that dies mid-call only delays it. Rows survive restarts.
CREATE TABLE logout_deliveries (
    id              bigserial PRIMARY KEY,
    client_id       text NOT NULL,
    uri             text NOT NULL,
    user_id         uuid NOT NULL,
    session_id      uuid NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX logout_deliveries_due_idx ON logout_deliveries (next_attempt_at);

-- When an app session ends, however that happens, its app is told; and when any session ends,
-- the app sessions it approved end with it (they cannot outlive it). Doing both here means no
-- code path that ends a session (sign-out, revoke, password change, refresh reuse, consent
-- withdrawn) can forget them.
CREATE FUNCTION sessions_end_app_sessions() RETURNS trigger AS $$
BEGIN
    UPDATE sessions SET revoked_at = NEW.revoked_at
        WHERE approved_by = NEW.id AND client_id IS NOT NULL AND revoked_at IS NULL;
    IF NEW.client_id IS NOT NULL THEN
        INSERT INTO logout_deliveries (client_id, uri, user_id, session_id)
            SELECT c.id, c.backchannel_logout_uri, NEW.user_id, NEW.id
            FROM oauth_clients c
            WHERE c.id = NEW.client_id AND c.backchannel_logout_uri IS NOT NULL;
        IF FOUND THEN
            PERFORM pg_notify('logout_delivery', '');
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_ended
    AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION sessions_end_app_sessions();

-- Deleting an account deletes its sessions outright: live app sessions still get their call.
CREATE FUNCTION sessions_deleted_tell_app() RETURNS trigger AS $$
BEGIN
    INSERT INTO logout_deliveries (client_id, uri, user_id, session_id)
        SELECT c.id, c.backchannel_logout_uri, OLD.user_id, OLD.id
        FROM oauth_clients c
        WHERE c.id = OLD.client_id AND c.backchannel_logout_uri IS NOT NULL;
    IF FOUND THEN
        PERFORM pg_notify('logout_delivery', '');
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_deleted
    BEFORE DELETE ON sessions
    FOR EACH ROW WHEN (OLD.client_id IS NOT NULL AND OLD.revoked_at IS NULL AND OLD.expires_at > now())
    EXECUTE FUNCTION sessions_deleted_tell_app();
