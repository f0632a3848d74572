//! Signing in to other apps: the `/oauth/authorize` page's two calls, and "Connected apps".
//! The protocol endpoints the apps themselves call (`/oauth/token` and the rest) are plain axum
//! handlers in `server::oauth`: they speak form-encoded OAuth, not JSON server functions.

use leptos::prelude::*;

use crate::api::client::AuthClient;
use crate::error::AppError;
use crate::proto::{AuthorizeStep, ConnectedApps, Withdrawn};

/// What the page should do for the authorization request `query` (the query string of
/// `/oauth/authorize` as the app wrote it). The Bearer token is optional: without it, the
/// answer is to sign in (or, with `prompt=none`, the app's `login_required`).
#[server(prefix = "/api", endpoint = "oauth/authorize", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn authorize(query: String) -> Result<AuthorizeStep, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.optional_principal().await?;
    crate::domain::oauth::authorize::check(&caller.app, &query, principal.as_ref()).await
}

/// The person's Allow (`allow: true`) or Deny on the consent screen; answers where to go.
#[server(prefix = "/api", endpoint = "oauth/decide", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn decide(
    query: String,
    allow: bool,
    #[server(default)] verification: Option<String>,
) -> Result<AuthorizeStep, AppError> {
    let caller = super::request::caller().await?;
    // Allowing mints a code and may store a consent, and denying wakes the app: both count.
    let principal = caller.writer().await?;
    if allow {
        crate::domain::passkeys::check_approval(&caller.app, &principal, verification.as_deref())
            .await?;
    }
    crate::domain::oauth::authorize::decide(&caller.app, &query, &principal, allow, &caller.client)
        .await
}

#[server(prefix = "/api", endpoint = "apps", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn list_apps() -> Result<ConnectedApps, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.principal().await?;
    crate::domain::oauth::consents::list(&caller.app, &principal).await
}

/// Withdraws the consent and ends the app's sessions; 404 when the app was not connected.
#[server(prefix = "/api", endpoint = "apps/withdraw", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn withdraw_app(client_id: String) -> Result<Withdrawn, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::oauth::consents::withdraw(&caller.app, &principal, &client_id, &caller.client)
        .await
}
