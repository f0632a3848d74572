//! The `sessions` table: one row per signed-in device, checked on every authenticated request,
//! and `spent_refresh_tokens`, every refresh token a session has used up.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::proto::{Handle, SessionId, SignInMethod, UserId};

pub struct NewSession<'a> {
    pub id: SessionId,
    pub user_id: UserId,
    pub method: SignInMethod,
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub expires_at: DateTime<Utc>,
    pub refresh_hash: &'a [u8],
    /// For a QR or app sign-in: the session that approved it.
    pub approved_by: Option<SessionId>,
    /// For an app's sign-in: the app, the scope it was allowed, and when the person signed in.
    pub app: Option<(&'a str, &'a str, DateTime<Utc>)>,
}

pub async fn insert(db: impl PgExecutor<'_>, session: NewSession<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, method, user_agent, ip, expires_at, refresh_hash, approved_by,
                               client_id, scope, auth_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(session.id)
    .bind(session.user_id)
    .bind(session.method)
    .bind(session.user_agent)
    .bind(session.ip)
    .bind(session.expires_at)
    .bind(session.refresh_hash)
    .bind(session.approved_by)
    .bind(session.app.map(|(client_id, _, _)| client_id))
    .bind(session.app.map(|(_, scope, _)| scope))
    .bind(session.app.map(|(_, _, auth_time)| auth_time))
    .execute(db)
    .await?;
    Ok(())
}

/// A live session and its user, as seen by an authenticated request.
#[derive(Debug, Clone, FromRow)]
pub struct LiveSession {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub username: Handle,
    pub display_name: Option<String>,
    pub user_created_at: DateTime<Utc>,
    pub method: SignInMethod,
    pub expires_at: DateTime<Utc>,
    /// When the person signed in (the session began): `auth_time` for the apps it approves.
    pub signed_in_at: DateTime<Utc>,
    pub seen_long_ago: bool,
}

/// The per-request check: the session exists, belongs to `user_id`, is not revoked and has not
/// reached its end. A plain read, one round trip; `seen_long_ago` tells the caller that
/// `last_seen_at` is over a minute old and worth a `touch` (so writes happen once a minute per
/// session, not once per request).
/// `client_id`: `None` for Sesame's own sessions, the app's id for an app session; a session of
/// the other kind is not found.
pub async fn find_live(
    db: impl PgExecutor<'_>,
    session_id: SessionId,
    user_id: UserId,
    client_id: Option<&str>,
) -> Result<Option<LiveSession>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id AS session_id, u.id AS user_id, u.username, u.display_name,
                u.created_at AS user_created_at, s.method, s.expires_at,
                coalesce(s.auth_time, s.created_at) AS signed_in_at,
                s.last_seen_at < now() - interval '60 seconds' AS seen_long_ago
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
               AND s.client_id IS NOT DISTINCT FROM $3",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(db)
    .await
}

/// Records that the session was used just now (at most once a minute, whoever races).
pub async fn touch(db: impl PgExecutor<'_>, session_id: SessionId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET last_seen_at = now()
         WHERE id = $1 AND last_seen_at < now() - interval '60 seconds'",
    )
    .bind(session_id)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct Rotated {
    pub session_id: SessionId,
    pub user_id: UserId,
}

/// Swaps the current refresh token for a new one and remembers the old one as spent, in one
/// statement: of two requests presenting the same token, exactly one gets a row back.
/// `client_id` as for `find_live`: Sesame's own refresh never renews an app session, nor one
/// app another's.
pub async fn rotate_refresh(
    db: impl PgExecutor<'_>,
    presented_hash: &[u8],
    new_hash: &[u8],
    client_id: Option<&str>,
) -> Result<Option<Rotated>, sqlx::Error> {
    sqlx::query_as(
        "WITH rotated AS (
             UPDATE sessions SET refresh_hash = $2, refreshed_at = now(), last_seen_at = now()
             WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > now()
                   AND client_id IS NOT DISTINCT FROM $3
             RETURNING id, user_id
         ), spent AS (
             INSERT INTO spent_refresh_tokens (hash, session_id) SELECT $1, id FROM rotated
         )
         SELECT id AS session_id, user_id FROM rotated",
    )
    .bind(presented_hash)
    .bind(new_hash)
    .bind(client_id)
    .fetch_optional(db)
    .await
}

/// What is known about a refresh token that could not be rotated.
#[derive(Debug, Clone, FromRow)]
pub struct RefreshTrace {
    pub session_id: SessionId,
    pub user_id: UserId,
    /// Seconds since the token was spent; `None` when it is the session's current token.
    pub seconds_since_spent: Option<f64>,
    pub live: bool,
}

