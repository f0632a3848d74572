-- "Scan with your phone to sign in" codes. See domain/qr.rs for the state machine.

CREATE TABLE qr_logins (
    -- The public id: it is in the QR code, so anyone who photographs the screen knows it.
    id                   text PRIMARY KEY,
    -- SHA-256 of the poll secret that only the desktop tab holds. Without it the id yields nothing.
    secret_hash          bytea NOT NULL,
    state                text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'scanned', 'approved', 'consumed', 'denied', 'expired')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    -- Who is asking: shown on the phone so its owner can spot a relayed (QRLJacking) code.
    requester_user_agent text NOT NULL DEFAULT '',
    requester_ip         text NOT NULL DEFAULT '',
    -- Whoever scans first owns the code; only that user may approve or deny it.
    scanned_by           uuid REFERENCES users (id) ON DELETE CASCADE,
    scanned_at           timestamptz,
    decided_at           timestamptz,
    -- The desktop's own new session, minted when it redeems the approval.
    session_id           uuid REFERENCES sessions (id) ON DELETE SET NULL
);
CREATE INDEX qr_logins_expires_at_idx ON qr_logins (expires_at);

-- Every change wakes the desktops waiting on this code, on every server instance (LISTEN qr_login).
CREATE FUNCTION qr_logins_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('qr_login', NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER qr_logins_notify_update
    AFTER UPDATE OF state ON qr_logins
    FOR EACH ROW EXECUTE FUNCTION qr_logins_notify();
