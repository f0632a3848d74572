//! The account's security history, read from the audit trail: which audit events a person sees,
//! and as what.

use crate::db::audit::{self, AuditRow};
use crate::domain::{Principal, Sesame, user_agent};
use crate::error::AppResult;
use crate::proto::{ActivityEvent, ActivityKind, ActivityPage, SignInMethod};

/// Events per page.
pub const PAGE: usize = 50;

/// Audit event names and what they are shown as. Registering and QR redemption also write a
/// `login` event (through `sessions::start_in`), which is the sign-in shown; wrong passwords
/// given to change the password or delete the account count as failed sign-ins.
const SHOWN: &[(&str, ActivityKind)] = &[
    ("login", ActivityKind::SignIn),
    ("login_failed", ActivityKind::SignInFailed),
    ("password_check_failed", ActivityKind::SignInFailed),
    ("qr_approve", ActivityKind::QrApproved),
    ("qr_deny", ActivityKind::QrDenied),
    ("logout", ActivityKind::SessionEnded),
    ("revoke", ActivityKind::SessionEnded),
    ("revoke_others", ActivityKind::SessionEnded),
    ("password_changed", ActivityKind::PasswordChanged),
    ("refresh_reuse", ActivityKind::RefreshReuse),
    ("app_authorized", ActivityKind::AppAuthorized),
    ("app_disconnected", ActivityKind::AppDisconnected),
    ("passkey_added", ActivityKind::PasskeyAdded),
    ("passkey_removed", ActivityKind::PasskeyRemoved),
];

/// One page of the signed-in user's history, newest first, starting below id `before`.
pub async fn page(
    app: &Sesame,
    principal: &Principal,
    before: Option<i64>,
) -> AppResult<ActivityPage> {
    let names: Vec<&str> = SHOWN.iter().map(|(name, _)| *name).collect();
    let mut rows =
        audit::page_for_user(&app.db, principal.user_id, &names, before, PAGE as i64 + 1).await?;
    let next = (rows.len() > PAGE).then(|| rows[PAGE - 1].id);
    rows.truncate(PAGE);
    Ok(ActivityPage {
        events: rows.into_iter().filter_map(event).collect(),
        next,
    })
}

fn event(row: AuditRow) -> Option<ActivityEvent> {
    let kind = SHOWN
        .iter()
        .find(|(name, _)| *name == row.event)
        .map(|(_, kind)| *kind)?;
    let method = match (kind, row.detail.as_str()) {
        (ActivityKind::SignIn, "qr") => Some(SignInMethod::Qr),
        (ActivityKind::SignIn, "passkey") => Some(SignInMethod::Passkey),
        (ActivityKind::SignIn, _) => Some(SignInMethod::Password),
        // A refused passkey is said as such; a wrong password has no detail.
        (ActivityKind::SignInFailed, "passkey") => Some(SignInMethod::Passkey),
        _ => None,
    };
    let app = matches!(
        kind,
        ActivityKind::AppAuthorized | ActivityKind::AppDisconnected
    )
    .then(|| row.detail.clone());
    let passkey = matches!(
        kind,
        ActivityKind::PasskeyAdded | ActivityKind::PasskeyRemoved
    )
    .then(|| row.detail.clone());
    let (browser, os) = user_agent::describe(&row.user_agent);
    Some(ActivityEvent {
        id: row.id,
        kind,
        at: row.at,
        ip: row.ip,
        browser,
        os,
        session_id: row.session_id,
        method,
        app,
        passkey,
    })
}
