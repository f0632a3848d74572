//! Registration and password sign-in.

use crate::api::{SignInMethod, TokenResponse};
use crate::db::{self, audit::AuditEvent};
use crate::domain::password::{check_password, check_username};
use crate::domain::{ClientInfo, Sesame, sessions};
use crate::error::{AppError, AppResult, ErrorCode};

pub async fn register(
    app: &Sesame,
    username: &str,
    password: String,
    client: &ClientInfo,
) -> AppResult<TokenResponse> {
    let username = check_username(username)?;
    check_password(&password)?;
    // Registration hashes a password too, so it shares the per-IP sign-in budget.
    app.limits.login_per_ip.hit(&client.ip)?;
    let hash = app.passwords.hash(password).await?;
    let user = match db::users::insert(&app.db, username, &hash).await {
        Ok(user) => user,
        Err(e) if db::is_unique_violation(&e) => {
            return Err(AppError::new(
                ErrorCode::UsernameTaken,
                "That username is taken.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let event = AuditEvent {
        event: "register",
        user_id: Some(user.id),
        ip: &client.ip,
        ..Default::default()
    };
    db::audit::record(&app.db, event).await?;
    sessions::start(app, user.id, SignInMethod::Password, client).await
}

pub async fn login(
    app: &Sesame,
    username: &str,
    password: String,
    client: &ClientInfo,
) -> AppResult<TokenResponse> {
    // Failures are counted per account *and* IP: guessing from one network cannot lock the real
    // user out from another, while the per-IP limit caps guessing across many accounts.
    let account_key = format!("{}|{}", username.trim().to_lowercase(), client.ip);
    app.limits.login_per_ip.hit(&client.ip)?;
    app.limits.login_failures.check(&account_key)?;

    let user = db::users::find_by_username(&app.db, username.trim()).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = app.passwords.verify(password, stored).await?;
    let Some(user) = user.as_ref().filter(|_| matches) else {
        app.limits.login_failures.record(&account_key);
        let detail = format!(
            "username={}",
            username.trim().chars().take(64).collect::<String>()
        );
        let user_id = user.map(|u| u.id);
        let event = AuditEvent {
            event: "login_failed",
            user_id,
            ip: &client.ip,
            detail: &detail,
            ..Default::default()
        };
        db::audit::record(&app.db, event).await?;
        return Err(AppError::invalid_credentials());
    };
    app.limits.login_failures.reset(&account_key);
    sessions::start(app, user.id, SignInMethod::Password, client).await
}
