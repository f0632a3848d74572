//! The `qr_logins` table. Each `QrTransition` is one conditional UPDATE here whose WHERE clause
//! holds its guards, so racing requests have exactly one winner; the UPDATE trigger then wakes
//! waiting desktops through `NOTIFY qr_login`. Time is always the database's `now()`, so the
//! clocks of several server instances never disagree about whether a code has expired.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::proto::{Handle, QrId, QrState, SessionId, UserId};

#[derive(Debug, Clone, FromRow)]
pub struct QrRow {
    pub id: QrId,
    pub state: QrState,
    pub created_at: DateTime<Utc>,
    /// Whether its time is up, by the database's clock (the state may not say so yet).
    pub past_expiry: bool,
    /// Seconds until it expires, by the database's clock (negative once past).
    pub seconds_left: f64,
    pub requester_user_agent: String,
    pub requester_ip: String,
    pub scanned_by: Option<UserId>,
    pub scanned_by_handle: Option<Handle>,
    pub scanned_by_name: Option<String>,
}

const SELECT_ROW: &str = "SELECT q.id, q.state, q.created_at, q.expires_at <= now() AS past_expiry,
            extract(epoch FROM q.expires_at - now())::float8 AS seconds_left,
            q.requester_user_agent, q.requester_ip, q.scanned_by,
            u.username AS scanned_by_handle, u.display_name AS scanned_by_name
     FROM qr_logins q LEFT JOIN users u ON u.id = q.scanned_by";

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: &QrId,
    secret_hash: &[u8],
    lifetime_secs: f64,
    user_agent: &str,
    ip: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO qr_logins (id, secret_hash, expires_at, requester_user_agent, requester_ip)
         VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)",
    )
    .bind(id)
    .bind(secret_hash)
    .bind(lifetime_secs)
    .bind(user_agent)
    .bind(ip)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: impl PgExecutor<'_>, id: &QrId) -> Result<Option<QrRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT_ROW} WHERE q.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The row only for whoever holds the poll secret; anyone else sees nothing.
pub async fn find_with_secret(
    db: impl PgExecutor<'_>,
    id: &QrId,
    secret_hash: &[u8],
) -> Result<Option<QrRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT_ROW} WHERE q.id = $1 AND q.secret_hash = $2"
    ))
    .bind(id)
    .bind(secret_hash)
    .fetch_optional(db)
    .await
}

fn done(result: sqlx::postgres::PgQueryResult) -> bool {
    result.rows_affected() == 1
}

/// `pending → scanned`: the first signed-in user to open the code owns it.
pub async fn scan(db: impl PgExecutor<'_>, id: &QrId, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE qr_logins SET state = 'scanned', scanned_by = $2, scanned_at = now()
         WHERE id = $1 AND state = 'pending' AND expires_at > now()",
    )
    .bind(id)
    .bind(user)
    .execute(db)
    .await
    .map(done)
}

/// `scanned → approved`, by the user who scanned. The desktop then has `redeem_window_secs` to
/// collect it, and the session it gets may not outlive `approver`.
pub async fn approve(
    db: impl PgExecutor<'_>,
    id: &QrId,
    user: UserId,
    approver: SessionId,
    redeem_window_secs: f64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE qr_logins SET state = 'approved', decided_at = now(), approved_by = $3,
                expires_at = now() + make_interval(secs => $4)
         WHERE id = $1 AND state = 'scanned' AND expires_at > now() AND scanned_by = $2",
    )
    .bind(id)
    .bind(user)
    .bind(approver)
    .bind(redeem_window_secs)
    .execute(db)
    .await
    .map(done)
}

/// `scanned → denied`, by the user who scanned.
pub async fn deny(db: impl PgExecutor<'_>, id: &QrId, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE qr_logins SET state = 'denied', decided_at = now()
         WHERE id = $1 AND state = 'scanned' AND expires_at > now() AND scanned_by = $2",
    )
    .bind(id)
    .bind(user)
    .execute(db)
    .await
    .map(done)
}

/// What a redeemed approval gives the desktop: whose session, approved from where, ending when.
#[derive(Debug, Clone, FromRow)]
pub struct Redeemed {
    pub user_id: UserId,
    pub approved_by: SessionId,
    pub approver_expires_at: DateTime<Utc>,
}

/// `approved → consumed`, only with the poll secret, and only while the approving session is
/// still live. `None` when another request won or the approver's session has ended.
pub async fn redeem(
    db: impl PgExecutor<'_>,
    id: &QrId,
    secret_hash: &[u8],
) -> Result<Option<Redeemed>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE qr_logins q SET state = 'consumed'
         FROM sessions s
         WHERE q.id = $1 AND q.state = 'approved' AND q.expires_at > now() AND q.secret_hash = $2
           AND s.id = q.approved_by AND s.revoked_at IS NULL AND s.expires_at > now()
         RETURNING q.scanned_by AS user_id, q.approved_by, s.expires_at AS approver_expires_at",
    )
    .bind(id)
    .bind(secret_hash)
    .fetch_optional(db)
    .await
}

/// `pending | scanned | approved → expired` once the code's time is up, or for an approval whose
/// approving session ended before the desktop collected it.
pub async fn expire(db: impl PgExecutor<'_>, id: &QrId) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE qr_logins q SET state = 'expired'
         WHERE id = $1 AND state IN ('pending', 'scanned', 'approved')
           AND (expires_at <= now()
                OR (state = 'approved' AND NOT EXISTS (
                        SELECT 1 FROM sessions s
                        WHERE s.id = q.approved_by AND s.revoked_at IS NULL AND s.expires_at > now())))",
    )
    .bind(id)
    .execute(db)
    .await
    .map(done)
}

/// Records the session a redeemed code produced (same transaction as the redeem).
pub async fn set_session(
    db: impl PgExecutor<'_>,
    id: &QrId,
    session_id: SessionId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE qr_logins SET session_id = $2 WHERE id = $1")
        .bind(id)
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes codes that ended long ago; they are of no use once their audit events are written.
pub async fn delete_ended_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM qr_logins WHERE expires_at < $1")
        .bind(before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Before an account is deleted: its unfinished codes become `denied` (the UPDATE trigger tells
/// the waiting desktops at once), and every code it scanned forgets it instead of being deleted
/// under the desktop that still polls it.
pub async fn cancel_for_user(db: impl PgExecutor<'_>, user: UserId) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE qr_logins
         SET state = CASE WHEN state IN ('scanned', 'approved') THEN 'denied' ELSE state END,
             decided_at = coalesce(decided_at, now()), scanned_by = NULL, approved_by = NULL
         WHERE scanned_by = $1",
    )
    .bind(user)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
