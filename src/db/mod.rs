//! Database access: plain SQL over sqlx, one module per table. No business rules live here beyond
//! the conditions that must be checked atomically inside a statement.

pub mod audit;
pub mod notice_events;
pub mod notices;
pub mod qr_events;
pub mod qr_logins;
pub mod rate_limits;
pub mod sessions;
pub mod users;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects and applies any pending migrations. A request waits at most `acquire_timeout` for a
/// connection; after that the database counts as unreachable (503), instead of holding the
/// request (and the person) for sqlx's default 30 seconds.
pub async fn connect(
    database_url: &str,
    max_connections: u32,
    acquire_timeout: std::time::Duration,
) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(database_url)?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// True when the error is a unique-constraint violation (SQLSTATE 23505).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some("23505"))
}
