//! Database access: plain SQL over sqlx, one module per table. No business rules live here beyond
//! the conditions that must be checked atomically inside a statement.

pub mod audit;
pub mod device_codes;
pub mod logout_deliveries;
pub mod notices;
pub mod oauth_clients;
pub mod oauth_codes;
pub mod oauth_consents;
pub mod passkeys;
pub mod qr_logins;
pub mod rate_limits;
pub mod sessions;
pub mod signing_keys;
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

/// Listens on `channel` for as long as the server runs, handing each notification's payload to
/// `wake`. If the connection drops, sqlx reconnects; notifications sent meanwhile are lost, so
/// `wake_all` runs after every (re)connect and every waiter reads its state again.
pub async fn listen_forever(pool: PgPool, channel: &str, wake: impl Fn(&str), wake_all: impl Fn()) {
    use sqlx::postgres::PgListener;
    use std::time::Duration;
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, channel, "cannot open the LISTEN connection; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(channel).await {
            tracing::error!(%error, channel, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        wake_all();
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => wake(notification.payload()),
                Ok(None) => {
                    tracing::warn!(channel, "LISTEN connection lost; reconnecting");
                    wake_all();
                }
                Err(error) => {
                    tracing::error!(%error, channel, "LISTEN connection failed; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}
