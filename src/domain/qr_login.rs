//! QR sign-in, step by step: the desktop creates a code and long-polls it with its secret; the
//! phone scans, then approves or denies; the desktop redeems an approval for a session of its own.

use std::pin::pin;
use std::time::Duration;

use chrono::Utc;

use crate::api::{QrCreated, QrPoll, QrRequest, SignInMethod};
use crate::db::qr_logins::{self, Actor, QrRow};
use crate::db::{self, audit::AuditEvent};
use crate::domain::qr::{QrState, QrTransition};
use crate::domain::tokens::{hash_secret, random_secret};
use crate::domain::{ClientInfo, Principal, Sesame, sessions, user_agent};
use crate::error::{AppError, AppResult};

/// 128 random bits in the public id (it is in the QR code), 256 in the desktop's poll secret.
const ID_BYTES: usize = 16;
const SECRET_BYTES: usize = 32;

pub async fn create(app: &Sesame, client: &ClientInfo) -> AppResult<QrCreated> {
    app.limits.qr_create_per_ip.hit(&client.ip)?;
    let id = random_secret(ID_BYTES);
    let secret = random_secret(SECRET_BYTES);
    let lifetime = app.settings.qr_lifetime_seconds;
    let expires_at = Utc::now() + chrono::Duration::seconds(lifetime);
    qr_logins::insert(
        &app.db,
        &id,
        &hash_secret(&secret),
        expires_at,
        &client.user_agent,
        &client.ip,
    )
    .await?;
    audit(app, "qr_create", None, &id, client).await?;
    Ok(QrCreated {
        url: format!("{}/qr/{id}", app.settings.public_url()),
        id,
        secret,
        expires_in: lifetime,
    })
}

/// The desktop's long poll. Answers at once when the code's state differs from `seen` (what the
/// desktop last showed; `pending` if it did not say), otherwise waits for a change, the code's
/// expiry or `qr_poll_seconds`, whichever comes first. An approval is redeemed here, once.
pub async fn poll(
    app: &Sesame,
    id: &str,
    secret: &str,
    seen: Option<QrState>,
    client: &ClientInfo,
) -> AppResult<QrPoll> {
    let secret_hash = hash_secret(secret);
    let seen = seen.unwrap_or(QrState::Pending);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(app.settings.qr_poll_seconds);
    let subscription = app.qr_events.subscribe(id);
    loop {
        // Armed before reading, so a change between the read and the wait is not missed.
        let mut changed = pin!(subscription.notify.notified());
        changed.as_mut().enable();

        // A wrong secret and an unknown id look the same: the caller learns nothing.
        let row = qr_logins::find_with_secret(&app.db, id, &secret_hash)
            .await?
            .ok_or_else(AppError::not_found)?;
        let state = current_state(app, &row).await?;
        if state == QrState::Approved {
            if let Some(answer) = redeem(app, &row, &secret_hash, client).await? {
                return Ok(answer);
            }
            continue; // someone else redeemed it a moment ago: read again
        }
        let answer = || QrPoll {
            state,
            scanned_by: (state == QrState::Scanned)
                .then(|| row.scanned_by_name.clone())
                .flatten(),
            tokens: None,
        };
        if state != seen || state.is_terminal() || app.qr_events.is_closing() {
            return Ok(answer());
        }
        let until_expiry = (row.expires_at - Utc::now()).to_std().unwrap_or_default();
        let wake_at =
            deadline.min(tokio::time::Instant::now() + until_expiry + Duration::from_millis(50));
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep_until(wake_at) => {
                // Nothing was announced, so nothing changed: answer without asking the database
                // again. (Expiry is not announced; it wakes us before the deadline and is read.)
                if wake_at == deadline {
                    return Ok(answer());
                }
            }
        }
    }
}

/// The row's state, moving it to `expired` first if its time is up.
async fn current_state(app: &Sesame, row: &QrRow) -> AppResult<QrState> {
    let state = row.state;
    if state.is_terminal() || row.expires_at > Utc::now() {
        return Ok(state);
    }
    qr_logins::apply(
        &app.db,
        &row.id,
        QrTransition::Expire,
        Actor::default(),
        0.0,
    )
    .await?;
    Ok(QrState::Expired)
}

