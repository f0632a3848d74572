-- "12 failed attempts to sign in to your account in the last hour": a notice about no session,
-- shown live on the account's signed-in devices like a new sign-in. Written when the hour's
-- failures reach 5, 10, 20, 40, … so a long attack sends a handful of notices, not one per guess.
ALTER TABLE notices ADD COLUMN kind text NOT NULL DEFAULT 'new_sign_in';
ALTER TABLE notices ADD COLUMN failed_attempts integer;
ALTER TABLE notices ALTER COLUMN session_id DROP NOT NULL;
ALTER TABLE notices ADD CONSTRAINT notices_kind_check CHECK (
    (kind = 'new_sign_in' AND session_id IS NOT NULL AND failed_attempts IS NULL)
    OR (kind = 'failed_sign_ins' AND session_id IS NULL AND failed_attempts > 0)
);
