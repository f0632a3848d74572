//! Changing the password and deleting the account. Both ask for the current password again, and
//! a wrong one counts against the same per-account-and-network failure limit as signing in, so a
//! stolen access token cannot be used to guess the password any faster than the sign-in form.

use crate::db::{self, audit::AuditEvent};
use crate::domain::password::{QueueSlot, check_password};
use crate::domain::{Device, Principal, Sesame, rate_limit, sessions};
use crate::error::{AppError, AppResult};

/// Sets a new password and ends every other session of the user; this one stays. Returns how
/// many sessions were ended.
pub async fn change_password(
    app: &Sesame,
    principal: &Principal,
    current_password: String,
    new_password: String,
    client: &Device,
) -> AppResult<u64> {
    check_password(&new_password)?;
    let slot = app.passwords.slot()?;
    confirm_password(app, &slot, principal, current_password, client).await?;
    let hash = app.passwords.hash(&slot, new_password).await?;
    let mut tx = app.db.begin().await?;
    db::users::set_password_hash(&mut *tx, principal.user_id, &hash).await?;
    let revoked = sessions::end_others_in(&mut tx, principal, client, "password_changed").await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Deletes the account for good: its sessions end at once, codes it scanned are denied, its
/// notices and counters go, and the username is free again. The audit trail keeps what
/// happened, when and from which address, but no name or user agent of the account.
pub async fn delete_account(
    app: &Sesame,
    principal: &Principal,
    password: String,
    client: &Device,
) -> AppResult<()> {
    let slot = app.passwords.slot()?;
    confirm_password(app, &slot, principal, password, client).await?;
    drop(slot);
    let mut tx = app.db.begin().await?;
    db::qr_logins::cancel_for_user(&mut *tx, principal.user_id).await?;
    db::audit::scrub_user(&mut *tx, principal.user_id).await?;
    let failures = app
        .limits
        .login_failures
        .key(&format!("{}|", principal.username));
    db::rate_limits::forget_prefix(&mut *tx, &failures).await?;
    let limits = &app.limits;
    for limit in [
        &limits.sign_ins_per_account,
        &limits.slow_sign_ins,
        &limits.failed_sign_ins,
    ] {
        db::rate_limits::forget(&mut *tx, &limit.key(principal.username.as_str())).await?;
    }
    db::notices::wake_user(&mut *tx, principal.user_id).await?;
    if !db::users::delete(&mut *tx, principal.user_id).await? {
        return Err(AppError::session_ended());
    }
    let event = AuditEvent {
        event: "account_deleted",
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id),
        ip: &client.ip(),
        ..Default::default()
    };
    db::audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    tracing::info!(user = %principal.user_id, "account deleted");
    Ok(())
}

/// The current password, checked like a sign-in: counted first, so parallel guesses cannot all
/// get in before the count; a wrong one is audited and answered 401 `invalid_credentials`.
pub(crate) async fn confirm_password(
    app: &Sesame,
    slot: &QueueSlot,
    principal: &Principal,
    password: String,
    client: &Device,
) -> AppResult<()> {
    let account_key = format!("{}|{}", principal.username, client.network_key());
    rate_limit::count(&app.db, &[(&app.limits.login_failures, &account_key)]).await?;
    let stored = db::users::find_by_id(&app.db, principal.user_id)
        .await?
        .ok_or_else(AppError::session_ended)?
        .password_hash;
    if app.passwords.verify(slot, password, Some(stored)).await? {
        rate_limit::forget(&app.db, &app.limits.login_failures, &account_key).await?;
        return Ok(());
    }
    let event = AuditEvent {
        event: "password_check_failed",
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id),
        ip: &client.ip(),
        user_agent: &client.user_agent,
        ..Default::default()
    };
    db::audit::record(&app.db, event).await?;
    Err(AppError::new(
        crate::error::ErrorCode::InvalidCredentials,
        "Wrong password.",
    ))
}
