//! The `qr_logins` table. State changes go only through `apply`, one conditional UPDATE per
//! `QrTransition`; the UPDATE trigger then wakes waiting desktops through `NOTIFY qr_login`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use crate::domain::qr::{QrState, QrTransition};

#[derive(Debug, Clone, FromRow)]
pub struct QrRow {
    pub id: String,
    pub state: QrState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub requester_user_agent: String,
    pub requester_ip: String,
    pub scanned_by: Option<Uuid>,
    pub scanned_by_name: Option<String>,
}

const SELECT_ROW: &str =
    "SELECT q.id, q.state, q.created_at, q.expires_at, q.requester_user_agent, q.requester_ip,
            q.scanned_by, u.username AS scanned_by_name
     FROM qr_logins q LEFT JOIN users u ON u.id = q.scanned_by";

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: &str,
    secret_hash: &[u8],
    expires_at: DateTime<Utc>,
    user_agent: &str,
    ip: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO qr_logins (id, secret_hash, expires_at, requester_user_agent, requester_ip)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(secret_hash)
    .bind(expires_at)
    .bind(user_agent)
    .bind(ip)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: impl PgExecutor<'_>, id: &str) -> Result<Option<QrRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT_ROW} WHERE q.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The row only for whoever holds the poll secret; anyone else sees nothing.
pub async fn find_with_secret(
    db: impl PgExecutor<'_>,
    id: &str,
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

/// Who is acting on a code, for the guards each transition needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Actor<'a> {
    /// The signed-in user (scan, approve, deny). Approve and deny require the user who scanned.
    pub user_id: Option<Uuid>,
    /// Hash of the poll secret (redeem): only the desktop that created the code may redeem it.
    pub secret_hash: Option<&'a [u8]>,
}

/// Applies `transition` to code `id` in one statement, if the code is in one of the transition's
/// `from` states, the lifetime rule holds (unexpired, or for `Expire` expired), and the actor
/// guards pass. Returns whether it happened; concurrent callers get exactly one `true`.
/// Approval restarts the clock with `redeem_window_secs`, the time the desktop has to collect it.
pub async fn apply(
    db: impl PgExecutor<'_>,
    id: &str,
    transition: QrTransition,
    actor: Actor<'_>,
    redeem_window_secs: f64,
) -> Result<bool, sqlx::Error> {
    let from: Vec<&str> = transition
        .from()
        .iter()
        .map(|state| state.as_str())
        .collect();
    let to = transition.to().as_str();
    let done = sqlx::query(
        "UPDATE qr_logins SET
             state = $2,
             scanned_by = CASE WHEN $2 = 'scanned' THEN $4 ELSE scanned_by END,
             scanned_at = CASE WHEN $2 = 'scanned' THEN now() ELSE scanned_at END,
             decided_at = CASE WHEN $2 IN ('approved', 'denied') THEN now() ELSE decided_at END,
             expires_at = CASE WHEN $2 = 'approved' THEN now() + make_interval(secs => $6) ELSE expires_at END
         WHERE id = $1
           AND state = ANY($3)
           AND CASE WHEN $2 = 'expired' THEN expires_at <= now() ELSE expires_at > now() END
           AND ($2 NOT IN ('scanned', 'approved', 'denied') OR $4::uuid IS NOT NULL)
           AND ($2 NOT IN ('approved', 'denied') OR scanned_by = $4)
           AND ($2 <> 'consumed' OR secret_hash = $5)",
    )
    .bind(id)
    .bind(to)
    .bind(&from)
    .bind(actor.user_id)
    .bind(actor.secret_hash)
    .bind(redeem_window_secs)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the session a redeemed code produced (same transaction as the redeem).
pub async fn set_session(
    db: impl PgExecutor<'_>,
    id: &str,
    session_id: Uuid,
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
