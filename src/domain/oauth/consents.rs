//! "Connected apps": the apps a person allowed, and withdrawing that, which also ends the app's
//! sessions (and so tells the app, through back-channel logout).

use crate::db::{self, audit::AuditEvent};
use crate::domain::{Device, Principal, Sesame};
use crate::error::{AppError, AppResult};
use crate::proto::{ConnectedApp, ConnectedApps, Withdrawn};

pub async fn list(app: &Sesame, principal: &Principal) -> AppResult<ConnectedApps> {
    let rows = db::oauth_consents::list(&app.db, principal.user_id).await?;
    Ok(ConnectedApps {
        apps: rows
            .into_iter()
            .map(|row| ConnectedApp {
                client_id: row.client_id,
                name: row.name,
                scopes: row.scope.split(' ').map(str::to_owned).collect(),
                granted_at: row.granted_at,
            })
            .collect(),
    })
}

/// Forgets the consent and ends the app's sessions, in one transaction; 404 when the app was not
/// connected.
pub async fn withdraw(
    app: &Sesame,
    principal: &Principal,
    client_id: &str,
    device: &Device,
) -> AppResult<Withdrawn> {
    let mut tx = app.db.begin().await?;
    if !db::oauth_consents::withdraw(&mut *tx, principal.user_id, client_id).await? {
        return Err(AppError::not_found());
    }
    let revoked = db::sessions::revoke_app(&mut *tx, principal.user_id, client_id).await?;
    // Shown in the activity by the app's name, as its `app_authorized` is.
    let name = db::oauth_clients::find(&mut *tx, client_id)
        .await?
        .map_or_else(|| client_id.to_owned(), |client| client.name);
    let event = AuditEvent {
        event: "app_disconnected",
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id),
        ip: &device.ip(),
        user_agent: &device.user_agent,
        detail: &name,
    };
    db::audit::record(&mut *tx, event).await?;
    db::notices::wake_user(&mut *tx, principal.user_id).await?;
    tx.commit().await?;
    Ok(Withdrawn {
        withdrawn: true,
        revoked,
    })
}
