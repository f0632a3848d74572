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
    match over_limits(db, hits).await?.into_iter().flatten().max() {
        Some(seconds) => Err(AppError::rate_limited(seconds)),
        None => Ok(()),
    }
}

/// Counts like [`count`], and tells for each hit (in order) whether it is now over its limit:
/// `Some(seconds until a retry may pass)` when it is.
pub async fn over_limits(db: &PgPool, hits: &[(&Limit, &str)]) -> AppResult<Vec<Option<u64>>> {
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
    let over = hits.iter().zip(&keys).map(|((limit, _), key)| {
        counts
            .iter()
            .find(|c| c.key == *key && c.count > limit.max as i32)
            .map(|c| c.seconds_left.ceil().max(1.0) as u64)
    });
    Ok(over.collect())
}

/// Forgets the counter of `key` under `limit`.
pub async fn forget(db: &PgPool, limit: &Limit, key: &str) -> AppResult<()> {
    Ok(rate_limits::forget(db, &limit.key(key)).await?)
}

/// Adds one to `key`'s counter under `limit` and returns the count over its sliding window (a
/// tally, not a limit: e.g. an account's failed sign-ins in the last hour).
pub async fn tally(db: &PgPool, limit: &Limit, key: &str) -> AppResult<i64> {
    let key = limit.key(key);
    let attempt = Attempt {
        key: &key,
        window_secs: limit.window.as_secs_f64(),
    };
    let counts = rate_limits::hit(db, &[attempt]).await?;
    Ok(counts.first().map_or(1, |c| i64::from(c.count)))
}
