-- Passkeys (WebAuthn credentials), and the ceremonies that create and use them.

-- The WebAuthn user handle is the user's id (a random UUID, no personal data). The credential
-- itself (public key, signature counter, backup state) is webauthn-rs' `Passkey`, as JSON.
CREATE TABLE passkeys (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Unique across accounts: one authenticator's credential can never sign in to two of them.
    credential_id bytea NOT NULL UNIQUE,
    name          text NOT NULL,
    credential    jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id, created_at);

-- A ceremony lives from `start` to `finish` (at most 5 minutes) and is taken by one
-- `DELETE … RETURNING`, so it works across instances and of two finishes exactly one wins.
CREATE TABLE passkey_ceremonies (
    -- SHA-256 of the ceremony id the browser holds.
    id_hash    bytea PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('register', 'sign_in', 'verify')),
    -- Who registers or verifies; NULL for a sign-in, where the passkey says who.
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    state      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX passkey_ceremonies_created_at_idx ON passkey_ceremonies (created_at);

-- "Approvals confirmed with a passkey": approving a QR code, an app or a device code first needs
-- a fresh proof (a passkey with user verification, or the password), handed out once and spent
-- by the approval.
ALTER TABLE users ADD COLUMN approvals_need_verification boolean NOT NULL DEFAULT false;
CREATE TABLE approval_proofs (
    -- SHA-256 of the proof the browser holds.
    proof_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX approval_proofs_expires_at_idx ON approval_proofs (expires_at);
