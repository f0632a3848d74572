//! The append-only `audit_events` table.

use sqlx::PgExecutor;

use crate::proto::{SessionId, UserId};

/// One security event. `detail` must never hold a secret.
#[derive(Debug, Default)]
pub struct AuditEvent<'a> {
    pub event: &'a str,
    pub user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub detail: &'a str,
}

pub async fn record(db: impl PgExecutor<'_>, event: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (event, user_id, session_id, ip, user_agent, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.event)
    .bind(event.user_id)
    .bind(event.session_id)
    .bind(event.ip)
    .bind(event.user_agent)
    .bind(event.detail)
    .execute(db)
    .await?;
    Ok(())
}

/// Event names recorded for a user, newest first (for tests and investigations).
pub async fn events_for_user(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT event FROM audit_events WHERE user_id = $1 ORDER BY id DESC")
        .bind(user_id)
        .fetch_all(db)
        .await
}

/// An audit row as the activity page needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub event: String,
    pub session_id: Option<SessionId>,
    pub ip: String,
    pub user_agent: String,
    pub detail: String,
}

/// Up to `limit` of the user's events named in `events`, newest first, older than id `before`.
pub async fn page_for_user(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    events: &[&str],
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, event, session_id, ip, user_agent, detail FROM audit_events
         WHERE user_id = $1 AND event = ANY($2) AND ($3::bigint IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(events)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Forgets the user agents of a deleted account's events and every detail, which could name it
/// (failed sign-ins record the username tried). When, what and from which address remain.
pub async fn scrub_user(db: impl PgExecutor<'_>, user_id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE audit_events SET user_agent = '', detail = '' WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes up to `limit` events older than `before`; the caller repeats while it gets `limit`
/// back, so a large backlog goes in small transactions that never hold the table long.
pub async fn delete_before(
    db: impl PgExecutor<'_>,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM audit_events WHERE id IN (
             SELECT id FROM audit_events WHERE at < $1 ORDER BY id LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
