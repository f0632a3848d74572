//! The `users` table.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::proto::{Handle, UserId};

/// A user row. Not `Serialize`: the password hash must never be sent anywhere by accident.
#[derive(Debug, FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub username: Handle,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, username, display_name, password_hash, created_at";

pub async fn insert(
    db: impl PgExecutor<'_>,
    handle: &Handle,
    display_name: Option<&str>,
    password_hash: &str,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, username, display_name, password_hash) VALUES ($1, $2, $3, $4)
         RETURNING {COLUMNS}"
    ))
    .bind(UserId::random())
    .bind(handle)
    .bind(display_name)
    .bind(password_hash)
    .fetch_one(db)
    .await
}

/// Handles are stored in their one normalized form, so this is a plain equality on the unique key.
pub async fn find_by_handle(
    db: impl PgExecutor<'_>,
    handle: &Handle,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = $1"))
        .bind(handle)
        .fetch_optional(db)
        .await
}

pub async fn set_display_name(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    display_name: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET display_name = $2 WHERE id = $1")
        .bind(user_id)
        .bind(display_name)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn find_by_id(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(db)
        .await
}

pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(password_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the user; their sessions, spent refresh tokens and notices go with them (foreign
/// keys). Returns whether there was such a user.
pub async fn delete(db: impl PgExecutor<'_>, user_id: UserId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
