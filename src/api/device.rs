//! Device sign-in, the person's side: look up the code a TV or terminal shows, then approve or
//! deny it. The device's own calls are `/oauth/device_authorization` and `/oauth/token`
//! (`server::oauth`).

use leptos::prelude::*;

use crate::api::client::AuthClient;
use crate::error::AppError;
use crate::proto::{DeviceAnswer, DeviceRequest};

/// Who is asking for the code `user_code` (any case, spaces and dashes ignored).
#[server(prefix = "/api", endpoint = "device/lookup", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn lookup_device(user_code: String) -> Result<DeviceRequest, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.principal().await?;
    crate::domain::oauth::device::lookup(&caller.app, &principal, &user_code, &caller.client).await
}

#[server(prefix = "/api", endpoint = "device/approve", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn approve_device(
    user_code: String,
    #[server(default)] verification: Option<String>,
) -> Result<DeviceAnswer, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::passkeys::check_approval(&caller.app, &principal, verification.as_deref())
        .await?;
    crate::domain::oauth::device::decide(&caller.app, &principal, &user_code, true, &caller.client)
        .await?;
    Ok(DeviceAnswer {
        state: "approved".into(),
    })
}

#[server(prefix = "/api", endpoint = "device/deny", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn deny_device(user_code: String) -> Result<DeviceAnswer, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::oauth::device::decide(
        &caller.app,
        &principal,
        &user_code,
        false,
        &caller.client,
    )
    .await?;
    Ok(DeviceAnswer {
        state: "denied".into(),
    })
}
