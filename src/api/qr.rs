//! QR sign-in: the desktop creates and polls a code; the signed-in phone scans, approves or denies.

use leptos::prelude::*;

use crate::api::client::AuthClient;
use crate::error::AppError;
use crate::proto::{QrAnswer, QrCreated, QrId, QrPoll, QrRequest, QrState};

#[server(prefix = "/api", endpoint = "qr/create", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn create_qr() -> Result<QrCreated, AppError> {
    let caller = super::request::caller().await?;
    crate::domain::qr_login::create(&caller.app, &caller.client).await
}

/// Long poll. `seen` (optional) is the state the desktop already shows; the call returns when the
/// state differs from it, or after about 25 s with the same state.
#[server(prefix = "/api", endpoint = "qr/poll", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn poll_qr(
    id: QrId,
    secret: String,
    #[server(default)] seen: Option<QrState>,
) -> Result<QrPoll, AppError> {
    let caller = super::request::caller().await?;
    crate::domain::qr_login::poll(&caller.app, &id, &secret, seen, &caller.client).await
}

#[server(prefix = "/api", endpoint = "qr/scan", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn scan_qr(id: QrId) -> Result<QrRequest, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::qr_login::scan(&caller.app, &principal, &id, &caller.client).await
}

#[server(prefix = "/api", endpoint = "qr/approve", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn approve_qr(
    id: QrId,
    #[server(default)] verification: Option<String>,
) -> Result<QrAnswer, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::passkeys::check_approval(&caller.app, &principal, verification.as_deref())
        .await?;
    crate::domain::qr_login::approve(&caller.app, &principal, &id, &caller.client).await?;
    Ok(QrAnswer {
        state: QrState::Approved,
    })
}

#[server(prefix = "/api", endpoint = "qr/deny", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn deny_qr(id: QrId) -> Result<QrAnswer, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::qr_login::deny(&caller.app, &principal, &id, &caller.client).await?;
    Ok(QrAnswer {
        state: QrState::Denied,
    })
}