pub async fn trace_refresh(
    db: impl PgExecutor<'_>,
    presented_hash: &[u8],
    client_id: Option<&str>,
) -> Result<Option<RefreshTrace>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id AS session_id, s.user_id, NULL::float8 AS seconds_since_spent,
                (s.revoked_at IS NULL AND s.expires_at > now()) AS live
         FROM sessions s WHERE s.refresh_hash = $1 AND s.client_id IS NOT DISTINCT FROM $2
         UNION ALL
         SELECT s.id, s.user_id, extract(epoch FROM now() - sp.spent_at)::float8,
                (s.revoked_at IS NULL AND s.expires_at > now())
         FROM spent_refresh_tokens sp JOIN sessions s ON s.id = sp.session_id
         WHERE sp.hash = $1 AND s.client_id IS NOT DISTINCT FROM $2
         LIMIT 1",
    )
    .bind(presented_hash)
    .bind(client_id)
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: SessionId,
    pub method: SignInMethod,
    pub user_agent: String,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The user agent of the session that approved this one (QR and app sign-ins).
    pub approver_user_agent: Option<String>,
    /// For an app session: the app's name.
    pub app: Option<String>,
}

/// The user's live sessions, newest first.
pub async fn list_live(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.method, s.user_agent, s.ip, s.created_at, s.last_seen_at, s.expires_at,
                a.user_agent AS approver_user_agent, c.name AS app
         FROM sessions s LEFT JOIN sessions a ON a.id = s.approved_by
              LEFT JOIN oauth_clients c ON c.id = s.client_id
         WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
         ORDER BY s.created_at DESC",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Revokes one of the user's sessions; 0 when it is not theirs or already ended.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    session_id: SessionId,
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
    user_id: UserId,
    keep: SessionId,
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

/// A live app session, with what its tokens say.
#[derive(Debug, Clone, FromRow)]
pub struct AppSession {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub client_id: String,
    pub scope: String,
    pub auth_time: DateTime<Utc>,
    /// How the person signed in to the session that approved the app (the ID token's `amr`).
    pub approver_method: SignInMethod,
    pub username: Handle,
    pub display_name: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
}

const APP_SESSION: &str = "SELECT s.user_id, s.id AS session_id, s.client_id, s.scope, s.auth_time,
            coalesce(a.method, 'password') AS approver_method, u.username, u.display_name,
            s.expires_at, s.refreshed_at
     FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN sessions a ON a.id = s.approved_by
     WHERE s.client_id IS NOT NULL AND s.revoked_at IS NULL AND s.expires_at > now()";

pub async fn app_session(
    db: impl PgExecutor<'_>,
    session_id: SessionId,
) -> Result<Option<AppSession>, sqlx::Error> {
    sqlx::query_as(&format!("{APP_SESSION} AND s.id = $1"))
        .bind(session_id)
        .fetch_optional(db)
        .await
}

/// The live app session whose current refresh token has this hash.
pub async fn app_session_by_refresh(
    db: impl PgExecutor<'_>,
    refresh_hash: &[u8],
) -> Result<Option<AppSession>, sqlx::Error> {
    sqlx::query_as(&format!("{APP_SESSION} AND s.refresh_hash = $1"))
        .bind(refresh_hash)
        .fetch_optional(db)
        .await
}

/// Ends a session whoever it belongs to (a replayed code's session, a revoked app token's).
pub async fn revoke_any(
    db: impl PgExecutor<'_>,
    session_id: SessionId,
) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
            .bind(session_id)
            .execute(db)
            .await?;
    Ok(done.rows_affected())
}

/// Ends the user's live sessions of one app (consent withdrawn).
pub async fn revoke_app(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    client_id: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = now()
         WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(user_id)
    .bind(client_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets all but the `keep` most recently spent refresh tokens of each session, at most `limit`
/// rows at a time. Reuse detection needs a spent token only while a copy of it could still be
/// presented, and a chain of hundreds of renewals has long since made the old ones worthless.
pub async fn trim_spent_refresh_tokens(
    db: impl PgExecutor<'_>,
    keep: i64,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM spent_refresh_tokens WHERE hash IN (
             SELECT hash FROM (
                 SELECT hash, row_number() OVER (PARTITION BY session_id ORDER BY spent_at DESC) AS n
                 FROM spent_refresh_tokens
             ) ranked WHERE n > $1 LIMIT $2)",
    )
    .bind(keep)
    .bind(limit)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Ends the sessions `approver` approved (by QR), and those they approved in turn.
pub async fn revoke_approved_by(
    db: impl PgExecutor<'_>,
    approver: SessionId,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH RECURSIVE minted AS (
             SELECT id FROM sessions WHERE approved_by = $1
             UNION
             SELECT s.id FROM sessions s JOIN minted m ON s.approved_by = m.id
         )
         UPDATE sessions SET revoked_at = now()
         WHERE id IN (SELECT id FROM minted) AND revoked_at IS NULL",
    )
    .bind(approver)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
