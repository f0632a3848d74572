//! The `sessions` table: one row per signed-in device, checked on every authenticated request.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use crate::api::SignInMethod;

pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub method: SignInMethod,
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub expires_at: DateTime<Utc>,
    pub refresh_hash: &'a [u8],
}

pub async fn insert(db: impl PgExecutor<'_>, session: NewSession<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, method, user_agent, ip, expires_at, refresh_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(session.id)
    .bind(session.user_id)
    .bind(session.method)
    .bind(session.user_agent)
    .bind(session.ip)
    .bind(session.expires_at)
    .bind(session.refresh_hash)
    .execute(db)
    .await?;
    Ok(())
}

/// A live session and its user, as seen by an authenticated request.
#[derive(Debug, Clone, FromRow)]
pub struct LiveSession {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub user_created_at: DateTime<Utc>,
    pub method: SignInMethod,
}

/// The per-request check: the session exists, belongs to `user_id`, is not revoked and has not
/// reached its end. One round trip; `last_seen_at` is bumped at most once a minute in the same
/// statement, so most requests only read.
pub async fn find_live(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
) -> Result<Option<LiveSession>, sqlx::Error> {
    sqlx::query_as(
        "WITH touched AS (
             UPDATE sessions SET last_seen_at = now()
             WHERE id = $1 AND last_seen_at < now() - interval '60 seconds'
               AND revoked_at IS NULL AND expires_at > now()
         )
         SELECT s.id AS session_id, u.id AS user_id, u.username, u.created_at AS user_created_at, s.method
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct Rotated {
    pub session_id: Uuid,
    pub user_id: Uuid,
}

/// Swaps the current refresh token for a new one, atomically: of two requests presenting the
/// same token, exactly one gets a row back.
pub async fn rotate_refresh(
    db: impl PgExecutor<'_>,
    presented_hash: &[u8],
    new_hash: &[u8],
) -> Result<Option<Rotated>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE sessions
         SET refresh_hash = $2, previous_refresh_hash = refresh_hash, refreshed_at = now(), last_seen_at = now()
         WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > now()
         RETURNING id AS session_id, user_id",
    )
    .bind(presented_hash)
    .bind(new_hash)
    .fetch_optional(db)
    .await
}

/// What is known about a refresh token that could not be rotated.
#[derive(Debug, Clone, FromRow)]
pub struct RefreshTrace {
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// True when the token is the one rotated out most recently (a replay or a race).
    pub rotated_out: bool,
    pub seconds_since_rotation: f64,
    pub live: bool,
}

pub async fn trace_refresh(
    db: impl PgExecutor<'_>,
    presented_hash: &[u8],
) -> Result<Option<RefreshTrace>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id AS session_id, user_id,
                coalesce(previous_refresh_hash = $1, false) AS rotated_out,
                extract(epoch FROM now() - refreshed_at)::float8 AS seconds_since_rotation,
                (revoked_at IS NULL AND expires_at > now()) AS live
         FROM sessions
         WHERE refresh_hash = $1 OR previous_refresh_hash = $1
         LIMIT 1",
    )
    .bind(presented_hash)
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub method: SignInMethod,
    pub user_agent: String,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The user's live sessions, newest first.
pub async fn list_live(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, method, user_agent, ip, created_at, last_seen_at, expires_at FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
         ORDER BY created_at DESC",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Revokes one of the user's sessions; 0 when it is not theirs or already ended.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every live session of the user except `keep`.
pub async fn revoke_others(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Uuid,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = now()
         WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(user_id)
    .bind(keep)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes sessions that were revoked or reached their end before `before`.
pub async fn delete_ended_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
        .bind(before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
