-- Security center: "new sign-in" notices delivered live to a user's other sessions, and the
-- indexes the security activity page pages through.

-- One row per sign-in (password or QR), not per recipient: every other live session of the user
-- reads it. A session's cursor is the highest notice id it has seen. Rows go with their user
-- (account deletion) and with the session they announce (the housekeeping deletes long-ended
-- sessions, and their notices are of no use by then).
CREATE TABLE notices (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The new session the notice is about; "End that session" ends it.
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    method     text NOT NULL CHECK (method IN ('password', 'qr')),
    user_agent text NOT NULL DEFAULT '',
    ip         text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notices_user_id_idx ON notices (user_id, id);
CREATE INDEX notices_session_id_idx ON notices (session_id);

-- A cursor must never skip a notice. Sequence values are handed out when a row is inserted, not
-- when its transaction commits, so without care a notice numbered 10 could become visible after
-- one numbered 11 had already moved a reader's cursor past it. Taking a per-user lock (held to
-- commit) *before* numbering the row makes one user's notices commit in id order; cursors are
-- per user, so that is all the order they need. Different users never wait for each other
-- (unless their ids hash alike, which only costs a brief wait).
CREATE FUNCTION notices_number_in_commit_order() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(20261129, hashtext(NEW.user_id::text));
    NEW.id := nextval(pg_get_serial_sequence('notices', 'id'));
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER notices_number
    BEFORE INSERT ON notices
    FOR EACH ROW EXECUTE FUNCTION notices_number_in_commit_order();

-- Wakes the user's waiting notice polls on every server instance (LISTEN notice), at commit.
CREATE FUNCTION notices_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('notice', NEW.user_id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER notices_notify_insert
    AFTER INSERT ON notices
    FOR EACH ROW EXECUTE FUNCTION notices_notify();

-- The activity page reads a user's events newest first, 50 at a time, by id.
CREATE INDEX audit_events_user_id_idx ON audit_events (user_id, id DESC);
