//! The `notices` table: one row per sign-in (and one per few refused passwords), read by the
//! user's other sessions through a cursor (the notice id). The migration's triggers number a
//! user's rows in commit order and wake the waiting polls through `NOTIFY notice`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::proto::{NoticeKind, SessionId, SignInMethod, UserId};

pub struct NewNotice<'a> {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub method: SignInMethod,
    pub user_agent: &'a str,
    pub ip: &'a str,
}

pub async fn insert(db: impl PgExecutor<'_>, notice: NewNotice<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notices (user_id, session_id, method, user_agent, ip)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(notice.user_id)
    .bind(notice.session_id)
    .bind(notice.method)
    .bind(notice.user_agent)
    .bind(notice.ip)
    .execute(db)
    .await?;
    Ok(())
}

/// Tells the user's sessions of `attempts` refused passwords in the last hour (the latest from
/// `user_agent` at `ip`), unless a notice of at least half as many went out within the hour: so
/// notices go at 5, 10, 20, 40, … failures, a handful for a long attack. `true` when written.
pub async fn insert_failed_attempts(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    attempts: i64,
    user_agent: &str,
    ip: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO notices (user_id, kind, failed_attempts, method, user_agent, ip)
         SELECT $1, 'failed_sign_ins', $2, 'password', $3, $4
         WHERE $2 >= 5 AND NOT EXISTS (
             SELECT 1 FROM notices
             WHERE user_id = $1 AND kind = 'failed_sign_ins'
               AND at > now() - interval '1 hour' AND failed_attempts * 2 > $2
         )",
    )
    .bind(user_id)
    .bind(attempts as i32)
    .bind(user_agent)
    .bind(ip)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The cursor that means "from now on" for this user: their newest notice's id, or 0. A sign-in
/// still committing holds the user's notice lock and has a higher id, so it is not skipped.
pub async fn latest_id(db: impl PgExecutor<'_>, user_id: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM notices WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

#[derive(Debug, Clone, FromRow)]
pub struct NoticeRow {
    pub id: i64,
    pub kind: NoticeKind,
    pub session_id: Option<SessionId>,
    pub failed_attempts: Option<i32>,
    pub method: SignInMethod,
    pub user_agent: String,
    pub ip: String,
    pub at: DateTime<Utc>,
    /// For an app's sign-in: the app's name.
    pub app: Option<String>,
}

/// Up to `limit` notices for session `reader` of `user_id` newer than `after`, oldest first:
/// the sign-ins of the user's *other* sessions since `reader` itself started. `None` when the
/// reader's session is no longer live (so a waiting poll learns at once that it was ended).
/// It is also the poll's session check (`domain::notices::poll_for_token`), so it checks what
/// `sessions::find_live` checks, and records the session as seen as `sessions::touch` does: one
/// statement per poll cycle.
pub async fn after(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    reader: SessionId,
    after: i64,
    limit: i64,
) -> Result<Option<Vec<NoticeRow>>, sqlx::Error> {
    #[derive(FromRow)]
    struct Joined {
        id: Option<i64>,
        kind: Option<NoticeKind>,
        session_id: Option<SessionId>,
        failed_attempts: Option<i32>,
        method: Option<SignInMethod>,
        user_agent: Option<String>,
        ip: Option<String>,
        at: Option<DateTime<Utc>>,
        app: Option<String>,
    }
    // The reader's row always comes back while it is live (with NULLs when there is nothing new).
    let rows: Vec<Joined> = sqlx::query_as(
        "WITH seen AS (
             UPDATE sessions SET last_seen_at = now()
             WHERE id = $2 AND user_id = $1 AND last_seen_at < now() - interval '60 seconds'
         )
         SELECT n.id, n.kind, n.session_id, n.failed_attempts, n.method, n.user_agent, n.ip, n.at, n.app
         FROM sessions me
         LEFT JOIN LATERAL (
             SELECT n.*, c.name AS app FROM notices n
                  LEFT JOIN sessions ns ON ns.id = n.session_id
                  LEFT JOIN oauth_clients c ON c.id = ns.client_id
             WHERE n.user_id = me.user_id AND n.id > $3 AND n.session_id IS DISTINCT FROM me.id
               AND n.at >= me.created_at
             ORDER BY n.id LIMIT $4
         ) n ON true
         WHERE me.id = $2 AND me.user_id = $1 AND me.revoked_at IS NULL AND me.expires_at > now()
               AND me.client_id IS NULL
         ORDER BY n.id",
    )
    .bind(user_id)
    .bind(reader)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .filter_map(|row| {
                Some(NoticeRow {
                    id: row.id?,
                    kind: row.kind?,
                    session_id: row.session_id,
                    failed_attempts: row.failed_attempts,
                    method: row.method?,
                    user_agent: row.user_agent?,
                    ip: row.ip?,
                    at: row.at?,
                    app: row.app,
                })
            })
            .collect(),
    ))
}

/// Wakes every waiting notice poll of the user, on every instance, at commit: after their
/// sessions were ended, so the polls of those sessions answer `session_ended` at once.
pub async fn wake_user(db: impl PgExecutor<'_>, user_id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify('notice', $1)")
        .bind(user_id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes notices older than `before`: news of a sign-in is stale after a day (the activity
/// page keeps the history).
pub async fn delete_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM notices WHERE at < $1")
        .bind(before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
