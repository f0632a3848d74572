//! QR sign-in, step by step: the desktop creates a code and long-polls it with its secret; the
//! phone scans, then approves or denies; the desktop redeems an approval for a session of its own.

use std::net::IpAddr;
use std::pin::pin;
use std::time::Duration;

use crate::db::qr_logins::{self, QrRow};
use crate::db::{self, audit::AuditEvent};
use crate::domain::device::same_network;
use crate::domain::qr::{QrState, QrTransition};
use crate::domain::sessions::Start;
use crate::domain::tokens::{hash_secret, random_secret};
use crate::domain::{Device, Principal, Sesame, rate_limit, sessions, user_agent};
use crate::error::{AppError, AppResult};
use crate::metrics::{self, SignInResult};
use crate::proto::{QrCreated, QrId, QrPoll, QrRequest, SignInMethod};

/// 128 random bits in the public id (it is in the QR code), 256 in the desktop's poll secret.
const ID_BYTES: usize = 16;
const SECRET_BYTES: usize = 32;

pub async fn create(app: &Sesame, client: &Device) -> AppResult<QrCreated> {
    let network = client.network_key();
    rate_limit::count(&app.db, &[(&app.limits.qr_create_per_ip, &network)]).await?;
    let id = QrId(random_secret(ID_BYTES));
    let secret = random_secret(SECRET_BYTES);
    let lifetime = app.settings.qr_lifetime;
    qr_logins::insert(
        &app.db,
        &id,
        &hash_secret(&secret),
        lifetime.as_secs_f64(),
        &client.user_agent,
        &client.ip(),
    )
    .await?;
    audit(app, "qr_create", None, &id, client).await?;
    metrics::qr_code("created");
    let url = format!("{}/qr/{id}", app.settings.public_url());
    let (qr_svg_path, qr_svg_size) = super::qr_image::qr_path(&url)
        .ok_or_else(|| AppError::internal(format!("URL too long for a QR code: {url}")))?;
    Ok(QrCreated {
        qr_svg_path,
        qr_svg_size: qr_svg_size as u32,
        url,
        id,
        secret,
        expires_in: lifetime.as_secs() as i64,
    })
}

/// The desktop's long poll. Answers at once when the code's state differs from `seen` (what the
/// desktop last showed; `pending` if it did not say), otherwise waits for a change, the code's
/// expiry or `qr_poll_wait`, whichever comes first. An approval is redeemed here, once.
pub async fn poll(
    app: &Sesame,
    id: &QrId,
    secret: &str,
    seen: Option<QrState>,
    client: &Device,
) -> AppResult<QrPoll> {
    let secret_hash = hash_secret(secret);
    let seen = seen.unwrap_or(QrState::Pending);
    let deadline = tokio::time::Instant::now() + app.settings.qr_poll_wait;
    let mut subscription = app.qr_events.subscribe(id.clone(), &client.network_key())?;
    let (changed_signal, displaced) =
        (subscription.changed.clone(), subscription.displaced.clone());
    let mut displaced = pin!(displaced.notified());
    loop {
        // Armed before reading, so a change between the read and the wait is not missed.
        let mut changed = pin!(changed_signal.notified());
        changed.as_mut().enable();

        // A wrong secret and an unknown id look the same: the caller learns nothing.
        let row = qr_logins::find_with_secret(&app.db, id, &secret_hash)
            .await?
            .ok_or_else(AppError::not_found)?;
        // One holder: the polls of a code compete with each other, whoever sent them.
        subscription.take_place(0);
        let state = current_state(app, &row).await?;
        if state == QrState::Approved {
            if let Some(answer) = redeem(app, &row, &secret_hash, client).await? {
                return Ok(answer);
            }
            // Another request redeemed it a moment ago, or the approving session has ended
            // (then the code expires): read again.
            qr_logins::expire(&app.db, id).await?;
            continue;
        }
        let answer = || {
            let scanned = state == QrState::Scanned;
            QrPoll {
                state,
                scanned_by: row.scanned_by_handle.clone().filter(|_| scanned),
                scanned_by_name: row.scanned_by_name.clone().filter(|_| scanned),
                tokens: None,
            }
        };
        if state != seen || state.is_terminal() || app.qr_events.is_closing() {
            return Ok(answer());
        }
        // Expiry is not announced: wake a moment after it (by the database's clock) to see it.
        let until_expiry = Duration::from_secs_f64(row.seconds_left.max(0.0) + 0.05);
        let wake_at = deadline.min(tokio::time::Instant::now() + until_expiry);
        tokio::select! {
            _ = changed => {}
            // A newer poll of this code took this one's place: answer with what we know.
            _ = displaced.as_mut() => return Ok(answer()),
            _ = tokio::time::sleep_until(wake_at) => {
                // Nothing was announced, so nothing changed: answer without asking again.
                if wake_at == deadline {
                    return Ok(answer());
                }
            }
        }
    }
}

/// The row's state, moving it to `expired` first if its time is up.
async fn current_state(app: &Sesame, row: &QrRow) -> AppResult<QrState> {
    if row.state.is_terminal() || !row.past_expiry {
        return Ok(row.state);
    }
    if qr_logins::expire(&app.db, &row.id).await? {
        metrics::qr_code("expired");
    }
    Ok(QrState::Expired)
}

