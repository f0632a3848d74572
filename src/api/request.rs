//! What server functions need from the HTTP request: the app, the caller's device, the bearer token.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, header};
use leptos::prelude::*;

use crate::domain::{Device, Principal, Sesame, sessions};
use crate::error::{AppError, AppResult};

pub fn app() -> AppResult<Sesame> {
    use_context::<Sesame>().ok_or_else(|| AppError::internal("Sesame state missing from context"))
}

/// Request headers plus the peer address, read once per call.
pub struct Caller {
    pub app: Sesame,
    pub client: Device,
    headers: HeaderMap,
}

pub async fn caller() -> AppResult<Caller> {
    let app = app()?;
    let (headers, ConnectInfo(peer)) =
        leptos_axum::extract::<(HeaderMap, ConnectInfo<SocketAddr>)>()
            .await
            .map_err(AppError::internal)?;
    Ok(Caller {
        client: device(&app, &headers, peer),
        app,
        headers,
    })
}

/// The device a request comes from: its address as our own proxy saw it, and its user agent.
pub fn device(app: &Sesame, headers: &HeaderMap, peer: SocketAddr) -> Device {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok());
    let addr = app.trusted_proxies.client(forwarded, peer.ip());
    let user_agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .map(|ua| ua.chars().take(512).collect())
        .unwrap_or_default();
    Device::new(addr, user_agent)
}

impl Caller {
    /// The signed-in user, or 401.
    pub async fn principal(&self) -> AppResult<Principal> {
        sessions::authenticate(&self.app, self.bearer()).await
    }

    /// The access token sent, unchecked.
    pub fn bearer(&self) -> Option<&str> {
        bearer(&self.headers)
    }

    /// The signed-in user, for a call that writes or wakes something (ending sessions, changing
    /// the password or name, answering a QR or device code, allowing an app): counted per
    /// session and per user in PostgreSQL first, so one ordinary account cannot loop such calls
    /// and keep the database and every waiting poll busy; over the limit, 429 with Retry-After.
    pub async fn writer(&self) -> AppResult<Principal> {
        let principal = self.principal().await?;
        let (session, user) = (
            principal.session_id.to_string(),
            principal.user_id.to_string(),
        );
        let limits = &self.app.limits;
        crate::domain::rate_limit::count(
            &self.app.db,
            &[
                (&limits.writes_per_session, &session),
                (&limits.writes_per_user, &user),
            ],
        )
        .await?;
        Ok(principal)
    }

    /// The signed-in user, or `None` when the call carries no token. A token that is sent is
    /// checked as always: an expired one is renewed by the browser and the call repeated.
    pub async fn optional_principal(&self) -> AppResult<Option<Principal>> {
        if bearer(&self.headers).is_none() {
            return Ok(None);
        }
        self.principal().await.map(Some)
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
