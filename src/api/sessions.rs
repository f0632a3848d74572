//! The signed-in user's sessions: list them, end one, end all others.

use leptos::prelude::*;

use crate::api::client::AuthClient;
use crate::error::AppError;
use crate::proto::{Revoked, SessionId, SessionList};

#[server(prefix = "/api", endpoint = "sessions", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn list_sessions() -> Result<SessionList, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.principal().await?;
    crate::domain::sessions::list(&caller.app, &principal).await
}

#[server(prefix = "/api", endpoint = "sessions/revoke", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn revoke_session(session_id: SessionId) -> Result<Revoked, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    let revoked =
        crate::domain::sessions::revoke(&caller.app, &principal, session_id, &caller.client)
            .await?;
    Ok(Revoked { revoked })
}

#[server(prefix = "/api", endpoint = "sessions/revoke_others", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn revoke_other_sessions() -> Result<Revoked, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    let revoked =
        crate::domain::sessions::revoke_others(&caller.app, &principal, &caller.client).await?;
    Ok(Revoked { revoked })
}
