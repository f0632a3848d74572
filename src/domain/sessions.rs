//! Sessions: starting one (the token record plus its tokens), checking a token on every request,
//! rotating refresh tokens with reuse detection, listing and ending sessions.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use crate::db::{self, audit::AuditEvent, sessions::NewSession};
use crate::domain::tokens::{hash_secret, new_refresh_token};
use crate::domain::{Device, Principal, Sesame, rate_limit, user_agent};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::proto::{SessionId, SessionInfo, SessionList, SignInMethod, TokenResponse, UserId};

/// How a new session comes about.
pub struct Start {
    pub user_id: UserId,
    pub method: SignInMethod,
    /// For a QR or app sign-in: the approving session and its end, which the new session may
    /// not outlive.
    pub approved_by: Option<(SessionId, DateTime<Utc>)>,
    /// For an app's sign-in: the app, and what it was allowed.
    pub app: Option<AppGrant>,
}

/// An app session's app: it is told when the session ends, and only it may renew the session.
pub struct AppGrant {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    /// When the person signed in to Sesame (the ID token's `auth_time`).
    pub auth_time: DateTime<Utc>,
}

impl Start {
    /// A sign-in of the person themselves, approved by no other session.
    pub fn direct(user_id: UserId, method: SignInMethod) -> Self {
        Self {
            user_id,
            method,
            approved_by: None,
            app: None,
        }
    }
}

/// Creates a session row for `user_id` (and its audit event, atomically) and returns its first tokens.
pub async fn start(app: &Sesame, user_id: UserId, client: &Device) -> AppResult<TokenResponse> {
    let mut tx = app.db.begin().await?;
    let (_, tokens) = start_in(
        app,
        &mut tx,
        Start::direct(user_id, SignInMethod::Password),
        client,
    )
    .await?;
    tx.commit().await?;
    Ok(tokens)
}

/// `start` inside the caller's transaction, so a QR redemption consumes the code and creates the
/// session together or not at all. Returns the new session's id with its tokens.
pub async fn start_in(
    app: &Sesame,
    db: &mut PgConnection,
    start: Start,
    client: &Device,
) -> AppResult<(SessionId, TokenResponse)> {
    let user_id = start.user_id;
    let (session_id, refresh_token) = open_in(app, db, start, client).await?;
    Ok((
        session_id,
        token_response(app, user_id, session_id, refresh_token)?,
    ))
}

/// Creates the session row, its "new sign-in" notice and its audit event in the caller's
/// transaction. Returns the session's id and its first refresh token; the caller makes the
/// access token (Sesame's own, or an app's).
pub async fn open_in(
    app: &Sesame,
    db: &mut PgConnection,
    start: Start,
    client: &Device,
) -> AppResult<(SessionId, String)> {
    let session_id = SessionId::random();
    let (refresh_token, refresh_hash) = new_refresh_token();
    let full_term =
        Utc::now() + Duration::from_std(app.settings.session_ttl).map_err(AppError::internal)?;
    let expires_at = match start.approved_by {
        Some((_, approver_ends)) => full_term.min(approver_ends),
        None => full_term,
    };
    let ip = client.ip();
    let session = NewSession {
        id: session_id,
        user_id: start.user_id,
        method: start.method,
        user_agent: &client.user_agent,
        ip: &ip,
        expires_at,
        refresh_hash: &refresh_hash,
        approved_by: start.approved_by.map(|(id, _)| id),
        app: start.app.as_ref().map(|grant| {
            (
                grant.client_id.as_str(),
                grant.scope.as_str(),
                grant.auth_time,
            )
        }),
    };
    db::sessions::insert(&mut *db, session).await?;
    super::notices::announce(&mut *db, start.user_id, session_id, start.method, client).await?;
    // An app's sign-in is shown as the app connecting; the sign-in that approved it was shown
    // when it happened.
    let (event, detail) = match &start.app {
        Some(grant) => ("app_authorized", grant.client_name.as_str()),
        None => ("login", start.method.as_str()),
    };
    let event = AuditEvent {
        event,
        user_id: Some(start.user_id),
        session_id: Some(session_id),
        ip: &ip,
        user_agent: &client.user_agent,
        detail,
    };
    db::audit::record(&mut *db, event).await?;
    Ok((session_id, refresh_token))
}

fn token_response(
    app: &Sesame,
    user_id: UserId,
    session_id: SessionId,
    refresh_token: String,
) -> AppResult<TokenResponse> {
    Ok(TokenResponse {
        access_token: app.tokens.issue_access(user_id, session_id, Utc::now())?,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: app.tokens.access_ttl.num_seconds(),
        known_browser: None,
    })
}

/// The check behind every authenticated call: a valid access token *and* a live session row.
pub async fn authenticate(app: &Sesame, bearer: Option<&str>) -> AppResult<Principal> {
    let token = bearer.ok_or_else(AppError::unauthorized)?;
    let claims = app.tokens.verify_access(token)?;
    let live = db::sessions::find_live(&app.db, claims.jti, claims.sub, None)
        .await?
        .ok_or_else(AppError::session_ended)?;
    if live.seen_long_ago {
        db::sessions::touch(&app.db, live.session_id).await?;
    }
    Ok(Principal {
        user_id: live.user_id,
        session_id: live.session_id,
        username: live.username,
        display_name: live.display_name,
        user_created_at: live.user_created_at,
        method: live.method,
        session_expires_at: live.expires_at,
        signed_in_at: live.signed_in_at,
    })
}

