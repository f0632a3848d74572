//! Registration, password sign-in, and the display name.

use unicode_normalization::UnicodeNormalization;

use crate::db::{self, audit::AuditEvent};
use crate::domain::password::check_password;
use crate::domain::rate_limit;
use crate::domain::{Device, Principal, Sesame, sessions};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::metrics::{self, SignInResult};
use crate::proto::{DISPLAY_NAME_CHARS, Handle, SignInMethod, TokenResponse, UserId};

pub async fn register(
    app: &Sesame,
    username: &str,
    password: String,
    display_name: Option<&str>,
    client: &Device,
) -> AppResult<TokenResponse> {
    let handle = Handle::parse(username)?;
    check_password(&password)?;
    let display_name = check_display_name(display_name)?;
    let slot = app.passwords.slot()?;
    // Registration hashes a password too, so it shares the per-address sign-in budget.
    let networks = client.sign_in_keys();
    let hits: Vec<_> = networks
        .iter()
        .map(|key| (&app.limits.login_per_ip, key.as_str()))
        .collect();
    rate_limit::count(&app.db, &hits).await?;
    let hash = app.passwords.hash(&slot, password).await?;
    let user = match db::users::insert(&app.db, &handle, display_name.as_deref(), &hash).await {
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
        ip: &client.ip(),
        user_agent: &client.user_agent,
        ..Default::default()
    };
    db::audit::record(&app.db, event).await?;
    let mut tokens = sessions::start(app, user.id, client).await?;
    tokens.known_browser = Some(app.known_browsers.issue(&handle));
    Ok(tokens)
}

pub async fn login(
    app: &Sesame,
    username: &str,
    password: String,
    client: &Device,
) -> AppResult<TokenResponse> {
    let handle = Handle::parse(username)?;
    let known = app
        .known_browsers
        .recognize(&handle, client.known_browser.as_deref());
    let slot = app.passwords.slot_for(known.is_some())?;
    let limited = |_: &AppError| metrics::sign_in(SignInMethod::Password, SignInResult::Limited);
    // The network's budget first: a network over it (guessing across many names) writes no
    // further counters. Attempts are counted before the password is checked, so concurrent
    // guesses cannot all pass the check before any of them is counted.
    let networks = client.sign_in_keys();
    let hits: Vec<_> = networks
        .iter()
        .map(|key| (&app.limits.login_per_ip, key.as_str()))
        .collect();
    rate_limit::count(&app.db, &hits)
        .await
        .inspect_err(limited)?;
    // Then the account's. Failures per account *and* network lock only that network out (a
    // success forgives them), so guessing from one network cannot lock the real user out from
    // another. Attempts from all networks together have an hourly budget; beyond it the account
    // slows to one attempt per interval rather than locking, which would let anyone lock anyone
    // out. A known browser (the account's real user) has a small budget of its own instead, so
    // neither a flood nor a stolen token touches the other; QR and passkey sign-in stay open.
    let account_key = format!("{handle}|{}", client.network_key());
    let limits = &app.limits;
    let budget = match &known {
        Some(browser) => (&limits.known_browser_sign_ins, browser.as_str()),
        None => (&limits.sign_ins_per_account, handle.as_str()),
    };
    let account_hits = [(&limits.login_failures, account_key.as_str()), budget];
    let over = rate_limit::over_limits(&app.db, &account_hits).await?;
    if let Some(seconds) = over[0] {
        let error = AppError::rate_limited(seconds);
        limited(&error);
        return Err(error);
    }
    if over[1].is_some() {
        rate_limit::count(&app.db, &[(&limits.slow_sign_ins, handle.as_str())])
            .await
            .inspect_err(limited)?;
    }

    let user = db::users::find_by_handle(&app.db, &handle).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = app.passwords.verify(&slot, password, stored).await?;
    let Some(user) = user.as_ref().filter(|_| matches) else {
        // Only an existing account's failures are kept: a name typed for no account is often a
        // password typed into the wrong field, and must not sit in the audit trail.
        if let Some(user) = &user {
            failed_for(app, user.id, &handle, client).await?;
        }
        metrics::sign_in(SignInMethod::Password, SignInResult::Failure);
        return Err(AppError::invalid_credentials());
    };
    rate_limit::forget(&app.db, &app.limits.login_failures, &account_key).await?;
    metrics::sign_in(SignInMethod::Password, SignInResult::Success);
    let mut tokens = sessions::start(app, user.id, client).await?;
    tokens.known_browser = Some(app.known_browsers.issue(&handle));
    Ok(tokens)
}

/// Records a refused password for an existing account, and tells its owner's devices once the
/// hour's failures reach 5, 10, 20, … (the activity page lists each attempt).
async fn failed_for(
    app: &Sesame,
    user_id: UserId,
    handle: &Handle,
    client: &Device,
) -> AppResult<()> {
    let event = AuditEvent {
        event: "login_failed",
        user_id: Some(user_id),
        ip: &client.ip(),
        user_agent: &client.user_agent,
        ..Default::default()
    };
    db::audit::record(&app.db, event).await?;
    let failures = rate_limit::tally(&app.db, &app.limits.failed_sign_ins, handle.as_str()).await?;
    db::notices::insert_failed_attempts(
        &app.db,
        user_id,
        failures,
        &client.user_agent,
        &client.ip(),
    )
    .await?;
    Ok(())
}

/// Sets or (with `None` or blank) clears the display name of the signed-in user.
pub async fn set_display_name(
    app: &Sesame,
    principal: &Principal,
    display_name: Option<&str>,
) -> AppResult<Option<String>> {
    let display_name = check_display_name(display_name)?;
    db::users::set_display_name(&app.db, principal.user_id, display_name.as_deref()).await?;
    Ok(display_name)
}

/// A display name is free text in any script, NFC-normalized (so one name has one form),
/// 1–64 characters, without control characters or the invisible formatting characters that can
/// reorder or hide text (bidi overrides, zero-width joiners). Blank means none.
pub fn check_display_name(name: Option<&str>) -> AppResult<Option<String>> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let name: String = name.nfc().collect();
    if !DISPLAY_NAME_CHARS.contains(&name.chars().count()) {
        return Err(AppError::invalid_input(format!(
            "The display name must be {} to {} characters long.",
            DISPLAY_NAME_CHARS.start(),
            DISPLAY_NAME_CHARS.end()
        )));
    }
    let invisible = |c: char| {
        matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    if name.chars().any(|c| c.is_control() || invisible(c)) {
        return Err(AppError::invalid_input(
            "The display name may not contain control or invisible formatting characters.",
        ));
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::check_display_name;

    #[test]
    fn display_names_are_nfc_and_free_of_control_characters() {
        // "é" typed as e + combining acute becomes the single precomposed character.
        assert_eq!(
            check_display_name(Some(" Re\u{301}ne "))
                .unwrap()
                .as_deref(),
            Some("R\u{e9}ne")
        );
        assert_eq!(
            check_display_name(Some("张三丰")).unwrap().as_deref(),
            Some("张三丰")
        );
        assert_eq!(check_display_name(Some("   ")).unwrap(), None);
        assert_eq!(check_display_name(None).unwrap(), None);
        assert!(check_display_name(Some(&"名".repeat(64))).is_ok());
        assert!(check_display_name(Some(&"名".repeat(65))).is_err());
        assert!(check_display_name(Some("a\nb")).is_err());
        assert!(check_display_name(Some("evil\u{202E}gpj.exe")).is_err());
        assert!(check_display_name(Some("ali\u{200B}ce")).is_err());
    }
}
