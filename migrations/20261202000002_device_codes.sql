-- Device sign-in (RFC 8628): a TV or terminal shows a short code, a signed-in person approves
-- it, the device polls the token endpoint. See src/domain/oauth/device.rs.

CREATE TABLE device_codes (
    -- SHA-256 of the device code (256 random bits), which only the device holds.
    device_hash     bytea PRIMARY KEY,
    -- SHA-256 of the user code in its one normal form (8 capitals, no dash): what people type.
    user_code_hash  bytea NOT NULL UNIQUE,
    client_id       text NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope           text NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'approved', 'denied', 'consumed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    -- The polling interval in force for this code; RFC 8628 §3.5 adds 5 s at every slow_down.
    interval_ms     integer NOT NULL DEFAULT 5000,
    last_poll_at    timestamptz,
    -- Who is asking: shown on the approving phone, as for a QR code.
    requester_ip    text NOT NULL DEFAULT '',
    requester_user_agent text NOT NULL DEFAULT '',
    -- Who approved (or denied), from which session; the device's session may not outlive it.
    user_id         uuid REFERENCES users (id) ON DELETE CASCADE,
    approved_by     uuid REFERENCES sessions (id) ON DELETE SET NULL,
    auth_time       timestamptz,
    session_id      uuid REFERENCES sessions (id) ON DELETE SET NULL
);
CREATE INDEX device_codes_expires_at_idx ON device_codes (expires_at);
