//! Device sign-in (OAuth 2.0 Device Authorization Grant, RFC 8628): a TV, console or terminal
//! asks for a code pair, shows the short user code (and a QR code of the link that carries it),
//! and polls the token endpoint while the person approves on a device where they are signed in.
//!
//! The approve screen is the QR sign-in's: who is asking (app, address, browser or client, when),
//! whether it is on the person's network, and "only approve a device in front of you" — the one
//! defence against device-code phishing, where someone relays their own code to a victim.

use chrono::Utc;
use serde::Serialize;

use super::clients::{Client, Grant};
use super::grants::{self, Tokens};
use super::{issuer, parse_scope};
use crate::db::{self, audit::AuditEvent, device_codes::NewDeviceCode};
use crate::domain::sessions::{self, AppGrant, Start};
use crate::domain::tokens::{hash_secret, random_secret};
use crate::domain::{Device, Principal, Sesame, rate_limit, user_agent};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::metrics::{self, SignInResult};
use crate::proto::{DeviceRequest, SignInMethod};

/// User codes: 8 letters without vowels (no words) or look-alikes (no 0/O, 1/I) — about 34.6
/// bits, which the short lifetime and the per-account and per-network limits make unguessable.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// RFC 8628's default polling interval.
pub const INTERVAL_SECS: i64 = 5;
/// A poll this much early still counts as on time: clocks and networks jitter.
pub const JITTER_MS: i32 = 500;

/// `POST /oauth/device_authorization`'s answer (RFC 8628 §3.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Starts a device sign-in for `client`: only clients registered for the device grant.
pub async fn start(
    app: &Sesame,
    client: &Client,
    scope: Option<&str>,
    device: &Device,
) -> AppResult<DeviceAuthorization> {
    if !client.allows(Grant::DeviceCode) {
        return Err(AppError::new(
            ErrorCode::UnauthorizedClient,
            "This client is not registered for the device grant.",
        ));
    }
    // Each start writes a row: a network may start only so many, like QR codes.
    rate_limit::count(
        &app.db,
        &[(&app.limits.device_starts_per_network, &device.network_key())],
    )
    .await?;
    let mut scopes = parse_scope(scope.unwrap_or("openid"))
        .ok_or_else(|| AppError::new(ErrorCode::InvalidScope, "A requested scope is unknown."))?;
    if !client.allows(Grant::RefreshToken) {
        scopes.retain(|s| s != "offline_access");
    }
    let lifetime = chrono::Duration::from_std(app.settings.device_code_lifetime)
        .map_err(AppError::internal)?;
    let device_code = random_secret(32);
    // A clash of two live user codes is a one-in-billions event; draw again if it happens.
    for _ in 0..3 {
        let user_code = new_user_code();
        let row = NewDeviceCode {
            device_hash: hash_secret(&device_code),
            user_code_hash: hash_secret(&user_code),
            client_id: &client.id,
            scope: scopes.join(" "),
            expires_at: Utc::now() + lifetime,
            interval_ms: (INTERVAL_SECS * 1000) as i32,
            requester_ip: &device.ip(),
            requester_user_agent: &device.user_agent,
        };
        if db::device_codes::insert(&app.db, row).await? {
            let verification_uri = format!("{}/device", issuer(app));
            return Ok(DeviceAuthorization {
                device_code,
                verification_uri_complete: format!(
                    "{verification_uri}?code={}",
                    display(&user_code)
                ),
                verification_uri,
                user_code: display(&user_code),
                expires_in: lifetime.num_seconds(),
                interval: INTERVAL_SECS,
            });
        }
    }
    Err(AppError::internal("could not draw a free user code"))
}

fn new_user_code() -> String {
    let mut code = String::with_capacity(8);
    while code.len() < 8 {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).expect("the OS random number generator works");
        // 240 = 12 × 20: taking only bytes below it keeps every letter equally likely.
        if byte[0] < 240 {
            code.push(char::from(USER_CODE_ALPHABET[usize::from(byte[0] % 20)]));
        }
    }
    code
}

/// `XXXX-XXXX`, as shown on the device and on the approve screen.
pub fn display(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

/// The one form of a typed code: case, spaces and dashes ignored; `None` unless 8 letters of the
/// alphabet remain.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == 8 && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(code)
}

/// The device-code grant at the token endpoint (RFC 8628 §3.4–3.5). A poll sooner than the
/// interval (less a small allowance for jitter) is answered `slow_down`, and the interval of that
/// code grows by 5 s from then on; an approved code gives its tokens once.
pub async fn poll(
    app: &Sesame,
    client: &Client,
    device_code: &str,
    device: &Device,
) -> AppResult<Tokens> {
    if !client.allows(Grant::DeviceCode) {
        return Err(AppError::new(
            ErrorCode::UnauthorizedClient,
            "This client is not registered for the device grant.",
        ));
    }
    let hash = hash_secret(device_code);
    let polled = db::device_codes::poll(&app.db, &hash, &client.id, JITTER_MS)
        .await?
        .ok_or_else(|| AppError::invalid_grant("Unknown device code."))?;
    if polled.expired && polled.state != "consumed" {
        return Err(AppError::new(
            ErrorCode::ExpiredToken,
            "The device code has expired.",
        ));
    }
    // Only waiting is slowed down: an answer (tokens, a denial, "used") is given at once.
    if polled.slow_down && polled.state == "pending" {
        return Err(AppError::new(
            ErrorCode::SlowDown,
            format!("Poll at most every {} seconds.", polled.interval_ms / 1000),
        ));
    }
    match polled.state.as_str() {
        "pending" => Err(AppError::new(
            ErrorCode::AuthorizationPending,
            "The person has not approved yet.",
        )),
        "denied" => Err(AppError::new(
            ErrorCode::AccessDenied,
            "The person denied the request.",
        )),
        "approved" => redeem(app, client, &hash, device).await,
        _ => Err(AppError::invalid_grant("The device code was used already.")),
    }
}