/// Consumes the approval and starts the desktop's own session in one transaction. `None` when
/// another request won the race.
async fn redeem(
    app: &Sesame,
    row: &QrRow,
    secret_hash: &[u8],
    client: &ClientInfo,
) -> AppResult<Option<QrPoll>> {
    let Some(user_id) = row.scanned_by else {
        return Ok(None);
    };
    let mut tx = app.db.begin().await?;
    let actor = Actor {
        user_id: None,
        secret_hash: Some(secret_hash),
    };
    if !qr_logins::apply(&mut *tx, &row.id, QrTransition::Redeem, actor, 0.0).await? {
        return Ok(None);
    }
    let (session_id, tokens) =
        sessions::start_in(app, &mut tx, user_id, SignInMethod::Qr, client).await?;
    qr_logins::set_session(&mut *tx, &row.id, session_id).await?;
    let event = AuditEvent {
        event: QrTransition::Redeem.event(),
        user_id: Some(user_id),
        session_id: Some(session_id),
        ip: &client.ip,
        detail: &row.id,
    };
    db::audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Some(QrPoll {
        state: QrState::Approved,
        scanned_by: row.scanned_by_name.clone(),
        tokens: Some(tokens),
    }))
}

/// The phone opened the code: the first signed-in user to do so owns it. Opening it again as that
/// user just shows the request again.
pub async fn scan(
    app: &Sesame,
    principal: &Principal,
    id: &str,
    client: &ClientInfo,
) -> AppResult<QrRequest> {
    let actor = Actor {
        user_id: Some(principal.user_id),
        secret_hash: None,
    };
    let scanned_now = qr_logins::apply(&app.db, id, QrTransition::Scan, actor, 0.0).await?;
    let row = qr_logins::find(&app.db, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    if scanned_now {
        audit(app, QrTransition::Scan.event(), Some(principal), id, client).await?;
    } else {
        refuse_unless_owner_and_open(app, &row, principal).await?;
    }
    let (browser, os) = user_agent::describe(&row.requester_user_agent);
    Ok(QrRequest {
        id: row.id.clone(),
        state: row.state,
        browser,
        os,
        ip: row.requester_ip.clone(),
        created_at: row.created_at,
        expires_in: (row.expires_at - Utc::now()).num_seconds().max(0),
    })
}

pub async fn approve(
    app: &Sesame,
    principal: &Principal,
    id: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    decide(app, principal, id, QrTransition::Approve, client).await
}

pub async fn deny(
    app: &Sesame,
    principal: &Principal,
    id: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    decide(app, principal, id, QrTransition::Deny, client).await
}

async fn decide(
    app: &Sesame,
    principal: &Principal,
    id: &str,
    transition: QrTransition,
    client: &ClientInfo,
) -> AppResult<()> {
    let actor = Actor {
        user_id: Some(principal.user_id),
        secret_hash: None,
    };
    if qr_logins::apply(
        &app.db,
        id,
        transition,
        actor,
        app.settings.qr_redeem_seconds,
    )
    .await?
    {
        return audit(app, transition.event(), Some(principal), id, client).await;
    }
    let row = qr_logins::find(&app.db, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    refuse_unless_owner_and_open(app, &row, principal).await?;
    Err(AppError::qr_conflict(
        "This sign-in request was already answered.",
    ))
}

/// Why a step on someone's code was refused: it expired, belongs to someone else, or is finished.
async fn refuse_unless_owner_and_open(
    app: &Sesame,
    row: &QrRow,
    principal: &Principal,
) -> AppResult<()> {
    if current_state(app, row).await? == QrState::Expired {
        return Err(AppError::qr_expired());
    }
    if row.scanned_by != Some(principal.user_id) {
        // Not the scanner: say no more than that it is taken.
        return Err(AppError::qr_conflict(
            "This code was scanned by another account.",
        ));
    }
    match row.state {
        QrState::Pending | QrState::Scanned => Ok(()),
        _ => Err(AppError::qr_conflict(
            "This sign-in request was already answered.",
        )),
    }
}

async fn audit(
    app: &Sesame,
    event: &str,
    principal: Option<&Principal>,
    id: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    let event = AuditEvent {
        event,
        user_id: principal.map(|p| p.user_id),
        session_id: principal.map(|p| p.session_id),
        ip: &client.ip,
        detail: id,
    };
    Ok(db::audit::record(&app.db, event).await?)
}
