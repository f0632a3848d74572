//! The security center: live "new sign-in" notices, the account's security activity, changing
//! the password, deleting the account.

use leptos::prelude::*;

use crate::api::client::AuthClient;
use crate::error::AppError;
use crate::proto::{ActivityPage, Deleted, NoticePoll, Revoked};

/// Long poll. Without `after`: the current cursor at once. With it: notices newer than `after`
/// as soon as there are any, or none after about 25 s.
#[server(prefix = "/api", endpoint = "notices/poll", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn poll_notices(#[server(default)] after: Option<i64>) -> Result<NoticePoll, AppError> {
    let caller = super::request::caller().await?;
    crate::domain::notices::poll_for_token(&caller.app, caller.bearer(), after, &caller.client)
        .await
}

/// The signed-in user's security history, newest first, 50 a page.
#[server(prefix = "/api", endpoint = "activity", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn activity(#[server(default)] before: Option<i64>) -> Result<ActivityPage, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.principal().await?;
    crate::domain::activity::page(&caller.app, &principal, before).await
}

/// Sets a new password and ends every other session; answers how many were ended.
#[server(prefix = "/api", endpoint = "password", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<Revoked, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    let revoked = crate::domain::account_security::change_password(
        &caller.app,
        &principal,
        current_password,
        new_password,
        &caller.client,
    )
    .await?;
    Ok(Revoked { revoked })
}

#[server(prefix = "/api", endpoint = "account/delete", input = server_fn::codec::Json, input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema), client = AuthClient)]
pub async fn delete_account(password: String) -> Result<Deleted, AppError> {
    let caller = super::request::caller().await?;
    let principal = caller.writer().await?;
    crate::domain::account_security::delete_account(
        &caller.app,
        &principal,
        password,
        &caller.client,
    )
    .await?;
    Ok(Deleted { deleted: true })
}
