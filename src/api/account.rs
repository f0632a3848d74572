//! Register, sign in, renew tokens, who am I, the display name, sign out.

use leptos::prelude::*;

use crate::api::client::AuthClient;
use crate::error::AppError;
use crate::proto::{Me, Revoked, TokenResponse};

#[server(prefix = "/api", endpoint = "register", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn register(
    username: String,
    password: String,
    #[server(default)] display_name: Option<String>,
) -> Result<TokenResponse, AppError> {
    let caller = super::request::caller().await?;
    crate::domain::accounts::register(
        &caller.app,
        &username,
        password,
        display_name.as_deref(),
        &caller.client,
    )
    .await
}

/// `known_browser`: what an earlier sign-in of this account in this browser answered (see
/// `domain::known_browsers`).
#[server(prefix = "/api", endpoint = "login", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn login(
    username: String,
    password: String,
    #[server(default)] known_browser: Option<String>,
) -> Result<TokenResponse, AppError> {
    let mut caller = super::request::caller().await?;
    caller.client.known_browser = known_browser;
    crate::domain::accounts::login(&caller.app, &username, password, &caller.client).await
}

#[server(prefix = "/api", endpoint = "refresh", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn refresh(refresh_token: String) -> Result<TokenResponse, AppError> {
    let caller = super::request::caller().await?;
    crate::domain::sessions::refresh(&caller.app, &refresh_token, &caller.client).await
}

/// Who am I. On the server, `/api/me` is answered by `server::http::current_account` (the same
/// work without the server-function plumbing: it runs on every page load); this definition gives
/// the browser its typed client, and serves server-side callers.
#[server(prefix = "/api", endpoint = "me", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn current_account() -> Result<Me, AppError> {
    let principal = super::request::caller().await?.principal().await?;
    Ok(me(principal))
}

/// Sets the display name (`null` or blank clears it); answers like `/api/me`.
#[server(prefix = "/api", endpoint = "account/display_name", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn set_display_name(display_name: Option<String>) -> Result<Me, AppError> {
    let caller = super::request::caller().await?;
    let mut principal = caller.writer().await?;
    principal.display_name =
        crate::domain::accounts::set_display_name(&caller.app, &principal, display_name.as_deref())
            .await?;
    Ok(me(principal))
}

#[cfg(feature = "ssr")]
pub fn me(principal: crate::domain::Principal) -> Me {
    Me {
        id: principal.user_id,
        username: principal.username,
        display_name: principal.display_name,
        created_at: principal.user_created_at,
        session_id: principal.session_id,
        method: principal.method,
    }
}

#[server(prefix = "/api", endpoint = "logout", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn logout() -> Result<Revoked, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.principal().await?;
    let revoked = crate::domain::sessions::revoke(
        &caller.app,
        &principal,
        principal.session_id,
        &caller.client,
    )
    .await?;
    Ok(Revoked { revoked })
}
