//! The `oauth_codes` table: authorization codes, stored hashed, used once.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::proto::{SessionId, UserId};

pub struct NewCode<'a> {
    pub hash: Vec<u8>,
    pub client_id: &'a str,
    pub user_id: UserId,
    pub approved_by: SessionId,
    pub redirect_uri: &'a str,
    pub scope: String,
    pub nonce: Option<&'a str>,
    pub code_challenge: &'a str,
    pub auth_time: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(db: impl PgExecutor<'_>, code: NewCode<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth_codes (hash, client_id, user_id, approved_by, redirect_uri, scope, nonce,
                                  code_challenge, auth_time, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&code.hash)
    .bind(code.client_id)
    .bind(code.user_id)
    .bind(code.approved_by)
    .bind(code.redirect_uri)
    .bind(&code.scope)
    .bind(code.nonce)
    .bind(code.code_challenge)
    .bind(code.auth_time)
    .bind(code.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A code taken for exchange, with the approving session's end (`None` once it has ended).
#[derive(Debug, Clone, FromRow)]
pub struct TakenCode {
    pub user_id: UserId,
    pub approved_by: SessionId,
    pub approver_expires_at: Option<DateTime<Utc>>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: DateTime<Utc>,
    pub expired: bool,
}

/// Marks the client's code used, in one statement: of two exchanges of one code, exactly one
/// gets it. `None` when there is no such unused code of this client.
pub async fn take(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    client_id: &str,
) -> Result<Option<TakenCode>, sqlx::Error> {
    sqlx::query_as(
        "WITH taken AS (
             UPDATE oauth_codes SET used_at = now()
             WHERE hash = $1 AND client_id = $2 AND used_at IS NULL
             RETURNING user_id, approved_by, redirect_uri, scope, nonce, code_challenge, auth_time,
                       expires_at <= now() AS expired
         )
         SELECT t.*, s.expires_at AS approver_expires_at
         FROM taken t LEFT JOIN sessions s
              ON s.id = t.approved_by AND s.revoked_at IS NULL AND s.expires_at > now()",
    )
    .bind(hash)
    .bind(client_id)
    .fetch_optional(db)
    .await
}

/// Remembers the app session a code's exchange created.
pub async fn set_issued_session(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    session_id: SessionId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE oauth_codes SET issued_session_id = $2 WHERE hash = $1")
        .bind(hash)
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(())
}

/// For a code presented again: the app session its first use created, so it can be ended
/// (the code may have been stolen, RFC 6749 §4.1.2). `None` when the code was never used.
pub async fn issued_by_used_code(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    client_id: &str,
) -> Result<Option<Option<SessionId>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT issued_session_id FROM oauth_codes
         WHERE hash = $1 AND client_id = $2 AND used_at IS NOT NULL",
    )
    .bind(hash)
    .bind(client_id)
    .fetch_optional(db)
    .await
}

/// Codes are worthless a while after they expire (replays of them are refused either way).
pub async fn delete_expired_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
        .bind(before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
