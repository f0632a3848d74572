//! Abuse limits, counted in PostgreSQL (`db::rate_limits`) so that any number of server instances
//! enforce one limit, and atomically, so concurrent attempts cannot all slip in before the count.
//! Keys are built only from checked values (a handle, a client network), never raw input, so
//! their size is bounded.

use std::time::Duration;

use sqlx::PgPool;

use crate::db::rate_limits::{self, Attempt};
use crate::error::{AppError, AppResult};

/// A limit: at most `max` events per `window` for each key.
pub struct Limit {
    /// Prefixes the key, so different limits never share a counter.
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

impl Limit {
    pub fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.name)
    }
}

/// Counts one event against each `(limit, key)` in a single statement; fails with `rate_limited`
/// (retry after the longest wait among the exceeded limits) if any is now over its maximum.
pub async fn count(db: &PgPool, hits: &[(&Limit, &str)]) -> AppResult<()> {
    let keys: Vec<String> = hits.iter().map(|(limit, key)| limit.key(key)).collect();
    let attempts: Vec<Attempt> = hits
        .iter()
        .zip(&keys)
        .map(|((limit, _), key)| Attempt {
            key,
            window_secs: limit.window.as_secs_f64(),
        })
        .collect();
    let counts = rate_limits::hit(db, &attempts).await?;
    let wait = counts
        .iter()
        .filter(|c| {
            hits.iter()
                .zip(&keys)
                .any(|((limit, _), key)| *key == c.key && c.count > limit.max as i32)
        })
        .map(|c| c.seconds_left.ceil().max(1.0) as u64)
        .max();
    match wait {
        Some(seconds) => Err(AppError::rate_limited(seconds)),
        None => Ok(()),
    }
}

/// Forgets the counter of `key` under `limit`.
pub async fn forget(db: &PgPool, limit: &Limit, key: &str) -> AppResult<()> {
    Ok(rate_limits::forget(db, &limit.key(key)).await?)
}
