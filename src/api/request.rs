//! What server functions need from the HTTP request: the app, the caller's device, the bearer token.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use leptos::prelude::*;

use crate::domain::client::forwarded_client;
use crate::domain::{ClientInfo, Principal, Sesame, sessions};
use crate::error::{AppError, AppResult};

/// Gives the response of the server function being answered the error's status, `Retry-After`
/// when it says when to retry, and `WWW-Authenticate` with a 401 (RFC 6750 §3: naming a token
/// that was sent as invalid).
pub fn respond_with_error(error: &AppError) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let status =
        StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.set_status(status);
    if let Some(seconds) = error.retry_after {
        response.insert_header(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        let sent_token = use_context::<axum::http::request::Parts>()
            .is_some_and(|parts| parts.headers.contains_key(header::AUTHORIZATION));
        response.insert_header(header::WWW_AUTHENTICATE, www_authenticate(sent_token));
    }
}

pub fn www_authenticate(sent_token: bool) -> HeaderValue {
    HeaderValue::from_static(if sent_token {
        r#"Bearer error="invalid_token""#
    } else {
        "Bearer"
    })
}

pub fn app() -> AppResult<Sesame> {
    use_context::<Sesame>().ok_or_else(|| AppError::internal("Sesame state missing from context"))
}

/// Request headers plus the peer address, read once per call.
pub struct Caller {
    pub app: Sesame,
    pub client: ClientInfo,
    headers: HeaderMap,
}

pub async fn caller() -> AppResult<Caller> {
    let app = app()?;
    let (headers, ConnectInfo(peer)) =
        leptos_axum::extract::<(HeaderMap, ConnectInfo<SocketAddr>)>()
            .await
            .map_err(AppError::internal)?;
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok());
    let addr = forwarded_client(forwarded, app.settings.trusted_proxy_hops, peer.ip());
    let user_agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .map(|ua| ua.chars().take(512).collect())
        .unwrap_or_default();
    Ok(Caller {
        app,
        client: ClientInfo::new(addr, user_agent),
        headers,
    })
}

impl Caller {
    /// The signed-in user, or 401.
    pub async fn principal(&self) -> AppResult<Principal> {
        sessions::authenticate(&self.app, bearer(&self.headers)).await
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
