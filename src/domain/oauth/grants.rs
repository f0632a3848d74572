//! The token endpoint's grants (RFC 6749 §4.1.3 and §6): an authorization code with its PKCE
//! verifier becomes an app session and its tokens; a refresh token is rotated. The answers are
//! the ID token (OpenID Connect Core §2), an access token (RFC 9068) and, with `offline_access`,
//! a refresh token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::authorize::is_pkce_value;
use super::clients::{Client, Grant};
use super::{ACCESS_TOKEN_TYP, AppAccessClaims, ID_TOKEN_TYP, has_scope, issuer};
use crate::db::{self, audit::AuditEvent, sessions::AppSession};
use crate::domain::sessions::{self, AppGrant, Start};
use crate::domain::tokens::{hash_secret, new_refresh_token, random_secret};
use crate::domain::{Device, Sesame};
use crate::error::{AppError, AppResult};
use crate::metrics::{self, SignInResult};
use crate::proto::{SessionId, SignInMethod, UserId};

/// `POST /oauth/token`'s answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    iss: String,
    sub: UserId,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    sid: SessionId,
    amr: &'static [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// The `authorization_code` grant. A code is used once: presented again (by anyone), it is
/// refused and the session its first use created is ended, since the code may have leaked.
pub async fn exchange_code(
    app: &Sesame,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    device: &Device,
) -> AppResult<Tokens> {
    if !client.allows(Grant::AuthorizationCode) {
        return Err(unauthorized_client());
    }
    let hash = hash_secret(code);
    let mut tx = app.db.begin().await?;
    let Some(taken) = db::oauth_codes::take(&mut *tx, &hash, &client.id).await? else {
        drop(tx);
        if let Some(issued) =
            db::oauth_codes::issued_by_used_code(&app.db, &hash, &client.id).await?
        {
            if let Some(session_id) = issued {
                db::sessions::revoke_any(&app.db, session_id).await?;
            }
            tracing::warn!(client = %client.id, "authorization code used twice; its session ended");
        }
        return Err(AppError::invalid_grant(
            "The code is invalid, used or expired.",
        ));
    };
    let verifier = code_verifier.unwrap_or_default();
    let verified = is_pkce_value(verifier)
        && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == taken.code_challenge;
    if taken.expired || redirect_uri != Some(taken.redirect_uri.as_str()) || !verified {
        // The code stays used: one wrong guess at the verifier burns it.
        tx.commit().await?;
        return Err(AppError::invalid_grant(
            "The code is expired, or the redirect_uri or code_verifier does not match.",
        ));
    }
    let Some(approver_ends) = taken.approver_expires_at else {
        tx.commit().await?;
        return Err(AppError::invalid_grant(
            "The sign-in that approved this code has ended.",
        ));
    };
    let start = Start {
        user_id: taken.user_id,
        method: SignInMethod::Oidc,
        approved_by: Some((taken.approved_by, approver_ends)),
        app: Some(AppGrant {
            client_id: client.id.clone(),
            client_name: client.name.clone(),
            scope: taken.scope.clone(),
            auth_time: taken.auth_time,
        }),
    };
    let (session_id, refresh_token) = sessions::open_in(app, &mut tx, start, device).await?;
    db::oauth_codes::set_issued_session(&mut *tx, &hash, session_id).await?;
    tx.commit().await?;
    metrics::sign_in(SignInMethod::Oidc, SignInResult::Success);
    let session = db::sessions::app_session(&app.db, session_id)
        .await?
        .ok_or_else(|| AppError::invalid_grant("The session has ended."))?;
    tokens(app, client, &session, taken.nonce.as_deref(), refresh_token).await
}

