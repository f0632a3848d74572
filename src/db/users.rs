//! The `users` table.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A user row. Not `Serialize`: the password hash must never be sent anywhere by accident.
#[derive(Debug, FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    username: &str,
    password_hash: &str,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3)
         RETURNING id, username, password_hash, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(username)
    .bind(password_hash)
    .fetch_one(db)
    .await
}

/// Case-insensitive, served by the `lower(username)` unique index.
pub async fn find_by_username(
    db: impl PgExecutor<'_>,
    username: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, password_hash, created_at FROM users WHERE lower(username) = lower($1)")
        .bind(username)
        .fetch_optional(db)
        .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, password_hash, created_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}
