//! Passkeys: add, list, rename and remove them (signed in); sign in with one (no username); and
//! the fresh proof an approval asks for where the account wants approvals confirmed
//! (`/api/verify/...`). The browser's WebAuthn JSON goes through as raw JSON text; the server
//! reads it (`domain::passkeys`).

use leptos::prelude::*;

use crate::api::client::AuthClient;
use crate::error::AppError;
use crate::proto::{
    Deleted, PasskeyAnswer, PasskeyCeremony, PasskeyId, PasskeyList, TokenResponse, Verification,
    VerificationSetting, WebAuthnJson,
};

#[server(prefix = "/api", endpoint = "passkeys/register/start", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn register_start() -> Result<PasskeyCeremony, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::passkeys::register_start(&caller.app, &principal).await
}

#[server(prefix = "/api", endpoint = "passkeys/register/finish", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn register_finish(
    ceremony: String,
    credential: WebAuthnJson,
    #[server(default)] name: Option<String>,
) -> Result<PasskeyAnswer, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    let passkey = crate::domain::passkeys::register_finish(
        &caller.app,
        &principal,
        &ceremony,
        &credential,
        name.as_deref(),
        &caller.client,
    )
    .await?;
    Ok(PasskeyAnswer { passkey })
}

#[server(prefix = "/api", endpoint = "passkeys", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn list_passkeys() -> Result<PasskeyList, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.principal().await?;
    crate::domain::passkeys::list(&caller.app, &principal).await
}

#[server(prefix = "/api", endpoint = "passkeys/rename", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn rename_passkey(id: PasskeyId, name: String) -> Result<PasskeyAnswer, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    let passkey = crate::domain::passkeys::rename(&caller.app, &principal, id, &name).await?;
    Ok(PasskeyAnswer { passkey })
}

#[server(prefix = "/api", endpoint = "passkeys/delete", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn delete_passkey(id: PasskeyId) -> Result<Deleted, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::passkeys::delete(&caller.app, &principal, id, &caller.client).await?;
    Ok(Deleted { deleted: true })
}

#[server(prefix = "/api", endpoint = "passkeys/login/start", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn login_start() -> Result<PasskeyCeremony, AppError> {
    let caller = super::request::caller().await?;
    crate::domain::passkeys::sign_in_start(&caller.app, &caller.client).await
}

/// Answers like `/api/login`.
#[server(prefix = "/api", endpoint = "passkeys/login/finish", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn login_finish(
    ceremony: String,
    credential: WebAuthnJson,
) -> Result<TokenResponse, AppError> {
    let caller = super::request::caller().await?;
    crate::domain::passkeys::sign_in_finish(&caller.app, &ceremony, &credential, &caller.client)
        .await
}

/// Starts confirming an approval with one of the account's passkeys.
#[server(prefix = "/api", endpoint = "verify/passkey/start", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn verify_start() -> Result<PasskeyCeremony, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::passkeys::verify_start(&caller.app, &principal).await
}

#[server(prefix = "/api", endpoint = "verify/passkey/finish", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn verify_finish(
    ceremony: String,
    credential: WebAuthnJson,
) -> Result<Verification, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::passkeys::verify_finish(&caller.app, &principal, &ceremony, &credential).await
}

/// Confirms with the password instead (no passkey at hand).
#[server(prefix = "/api", endpoint = "verify/password", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn verify_password(password: String) -> Result<Verification, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::passkeys::verify_password(&caller.app, &principal, password, &caller.client)
        .await
}

/// Turns "approvals confirmed with a passkey" on (needs a passkey) or off (needs a fresh proof).
#[server(prefix = "/api", endpoint = "verify/setting", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn set_verification(
    approvals_need_verification: bool,
    #[server(default)] verification: Option<String>,
) -> Result<VerificationSetting, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::passkeys::set_approvals_need_verification(
        &caller.app,
        &principal,
        approvals_need_verification,
        verification.as_deref(),
    )
    .await?;
    Ok(VerificationSetting {
        approvals_need_verification,
    })
}
