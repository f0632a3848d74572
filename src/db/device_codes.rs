//! The `device_codes` table: device sign-ins waiting for, or given, a person's answer.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::proto::{SessionId, UserId};

pub struct NewDeviceCode<'a> {
    pub device_hash: Vec<u8>,
    pub user_code_hash: Vec<u8>,
    pub client_id: &'a str,
    pub scope: String,
    pub expires_at: DateTime<Utc>,
    pub interval_ms: i32,
    pub requester_ip: &'a str,
    pub requester_user_agent: &'a str,
}

/// `false` when the user code is taken by another code pair (draw again).
pub async fn insert(db: impl PgExecutor<'_>, code: NewDeviceCode<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO device_codes (device_hash, user_code_hash, client_id, scope, expires_at,
                                   interval_ms, requester_ip, requester_user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (user_code_hash) DO NOTHING",
    )
    .bind(&code.device_hash)
    .bind(&code.user_code_hash)
    .bind(code.client_id)
    .bind(&code.scope)
    .bind(code.expires_at)
    .bind(code.interval_ms)
    .bind(code.requester_ip)
    .bind(code.requester_user_agent)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct Polled {
    pub state: String,
    pub expired: bool,
    /// This poll came sooner than the interval allows; the interval has grown by 5 s.
    pub slow_down: bool,
    pub interval_ms: i32,
}

/// Records a poll of the client's code and says whether it came too soon, in one statement, so
/// concurrent polls are measured one after the other. Times are the database's, in
/// milliseconds; a poll up to `jitter_ms` early still counts as on time.
pub async fn poll(
    db: impl PgExecutor<'_>,
    device_hash: &[u8],
    client_id: &str,
    jitter_ms: i32,
) -> Result<Option<Polled>, sqlx::Error> {
    sqlx::query_as(
        "WITH prev AS (
             SELECT device_hash, last_poll_at, interval_ms,
                    last_poll_at IS NOT NULL
                      AND clock_timestamp() - last_poll_at < make_interval(secs => (interval_ms - $3) / 1000.0)
                      AS too_soon
             FROM device_codes WHERE device_hash = $1 AND client_id = $2
             FOR UPDATE
         )
         UPDATE device_codes d
         SET last_poll_at = clock_timestamp(),
             interval_ms = d.interval_ms + CASE WHEN prev.too_soon THEN 5000 ELSE 0 END
         FROM prev WHERE d.device_hash = prev.device_hash
         RETURNING d.state, d.expires_at <= now() AS expired, prev.too_soon AS slow_down, d.interval_ms",
    )
    .bind(device_hash)
    .bind(client_id)
    .bind(jitter_ms)
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct Consumed {
    pub user_id: UserId,
    pub approved_by: SessionId,
    /// `None` once the approving session has ended.
    pub approver_expires_at: Option<DateTime<Utc>>,
    pub scope: String,
    pub auth_time: DateTime<Utc>,
}

/// Takes an approved, unexpired code: of two polls, one gets it.
pub async fn consume(
    db: impl PgExecutor<'_>,
    device_hash: &[u8],
) -> Result<Option<Consumed>, sqlx::Error> {
    sqlx::query_as(
        "WITH taken AS (
             UPDATE device_codes SET state = 'consumed'
             WHERE device_hash = $1 AND state = 'approved' AND expires_at > now()
             RETURNING user_id, approved_by, scope, auth_time
         )
         SELECT t.user_id, t.approved_by, t.scope, t.auth_time, s.expires_at AS approver_expires_at
         FROM taken t LEFT JOIN sessions s
              ON s.id = t.approved_by AND s.revoked_at IS NULL AND s.expires_at > now()",
    )
    .bind(device_hash)
    .fetch_optional(db)
    .await
}

pub async fn set_session(
    db: impl PgExecutor<'_>,
    device_hash: &[u8],
    session_id: SessionId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE device_codes SET session_id = $2 WHERE device_hash = $1")
        .bind(device_hash)
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct Pending {
    pub client_name: String,
    pub requester_ip: String,
    pub requester_user_agent: String,
    pub created_at: DateTime<Utc>,
    pub seconds_left: f64,
}

/// The unexpired code waiting for an answer whose user code has this hash.
pub async fn find_pending(
    db: impl PgExecutor<'_>,
    user_code_hash: &[u8],
) -> Result<Option<Pending>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.name AS client_name, d.requester_ip, d.requester_user_agent, d.created_at,
                extract(epoch FROM d.expires_at - now())::float8 AS seconds_left
         FROM device_codes d JOIN oauth_clients c ON c.id = d.client_id
         WHERE d.user_code_hash = $1 AND d.state = 'pending' AND d.expires_at > now()",
    )
    .bind(user_code_hash)
    .fetch_optional(db)
    .await
}

/// Answers a pending, unexpired code; `false` when there is none (or it was answered already).
pub async fn decide(
    db: impl PgExecutor<'_>,
    user_code_hash: &[u8],
    approve: bool,
    user_id: UserId,
    session_id: SessionId,
    auth_time: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE device_codes
         SET state = CASE WHEN $2 THEN 'approved' ELSE 'denied' END,
             user_id = $3, approved_by = $4, auth_time = $5
         WHERE user_code_hash = $1 AND state = 'pending' AND expires_at > now()",
    )
    .bind(user_code_hash)
    .bind(approve)
    .bind(user_id)
    .bind(session_id)
    .bind(auth_time)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Codes are of no use a while after they expire.
pub async fn delete_expired_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM device_codes WHERE expires_at < $1")
        .bind(before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
