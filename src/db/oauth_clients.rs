//! The `oauth_clients` table: the apps that sign people in through Sesame.

use sqlx::{FromRow, PgExecutor};

#[derive(Debug, Clone, FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    /// `None`: a public client, which has no secret.
    pub secret_hash: Option<Vec<u8>>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
}

/// Adds a client; `false` when the id is taken.
pub async fn insert(db: impl PgExecutor<'_>, client: &ClientRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO oauth_clients (id, name, secret_hash, redirect_uris, grant_types, backchannel_logout_uri)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&client.id)
    .bind(&client.name)
    .bind(&client.secret_hash)
    .bind(&client.redirect_uris)
    .bind(&client.grant_types)
    .bind(&client.backchannel_logout_uri)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find(db: impl PgExecutor<'_>, id: &str) -> Result<Option<ClientRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, secret_hash, redirect_uris, grant_types, backchannel_logout_uri
         FROM oauth_clients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<ClientRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, secret_hash, redirect_uris, grant_types, backchannel_logout_uri
         FROM oauth_clients ORDER BY id",
    )
    .fetch_all(db)
    .await
}

/// Removes a client, and with it its codes, consents and sessions; `false` when unknown.
pub async fn delete(db: impl PgExecutor<'_>, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a confidential client's secret; `false` when unknown or public.
pub async fn set_secret_hash(
    db: impl PgExecutor<'_>,
    id: &str,
    secret_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oauth_clients SET secret_hash = $2 WHERE id = $1 AND secret_hash IS NOT NULL",
    )
    .bind(id)
    .bind(secret_hash)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
