//! The `oauth_consents` table: which apps each person allowed, for which scopes.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::proto::UserId;

/// The scopes the person allowed the app, space-separated; `None` if never or withdrawn.
pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    client_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT scope FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(db)
        .await
}

/// Remembers the consent, adding `scopes` to any the app already had.
pub async fn grant(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    client_id: &str,
    scopes: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth_consents (user_id, client_id, scope) VALUES ($1, $2, array_to_string($3, ' '))
         ON CONFLICT (user_id, client_id) DO UPDATE SET granted_at = now(), scope = (
             SELECT string_agg(DISTINCT s, ' ' ORDER BY s)
             FROM unnest(string_to_array(oauth_consents.scope, ' ') || $3) AS s
         )",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(scopes)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct ConsentRow {
    pub client_id: String,
    pub name: String,
    pub scope: String,
    pub granted_at: DateTime<Utc>,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<ConsentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.client_id, a.name, c.scope, c.granted_at
         FROM oauth_consents c JOIN oauth_clients a ON a.id = c.client_id
         WHERE c.user_id = $1 ORDER BY a.name",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Forgets the consent; `false` when there was none.
pub async fn withdraw(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    client_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
        .bind(user_id)
        .bind(client_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