/// The `refresh_token` grant: the same rotation and reuse detection as Sesame's own refresh
/// (`domain::sessions::refresh`), for this client's sessions only. A spent token presented again
/// ends the session; only a retry within `refresh_grace` is refused without ending it.
pub async fn refresh(
    app: &Sesame,
    client: &Client,
    refresh_token: &str,
    device: &Device,
) -> AppResult<Tokens> {
    if !client.allows(Grant::RefreshToken) {
        return Err(unauthorized_client());
    }
    let presented = hash_secret(refresh_token);
    let (new_token, new_hash) = new_refresh_token();
    let rotated =
        db::sessions::rotate_refresh(&app.db, &presented, &new_hash, Some(&client.id)).await?;
    let Some(rotated) = rotated else {
        let trace = db::sessions::trace_refresh(&app.db, &presented, Some(&client.id)).await?;
        if let Some(trace) = trace
            && trace.live
            && let Some(seconds) = trace.seconds_since_spent
            && seconds >= app.settings.refresh_grace.as_secs_f64()
        {
            db::sessions::revoke(&app.db, trace.user_id, trace.session_id).await?;
            let event = AuditEvent {
                event: "refresh_reuse",
                user_id: Some(trace.user_id),
                session_id: Some(trace.session_id),
                ip: &device.ip(),
                user_agent: &device.user_agent,
                detail: &client.id,
            };
            db::audit::record(&app.db, event).await?;
            tracing::warn!(session = %trace.session_id, client = %client.id, "app refresh token reuse: session ended");
        }
        return Err(AppError::invalid_grant(
            "The refresh token is invalid, spent or its session has ended.",
        ));
    };
    let session = db::sessions::app_session(&app.db, rotated.session_id)
        .await?
        .ok_or_else(|| AppError::invalid_grant("The session has ended."))?;
    tokens(app, client, &session, None, new_token).await
}

/// The tokens of an app session that was just made (by an approved device code).
pub async fn tokens_for_session(
    app: &Sesame,
    client: &Client,
    session_id: SessionId,
    nonce: Option<&str>,
    refresh_token: String,
) -> AppResult<Tokens> {
    let session = db::sessions::app_session(&app.db, session_id)
        .await?
        .ok_or_else(|| AppError::invalid_grant("The session has ended."))?;
    tokens(app, client, &session, nonce, refresh_token).await
}

async fn tokens(
    app: &Sesame,
    client: &Client,
    session: &AppSession,
    nonce: Option<&str>,
    refresh_token: String,
) -> AppResult<Tokens> {
    let now = Utc::now();
    let ttl = app.tokens.access_ttl;
    let access = AppAccessClaims {
        iss: issuer(app),
        sub: session.user_id,
        aud: client.id.clone(),
        client_id: client.id.clone(),
        exp: (now + ttl).timestamp(),
        iat: now.timestamp(),
        jti: random_secret(16),
        sid: session.session_id,
        scope: session.scope.clone(),
    };
    let profile = has_scope(&session.scope, "profile");
    let id_claims = IdClaims {
        iss: issuer(app),
        sub: session.user_id,
        aud: &client.id,
        exp: (now + ttl).timestamp(),
        iat: now.timestamp(),
        auth_time: session.auth_time.timestamp(),
        nonce,
        sid: session.session_id,
        amr: amr(session.approver_method),
        preferred_username: profile.then(|| session.username.to_string()),
        name: session.display_name.clone().filter(|_| profile),
    };
    let id_token = if has_scope(&session.scope, "openid") {
        Some(app.oauth_keys.sign(ID_TOKEN_TYP, &id_claims).await?)
    } else {
        None
    };
    Ok(Tokens {
        access_token: app.oauth_keys.sign(ACCESS_TOKEN_TYP, &access).await?,
        token_type: "Bearer",
        expires_in: ttl.num_seconds(),
        scope: session.scope.clone(),
        id_token,
        refresh_token: has_scope(&session.scope, "offline_access").then_some(refresh_token),
    })
}

/// RFC 8176 names: a password is `pwd`; a QR approval from a signed-in phone is a second
/// channel, `mca`; a passkey is a key held by the device (`hwk`) unlocked by the person
/// (`user`), two factors (`mfa`).
fn amr(method: SignInMethod) -> &'static [&'static str] {
    match method {
        SignInMethod::Qr => &["mca"],
        SignInMethod::Passkey => &["hwk", "user", "mfa"],
        _ => &["pwd"],
    }
}

fn unauthorized_client() -> AppError {
    AppError::new(
        crate::error::ErrorCode::UnauthorizedClient,
        "This client is not registered for this grant.",
    )
}
