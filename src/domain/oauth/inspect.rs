//! What an app (or its API) may ask about a token: userinfo (OpenID Connect Core §5.3),
//! introspection (RFC 7662) and revocation (RFC 7009). Every answer reads the session row, so a
//! token is inactive the moment its session ends, however it ended.

use serde::Serialize;

use super::clients::Client;
use super::keys::validation;
use super::{ACCESS_TOKEN_TYP, AppAccessClaims, has_scope, issuer};
use crate::db::{self, sessions::AppSession};
use crate::domain::Sesame;
use crate::domain::tokens::hash_secret;
use crate::error::{AppError, AppResult};
use crate::proto::UserId;

/// The app session behind an access token, if the token is ours, unexpired and its session live.
async fn session_of_access_token(
    app: &Sesame,
    token: &str,
) -> AppResult<Option<(AppAccessClaims, AppSession)>> {
    let checks = validation(&issuer(app), None);
    let Some(claims) = app
        .oauth_keys
        .verify::<AppAccessClaims>(token, ACCESS_TOKEN_TYP, &checks)
        .await?
    else {
        return Ok(None);
    };
    let session = db::sessions::app_session(&app.db, claims.sid).await?;
    Ok(session
        .filter(|s| {
            s.user_id == claims.sub
                && s.client_id == claims.client_id
                && claims.aud == claims.client_id
        })
        .map(|s| (claims, s)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub sub: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `/oauth/userinfo`: who the access token's person is, as far as its scope allows.
pub async fn userinfo(app: &Sesame, bearer: Option<&str>) -> AppResult<UserInfo> {
    let token = bearer.ok_or_else(AppError::unauthorized)?;
    let (_, session) = session_of_access_token(app, token)
        .await?
        .ok_or_else(AppError::unauthorized)?;
    let profile = has_scope(&session.scope, "profile");
    Ok(UserInfo {
        sub: session.user_id,
        preferred_username: profile.then(|| session.username.to_string()),
        name: session.display_name.filter(|_| profile),
    })
}

/// RFC 7662 §2.2. Inactive is just `{"active": false}`: nothing about why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<ActiveToken>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActiveToken {
    pub sub: UserId,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub sid: crate::proto::SessionId,
    pub username: String,
    pub token_type: &'static str,
    pub iss: String,
}

/// Any authenticated client may introspect (a resource server checking the tokens it is sent).
pub async fn introspect(app: &Sesame, token: &str) -> AppResult<Introspection> {
    if let Some((claims, session)) = session_of_access_token(app, token).await? {
        return Ok(active(app, session, claims.exp, claims.iat, "access_token"));
    }
    if let Some(session) =
        db::sessions::app_session_by_refresh(&app.db, &hash_secret(token)).await?
    {
        let (exp, iat) = (
            session.expires_at.timestamp(),
            session.refreshed_at.timestamp(),
        );
        return Ok(active(app, session, exp, iat, "refresh_token"));
    }
    Ok(Introspection {
        active: false,
        details: None,
    })
}

fn active(
    app: &Sesame,
    session: AppSession,
    exp: i64,
    iat: i64,
    kind: &'static str,
) -> Introspection {
    Introspection {
        active: true,
        details: Some(ActiveToken {
            sub: session.user_id,
            client_id: session.client_id,
            scope: session.scope,
            exp,
            iat,
            sid: session.session_id,
            username: session.username.to_string(),
            token_type: kind,
            iss: issuer(app),
        }),
    }
}

/// RFC 7009: revoking a refresh or access token of this client ends its app session (so the
/// session's other tokens stop working too). Another client's token, or an unknown one, is
/// left alone, and the answer is the same either way.
pub async fn revoke(app: &Sesame, client: &Client, token: &str) -> AppResult<()> {
    let session = match db::sessions::app_session_by_refresh(&app.db, &hash_secret(token)).await? {
        Some(session) => Some(session),
        None => session_of_access_token(app, token).await?.map(|(_, s)| s),
    };
    if let Some(session) = session.filter(|s| s.client_id == client.id) {
        db::sessions::revoke_any(&app.db, session.session_id).await?;
        db::notices::wake_user(&app.db, session.user_id).await?;
    }
    Ok(())
}
