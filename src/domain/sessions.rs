//! Sessions: starting one (the token record plus its tokens), checking a token on every request,
//! rotating refresh tokens with reuse detection, listing and ending sessions.

use chrono::{Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::api::{SessionInfo, SessionList, SignInMethod, TokenResponse};
use crate::db::{self, audit::AuditEvent, sessions::NewSession};
use crate::domain::tokens::{hash_secret, new_refresh_token};
use crate::domain::{ClientInfo, Principal, Sesame, user_agent};
use crate::error::{AppError, AppResult, ErrorCode};

/// Creates a session row for `user_id` (and its audit event, atomically) and returns its first tokens.
pub async fn start(
    app: &Sesame,
    user_id: Uuid,
    method: SignInMethod,
    client: &ClientInfo,
) -> AppResult<TokenResponse> {
    let mut tx = app.db.begin().await?;
    let (_, tokens) = start_in(app, &mut tx, user_id, method, client).await?;
    tx.commit().await?;
    Ok(tokens)
}

/// `start` inside the caller's transaction, so a QR redemption consumes the code and creates the
/// session together or not at all. Returns the new session's id with its tokens.
pub async fn start_in(
    app: &Sesame,
    db: &mut PgConnection,
    user_id: Uuid,
    method: SignInMethod,
    client: &ClientInfo,
) -> AppResult<(Uuid, TokenResponse)> {
    let session_id = Uuid::new_v4();
    let (refresh_token, refresh_hash) = new_refresh_token();
    let now = Utc::now();
    let session = NewSession {
        id: session_id,
        user_id,
        method,
        user_agent: &client.user_agent,
        ip: &client.ip,
        expires_at: now + Duration::days(app.settings.session_days),
        refresh_hash: &refresh_hash,
    };
    db::sessions::insert(&mut *db, session).await?;
    let event = AuditEvent {
        event: "login",
        user_id: Some(user_id),
        session_id: Some(session_id),
        ip: &client.ip,
        detail: method.as_str(),
    };
    db::audit::record(&mut *db, event).await?;
    Ok((
        session_id,
        token_response(app, user_id, session_id, refresh_token)?,
    ))
}

fn token_response(
    app: &Sesame,
    user_id: Uuid,
    session_id: Uuid,
    refresh_token: String,
) -> AppResult<TokenResponse> {
    Ok(TokenResponse {
        access_token: app.tokens.issue_access(user_id, session_id, Utc::now())?,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: app.tokens.access_ttl.num_seconds(),
    })
}

/// The check behind every authenticated call: a valid access token *and* a live session row.
pub async fn authenticate(app: &Sesame, bearer: Option<&str>) -> AppResult<Principal> {
    let token = bearer.ok_or_else(AppError::unauthorized)?;
    let claims = app.tokens.verify_access(token)?;
    let live = db::sessions::find_live(&app.db, claims.jti, claims.sub)
        .await?
        .ok_or_else(AppError::session_ended)?;
    Ok(Principal {
        user_id: live.user_id,
        session_id: live.session_id,
        username: live.username,
        user_created_at: live.user_created_at,
        method: live.method,
    })
}

/// Exchanges a refresh token for new tokens, rotating it. A token rotated out moments ago means
/// two tabs raced (`refresh_race`: retry with the stored tokens); one rotated out earlier means a
/// copy is being replayed, so the whole session is revoked (RFC 9700 §4.14.2).
pub async fn refresh(
    app: &Sesame,
    refresh_token: &str,
    client: &ClientInfo,
) -> AppResult<TokenResponse> {
    let presented = hash_secret(refresh_token);
    let (new_token, new_hash) = new_refresh_token();
    if let Some(rotated) = db::sessions::rotate_refresh(&app.db, &presented, &new_hash).await? {
        return token_response(app, rotated.user_id, rotated.session_id, new_token);
    }
    let Some(trace) = db::sessions::trace_refresh(&app.db, &presented).await? else {
        return Err(AppError::unauthorized());
    };
    if !trace.live {
        return Err(AppError::session_ended());
    }
    if !trace.rotated_out {
        // The current token of a live session that did not rotate: it expired between the two
        // statements. Treat like any ended session.
        return Err(AppError::session_ended());
    }
    if trace.seconds_since_rotation < app.settings.refresh_race_seconds {
        return Err(AppError::new(
            ErrorCode::RefreshRace,
            "This session was just renewed elsewhere; use the new tokens.",
        ));
    }
    db::sessions::revoke(&app.db, trace.user_id, trace.session_id).await?;
    let event = AuditEvent {
        event: "refresh_reuse",
        user_id: Some(trace.user_id),
        session_id: Some(trace.session_id),
        ip: &client.ip,
        detail: "a rotated-out refresh token was used again; session revoked",
    };
    db::audit::record(&app.db, event).await?;
    tracing::warn!(session = %trace.session_id, "refresh token reuse: session revoked");
    Err(AppError::session_ended())
}

pub async fn list(app: &Sesame, principal: &Principal) -> AppResult<SessionList> {
    let rows = db::sessions::list_live(&app.db, principal.user_id).await?;
    let sessions = rows
        .into_iter()
        .map(|row| {
            let (browser, os) = user_agent::describe(&row.user_agent);
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
            }
        })
        .collect();
    Ok(SessionList { sessions })
}

/// Ends one of the principal's sessions (their own current one included: that is signing out).
pub async fn revoke(
    app: &Sesame,
    principal: &Principal,
    session_id: Uuid,
    client: &ClientInfo,
) -> AppResult<u64> {
    let revoked = db::sessions::revoke(&app.db, principal.user_id, session_id).await?;
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
        ip: &client.ip,
        detail: "",
    };
    db::audit::record(&app.db, event).await?;
    Ok(revoked)
}

pub async fn revoke_others(
    app: &Sesame,
    principal: &Principal,
    client: &ClientInfo,
) -> AppResult<u64> {
    let revoked =
        db::sessions::revoke_others(&app.db, principal.user_id, principal.session_id).await?;
    let detail = format!("{revoked} other sessions");
    let event = AuditEvent {
        event: "revoke_others",
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id),
        ip: &client.ip,
        detail: &detail,
    };
    db::audit::record(&app.db, event).await?;
    Ok(revoked)
}
