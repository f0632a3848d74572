//! `rate_limits`: window counters shared by every server instance. A counter is read as a sliding
//! window: this window's count plus the previous window's, weighted by how much of it the sliding
//! window still covers. Plain fixed windows reset at every boundary: an attacker could spend the
//! whole budget twice in a moment across one, and a limit could miss attempts made a second apart.

use sqlx::PgExecutor;

/// One attempt to count: the counter's key and its window length.
pub struct Attempt<'a> {
    pub key: &'a str,
    pub window_secs: f64,
}

/// A counter after this attempt was added.
#[derive(Debug, sqlx::FromRow)]
pub struct Count {
    pub key: String,
    /// Attempts in the last window's length (sliding).
    pub count: i32,
    /// Until the current fixed window ends (the earliest a retry may pass).
    pub seconds_left: f64,
}

/// Adds one to each counter in its current window, creating it as needed, and returns the new
/// sliding counts: one statement for any number of counters, and atomic, so 30 concurrent
/// attempts are counted 1 to 30 and none of them slips past the limit.
pub async fn hit(
    db: impl PgExecutor<'_>,
    attempts: &[Attempt<'_>],
) -> Result<Vec<Count>, sqlx::Error> {
    let keys: Vec<&str> = attempts.iter().map(|a| a.key).collect();
    let windows: Vec<f64> = attempts.iter().map(|a| a.window_secs).collect();
    sqlx::query_as(
        "WITH attempt AS (
             SELECT key, to_timestamp(floor(extract(epoch FROM now()) / w) * w) AS window_start, w
             FROM unnest($1::text[], $2::float8[]) AS t(key, w)
         ),
         counted AS (
             INSERT INTO rate_limits (key, window_start, window_end, count)
             SELECT key, window_start, window_start + make_interval(secs => w), 1 FROM attempt
             ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
             RETURNING key, window_start, window_end, count
         )
         SELECT c.key,
                c.count + floor(coalesce(p.count, 0)
                    * (1 - extract(epoch FROM now() - c.window_start) / a.w))::int AS count,
                extract(epoch FROM c.window_end - now())::float8 AS seconds_left
         FROM counted c
         JOIN attempt a ON a.key = c.key
         LEFT JOIN rate_limits p
                ON p.key = c.key AND p.window_start = c.window_start - make_interval(secs => a.w)",
    )
    .bind(&keys)
    .bind(&windows)
    .fetch_all(db)
    .await
}

/// Forgets a counter, e.g. the failures of an account once its owner signs in.
pub async fn forget(db: impl PgExecutor<'_>, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM rate_limits WHERE key = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes counters no sliding window covers any more: ended a whole window ago (the
/// housekeeping task).
pub async fn delete_ended(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM rate_limits WHERE window_end + (window_end - window_start) < now()",
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets every counter whose key starts with `prefix` (a deleted account's failure counters,
/// which hold its name).
pub async fn forget_prefix(db: impl PgExecutor<'_>, prefix: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM rate_limits WHERE left(key, length($1)) = $1")
        .bind(prefix)
        .execute(db)
        .await?;
    Ok(())
}