/// Takes the approval and makes the device's session, together or not at all: of two polls
/// racing, one gets the tokens.
async fn redeem(app: &Sesame, client: &Client, hash: &[u8], device: &Device) -> AppResult<Tokens> {
    let mut tx = app.db.begin().await?;
    let Some(taken) = db::device_codes::consume(&mut *tx, hash).await? else {
        return Err(AppError::invalid_grant("The device code was used already."));
    };
    let Some(approver_ends) = taken.approver_expires_at else {
        tx.commit().await?;
        return Err(AppError::new(
            ErrorCode::AccessDenied,
            "The sign-in that approved this device has ended.",
        ));
    };
    let start = Start {
        user_id: taken.user_id,
        method: SignInMethod::Device,
        approved_by: Some((taken.approved_by, approver_ends)),
        app: Some(AppGrant {
            client_id: client.id.clone(),
            client_name: client.name.clone(),
            scope: taken.scope,
            auth_time: taken.auth_time,
        }),
    };
    let (session_id, refresh_token) = sessions::open_in(app, &mut tx, start, device).await?;
    db::device_codes::set_session(&mut *tx, hash, session_id).await?;
    tx.commit().await?;
    metrics::sign_in(SignInMethod::Device, SignInResult::Success);
    grants::tokens_for_session(app, client, session_id, None, refresh_token).await
}

/// The code typed (or brought by the QR link) on the approving device: who is asking. Every
/// look-up counts against the person's and the network's budget before the code is checked, so
/// thirty guesses at once are thirty guesses.
pub async fn lookup(
    app: &Sesame,
    principal: &Principal,
    typed: &str,
    device: &Device,
) -> AppResult<DeviceRequest> {
    let account = principal.user_id.to_string();
    let network = device.network_key();
    rate_limit::count(
        &app.db,
        &[
            (&app.limits.device_codes_per_account, &account),
            (&app.limits.device_codes_per_network, &network),
        ],
    )
    .await?;
    let code = typed_code(typed)?;
    let Some(row) = db::device_codes::find_pending(&app.db, &hash_secret(&code)).await? else {
        audit(app, principal, device, "device_code_failed").await?;
        return Err(nobody_waiting());
    };
    let (browser, os) = user_agent::describe(&row.requester_user_agent);
    let asking: std::net::IpAddr = row
        .requester_ip
        .parse()
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    Ok(DeviceRequest {
        user_code: display(&code),
        app: row.client_name,
        browser,
        os,
        ip: row.requester_ip,
        created_at: row.created_at,
        expires_in: row.seconds_left.max(0.0) as i64,
        same_network: Device::new(asking, "").network_key() == network,
    })
}

/// Approves (`approve: true`) or denies the device waiting for `typed`. The device's session is
/// made at its next poll, bounded by this session.
pub async fn decide(
    app: &Sesame,
    principal: &Principal,
    typed: &str,
    approve: bool,
    device: &Device,
) -> AppResult<()> {
    let code = typed_code(typed)?;
    let decided = db::device_codes::decide(
        &app.db,
        &hash_secret(&code),
        approve,
        principal.user_id,
        principal.session_id,
        principal.signed_in_at,
    )
    .await?;
    if !decided {
        return Err(nobody_waiting());
    }
    let event = if approve {
        "device_approve"
    } else {
        "device_deny"
    };
    audit(app, principal, device, event).await
}

fn typed_code(typed: &str) -> AppResult<String> {
    normalize(typed).ok_or_else(|| AppError::invalid_input("A code is 8 letters, like BCDF-GHJK."))
}

fn nobody_waiting() -> AppError {
    AppError::new(
        ErrorCode::NotFound,
        "No device is waiting for this code: it is mistyped, expired or already answered.",
    )
}

/// Records a step of the person's side in the audit trail.
async fn audit(
    app: &Sesame,
    principal: &Principal,
    device: &Device,
    event: &'static str,
) -> AppResult<()> {
    let event = AuditEvent {
        event,
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id),
        ip: &device.ip(),
        user_agent: &device.user_agent,
        detail: "",
    };
    Ok(db::audit::record(&app.db, event).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_ignore_case_spaces_and_dashes() {
        assert_eq!(normalize("bcdf ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize(" BCDF-GHJK ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize("BCDFGHJ"), None);
        assert_eq!(normalize("BCDFGHJA"), None, "no vowels");
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn user_codes_are_8_letters_of_the_alphabet() {
        for _ in 0..100 {
            let code = new_user_code();
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
        }
    }
}
