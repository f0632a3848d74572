//! The `signing_keys` table: ES256 keys, the newest current, superseded ones kept a while.

use std::time::Duration;

use sqlx::{FromRow, PgPool};

#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub private_der: Vec<u8>,
    pub public_x: String,
    pub public_y: String,
}

/// The current key first, then those superseded less than `keep` ago, newest first.
pub async fn published(db: &PgPool, keep: Duration) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kid, private_der, public_x, public_y FROM signing_keys
         WHERE superseded_at IS NULL OR superseded_at > now() - make_interval(secs => $1)
         ORDER BY superseded_at IS NOT NULL, created_at DESC",
    )
    .bind(keep.as_secs_f64())
    .fetch_all(db)
    .await
}

/// Stores `key` as the current key; the one current until now is superseded from this moment.
pub async fn insert_current(db: &PgPool, key: &KeyRow) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    // One rotation at a time, so there is never more than one current key.
    sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE signing_keys SET superseded_at = now() WHERE superseded_at IS NULL")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, private_der, public_x, public_y) VALUES ($1, $2, $3, $4)",
    )
    .bind(&key.kid)
    .bind(&key.private_der)
    .bind(&key.public_x)
    .bind(&key.public_y)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Forgets keys superseded so long ago that nothing they signed can still be valid.
pub async fn delete_superseded_before(db: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM signing_keys WHERE superseded_at < now() - make_interval(secs => $1)",
    )
    .bind(keep.as_secs_f64())
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
