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
