//! "New sign-in" notices: every sign-in writes one (in the transaction that creates the session),
//! and the user's other sessions long-poll for them with a cursor.

use std::pin::pin;

use sqlx::PgConnection;

use crate::db::notices::{self, NewNotice, NoticeRow};
use crate::domain::{Device, Principal, Sesame, user_agent};
use crate::error::{AppError, AppResult};
use crate::proto::{Notice, NoticePoll, SessionId, SignInMethod, UserId};

/// At most this many notices per answer; the cursor brings the rest next time.
const PAGE: i64 = 50;

/// Announces a new session to the user's other sessions. Called inside the transaction that
/// creates the session, so the notice exists exactly when the session does.
pub async fn announce(
    db: &mut PgConnection,
    user_id: UserId,
    session_id: SessionId,
    method: SignInMethod,
    client: &Device,
) -> AppResult<()> {
    let notice = NewNotice {
        user_id,
        session_id,
        method,
        user_agent: &client.user_agent,
        ip: &client.ip(),
    };
    Ok(notices::insert(db, notice).await?)
}

/// `/api/notices/poll` for the session of the access token `bearer`. Without `after`: the
/// current cursor at once (the session checked as on any call). With it: a waiting poll makes one
/// query per cycle, not two: the token's signature and expiry are checked here, and the
/// session's row by the poll's own read (`notices::after`), which ends the poll with
/// `session_ended` just as the usual check would.
pub async fn poll_for_token(
    app: &Sesame,
    bearer: Option<&str>,
    after: Option<i64>,
    client: &Device,
) -> AppResult<NoticePoll> {
    match after {
        None => {
            let principal = crate::domain::sessions::authenticate(app, bearer).await?;
            poll(app, &principal, None, client).await
        }
        Some(after) => {
            let token = bearer.ok_or_else(AppError::unauthorized)?;
            let claims = app.tokens.verify_access(token)?;
            wait(app, claims.sub, claims.jti, after, client).await
        }
    }
}

/// Without `after`: the current cursor at once, and no notices (a client starts from "now").
/// With it: the notices newer than `after`, as soon as there are any, or none after
/// `qr_poll_wait`. Waiting costs no database work: the poll reads once, then sleeps until
/// `NOTIFY notice` names its user.
pub async fn poll(
    app: &Sesame,
    principal: &Principal,
    after: Option<i64>,
    client: &Device,
) -> AppResult<NoticePoll> {
    let Some(after) = after else {
        let cursor = notices::latest_id(&app.db, principal.user_id).await?;
        return Ok(NoticePoll {
            notices: Vec::new(),
            cursor,
        });
    };
    wait(app, principal.user_id, principal.session_id, after, client).await
}

async fn wait(
    app: &Sesame,
    user_id: UserId,
    session_id: SessionId,
    after: i64,
    client: &Device,
) -> AppResult<NoticePoll> {
    let deadline = tokio::time::Instant::now() + app.settings.qr_poll_wait;
    let mut subscription = app
        .notice_events
        .subscribe(user_id, &client.network_key())?;
    // The session is proved by its token: its polls hold its places. A third displaces the oldest.
    subscription.take_place(session_id.0.as_u128());
    let displaced = subscription.displaced.clone();
    let mut displaced = pin!(displaced.notified());
    loop {
        // Armed before reading, so a notice committed between the read and the wait still wakes.
        let mut changed = pin!(subscription.changed.notified());
        changed.as_mut().enable();
        let rows = notices::after(&app.db, user_id, session_id, after, PAGE)
            .await?
            .ok_or_else(AppError::session_ended)?;
        if !rows.is_empty() || app.notice_events.is_closing() {
            let cursor = rows.last().map_or(after, |row| row.id);
            return Ok(NoticePoll {
                notices: rows.into_iter().map(notice).collect(),
                cursor,
            });
        }
        tokio::select! {
            _ = changed => {}
            _ = displaced.as_mut() => return Ok(NoticePoll { notices: Vec::new(), cursor: after }),
            _ = tokio::time::sleep_until(deadline) => {
                return Ok(NoticePoll { notices: Vec::new(), cursor: after });
            }
        }
    }
}

fn notice(row: NoticeRow) -> Notice {
    let (browser, os) = user_agent::describe(&row.user_agent);
    Notice {
        id: row.id,
        kind: row.kind,
        session_id: row.session_id,
        failed_attempts: row.failed_attempts.map(|n| n as u32),
        method: row.method,
        browser,
        os,
        ip: row.ip,
        at: row.at,
        app: row.app,
    }
}