/// Consumes the approval and starts the desktop's own session in one transaction. The session
/// ends no later than the phone session that approved it. `None` when another request won the
/// race or the approving session has ended.
async fn redeem(
    app: &Sesame,
    row: &QrRow,
    secret_hash: &[u8],
    client: &Device,
) -> AppResult<Option<QrPoll>> {
    let mut tx = app.db.begin().await?;
    let Some(redeemed) = qr_logins::redeem(&mut *tx, &row.id, secret_hash).await? else {
        return Ok(None);
    };
    let start = Start {
        user_id: redeemed.user_id,
        method: SignInMethod::Qr,
        approved_by: Some((redeemed.approved_by, redeemed.approver_expires_at)),
        app: None,
    };
    let (session_id, tokens) = sessions::start_in(app, &mut tx, start, client).await?;
    qr_logins::set_session(&mut *tx, &row.id, session_id).await?;
    let event = AuditEvent {
        event: QrTransition::Redeem.event(),
        user_id: Some(redeemed.user_id),
        session_id: Some(session_id),
        ip: &client.ip(),
        user_agent: &client.user_agent,
        detail: &row.id.0,
    };
    db::audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    metrics::qr_code("consumed");
    metrics::sign_in(SignInMethod::Qr, SignInResult::Success);
    Ok(Some(QrPoll {
        state: QrState::Approved,
        scanned_by: row.scanned_by_handle.clone(),
        scanned_by_name: row.scanned_by_name.clone(),
        tokens: Some(tokens),
    }))
}

/// The phone opened the code: the first signed-in user to do so owns it. Opening it again as that
/// user just shows the request again.
pub async fn scan(
    app: &Sesame,
    principal: &Principal,
    id: &QrId,
    client: &Device,
) -> AppResult<QrRequest> {
    let scanned_now = qr_logins::scan(&app.db, id, principal.user_id).await?;
    let row = qr_logins::find(&app.db, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    if scanned_now {
        audit(app, QrTransition::Scan.event(), Some(principal), id, client).await?;
    } else {
        refuse_unless_owner_and_open(app, &row, principal).await?;
    }
    let (browser, os) = user_agent::describe(&row.requester_user_agent);
    let same_network = row
        .requester_ip
        .parse::<IpAddr>()
        .is_ok_and(|desktop| same_network(desktop, client.addr));
    Ok(QrRequest {
        id: row.id,
        state: row.state,
        browser,
        os,
        ip: row.requester_ip,
        created_at: row.created_at,
        expires_in: row.seconds_left.max(0.0) as i64,
        same_network,
    })
}

pub async fn approve(
    app: &Sesame,
    principal: &Principal,
    id: &QrId,
    client: &Device,
) -> AppResult<()> {
    let approved = qr_logins::approve(
        &app.db,
        id,
        principal.user_id,
        principal.session_id,
        app.settings.qr_redeem_window.as_secs_f64(),
    )
    .await?;
    decided(app, principal, id, QrTransition::Approve, approved, client).await
}

pub async fn deny(
    app: &Sesame,
    principal: &Principal,
    id: &QrId,
    client: &Device,
) -> AppResult<()> {
    let denied = qr_logins::deny(&app.db, id, principal.user_id).await?;
    decided(app, principal, id, QrTransition::Deny, denied, client).await
}

/// After an approve or deny: audit it if it happened, else say why not.
async fn decided(
    app: &Sesame,
    principal: &Principal,
    id: &QrId,
    transition: QrTransition,
    happened: bool,
    client: &Device,
) -> AppResult<()> {
    if happened {
        metrics::qr_code(if transition == QrTransition::Approve {
            "approved"
        } else {
            "denied"
        });
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

/// Why a step on someone's code was refused: it expired, nobody scanned it yet, it belongs to
/// someone else, or it is finished.
async fn refuse_unless_owner_and_open(
    app: &Sesame,
    row: &QrRow,
    principal: &Principal,
) -> AppResult<()> {
    if current_state(app, row).await? == QrState::Expired {
        return Err(AppError::qr_expired());
    }
    match row.scanned_by {
        None => Err(AppError::qr_conflict(
            "Scan the code with your phone first.",
        )),
        // Not the scanner: say no more than that it is taken.
        Some(owner) if owner != principal.user_id => Err(AppError::qr_conflict(
            "This code was scanned by another account.",
        )),
        Some(_) => match row.state {
            QrState::Pending | QrState::Scanned => Ok(()),
            _ => Err(AppError::qr_conflict(
                "This sign-in request was already answered.",
            )),
        },
    }
}

async fn audit(
    app: &Sesame,
    event: &str,
    principal: Option<&Principal>,
    id: &QrId,
    client: &Device,
) -> AppResult<()> {
    let event = AuditEvent {
        event,
        user_id: principal.map(|p| p.user_id),
        session_id: principal.map(|p| p.session_id),
        ip: &client.ip(),
        user_agent: &client.user_agent,
        detail: &id.0,
    };
    Ok(db::audit::record(&app.db, event).await?)
}