/// Exchanges a refresh token for new tokens, rotating it. Every spent token is remembered: one
/// presented again means a copy is being replayed, so the whole session ends at once, the
/// thief's newest tokens with it (RFC 9700 §4.14.2). The only exception is a retry whose answer
/// was lost, within `refresh_grace`: it gets `refresh_race` and no tokens, and the
/// session lives on. (Tabs of one browser take turns through a Web Lock, so they never race.)
pub async fn refresh(
    app: &Sesame,
    refresh_token: &str,
    client: &Device,
) -> AppResult<TokenResponse> {
    let presented = hash_secret(refresh_token);
    let (new_token, new_hash) = new_refresh_token();
    if let Some(rotated) =
        db::sessions::rotate_refresh(&app.db, &presented, &new_hash, None).await?
    {
        return token_response(app, rotated.user_id, rotated.session_id, new_token);
    }
    let Some(trace) = db::sessions::trace_refresh(&app.db, &presented, None).await? else {
        return Err(AppError::unauthorized());
    };
    let Some(seconds_since_spent) = trace.seconds_since_spent.filter(|_| trace.live) else {
        // An ended session, or the current token of one that ended between the two statements.
        return Err(AppError::session_ended());
    };
    if seconds_since_spent < app.settings.refresh_grace.as_secs_f64() {
        // Audited: a stream of these is a thief racing the owner (or a flaky network). Counted
        // as a write of the session first, so a loop re-presenting the token cannot fill the
        // audit trail.
        let session = trace.session_id.to_string();
        rate_limit::count(&app.db, &[(&app.limits.writes_per_session, &session)]).await?;
        let event = AuditEvent {
            event: "refresh_race",
            user_id: Some(trace.user_id),
            session_id: Some(trace.session_id),
            ip: &client.ip(),
            user_agent: &client.user_agent,
            detail: "a refresh token spent moments ago was presented again",
        };
        db::audit::record(&app.db, event).await?;
        return Err(AppError::new(
            ErrorCode::RefreshRace,
            "This session was just renewed; use the tokens that renewal returned.",
        ));
    }
    db::sessions::revoke(&app.db, trace.user_id, trace.session_id).await?;
    // A thief who held this session may have approved QR codes with it: those sessions go too.
    // (App sessions always end with their approver, by the database trigger.)
    db::sessions::revoke_approved_by(&app.db, trace.session_id).await?;
    let event = AuditEvent {
        event: "refresh_reuse",
        user_id: Some(trace.user_id),
        session_id: Some(trace.session_id),
        ip: &client.ip(),
        user_agent: &client.user_agent,
        detail: "a spent refresh token was used again; session ended",
    };
    db::audit::record(&app.db, event).await?;
    tracing::warn!(session = %trace.session_id, "refresh token reuse: session ended");
    Err(AppError::session_ended())
}

pub async fn list(app: &Sesame, principal: &Principal) -> AppResult<SessionList> {
    let rows = db::sessions::list_live(&app.db, principal.user_id).await?;
    let sessions = rows
        .into_iter()
        .map(|row| {
            let (browser, os) = user_agent::describe(&row.user_agent);
            let approved_from = row.approver_user_agent.as_deref().map(|ua| {
                let (browser, os) = user_agent::describe(ua);
                format!("{browser} / {os}")
            });
            SessionInfo {
                current: row.id == principal.session_id,
                id: row.id,
                method: row.method,
                browser,
                os,
                ip: row.ip,
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                expires_at: row.expires_at,
                approved_from,
                app: row.app,
            }
        })
        .collect();
    Ok(SessionList { sessions })
}

/// Ends one of the principal's sessions (their own current one included: that is signing out).
pub async fn revoke(
    app: &Sesame,
    principal: &Principal,
    session_id: SessionId,
    client: &Device,
) -> AppResult<u64> {
    let mut tx = app.db.begin().await?;
    let revoked = db::sessions::revoke(&mut *tx, principal.user_id, session_id).await?;
    if revoked == 0 {
        return Err(AppError::not_found());
    }
    let event_name = if session_id == principal.session_id {
        "logout"
    } else {
        "revoke"
    };
    let event = AuditEvent {
        event: event_name,
        user_id: Some(principal.user_id),
        session_id: Some(session_id),
        ip: &client.ip(),
        user_agent: &client.user_agent,
        detail: "",
    };
    db::audit::record(&mut *tx, event).await?;
    // The ended session's waiting notice poll (its tab) answers `session_ended` now, not in 25 s.
    db::notices::wake_user(&mut *tx, principal.user_id).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Ends every other session of the user ("end all other sessions"); this one stays.
pub async fn revoke_others(app: &Sesame, principal: &Principal, client: &Device) -> AppResult<u64> {
    let mut tx = app.db.begin().await?;
    let revoked = end_others_in(&mut tx, principal, client, "revoke_others").await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Ends every other live session of the principal's user inside `tx`, records `event` in the
/// audit trail with how many ended, and wakes the ended sessions' waiting notice polls at commit,
/// so their tabs sign out now, not in 25 s. Returns how many ended.
pub async fn end_others_in(
    tx: &mut PgConnection,
    principal: &Principal,
    client: &Device,
    event: &'static str,
) -> AppResult<u64> {
    let revoked =
        db::sessions::revoke_others(&mut *tx, principal.user_id, principal.session_id).await?;
    let detail = format!("{revoked} other sessions ended");
    let event = AuditEvent {
        event,
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id),
        ip: &client.ip(),
        user_agent: &client.user_agent,
        detail: &detail,
    };
    db::audit::record(&mut *tx, event).await?;
    // Only when a session ended: their tabs' polls have something to learn.
    if revoked > 0 {
        db::notices::wake_user(&mut *tx, principal.user_id).await?;
    }
    Ok(revoked)
}
