//! The `logout_deliveries` outbox: back-channel logout calls still to be made. Rows are added by
//! the sessions trigger (see the OpenID provider migration), taken here.

use std::time::Duration;

use sqlx::{FromRow, PgExecutor};

use crate::proto::{SessionId, UserId};

#[derive(Debug, Clone, FromRow)]
pub struct Delivery {
    pub id: i64,
    pub client_id: String,
    pub uri: String,
    pub user_id: UserId,
    pub session_id: SessionId,
    /// Including the one about to be made.
    pub attempts: i32,
}

/// Takes one due delivery and leases it: no other instance takes it for `lease`, and if this one
/// dies, it comes due again after that.
pub async fn take_due(
    db: impl PgExecutor<'_>,
    lease: Duration,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE logout_deliveries
         SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $1)
         WHERE id = (SELECT id FROM logout_deliveries WHERE next_attempt_at <= now()
                     ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, client_id, uri, user_id, session_id, attempts",
    )
    .bind(lease.as_secs_f64())
    .fetch_optional(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM logout_deliveries WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn retry_later(
    db: impl PgExecutor<'_>,
    id: i64,
    after: Duration,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE logout_deliveries SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(after.as_secs_f64())
    .bind(error.chars().take(500).collect::<String>())
    .execute(db)
    .await?;
    Ok(())
}

/// Seconds until the next delivery comes due (0 or less: one is due now); `None` when the outbox
/// is empty.
pub async fn seconds_until_next(db: impl PgExecutor<'_>) -> Result<Option<f64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 FROM logout_deliveries",
    )
    .fetch_one(db)
    .await
}
