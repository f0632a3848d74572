//! Passkeys (WebAuthn): adding, listing, renaming and removing them; signing in with one and no
//! username; and confirming an approval with one (or the password) where the account asks for
//! that.
//!
//! Every ceremony has two calls. `start` keeps webauthn-rs' state in PostgreSQL under the hash
//! of a random ceremony id; `finish` takes it with one `DELETE … RETURNING`, so a ceremony is
//! single-use, lasts 5 minutes, and may be finished on another instance than it was started on.

use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use crate::db::{self, audit::AuditEvent, passkeys::NewPasskey};
use crate::domain::tokens::{hash_secret, random_secret};
use crate::domain::{Device, Principal, Sesame, rate_limit, sessions, user_agent};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::metrics::{self, SignInResult};
use crate::proto::{
    PASSKEY_NAME_CHARS, PasskeyCeremony, PasskeyId, PasskeyInfo, PasskeyList, SignInMethod,
    TokenResponse, Verification, WebAuthnJson,
};
use crate::settings::Settings;

/// How long a ceremony (and the browser's dialog) may take, and how long a proof lasts.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(300);

/// The relying party passkeys are bound to, from the settings; `None` when passkeys cannot work
/// here (the server is reached on a non-loopback IP address and no `passkey_rp_id` is set:
/// WebAuthn needs a domain).
pub fn relying_party(settings: &Settings) -> Result<Option<Webauthn>, String> {
    let public = settings.public_url();
    let public = Url::parse(&public).map_err(|e| format!("public_url {public:?}: {e}"))?;
    let port = public.port().map(|p| format!(":{p}")).unwrap_or_default();
    // A loopback server is also reached as http://localhost, where browsers allow passkeys.
    let localhost = match public.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
    .then(|| Url::parse(&format!("{}://localhost{port}", public.scheme())))
    .transpose()
    .map_err(|e| e.to_string())?;
    let rp_id = match (settings.passkey_rp_id.trim(), public.host(), &localhost) {
        ("", Some(url::Host::Domain(domain)), _) => domain.to_owned(),
        ("", _, Some(_)) => "localhost".to_owned(),
        ("", _, None) => {
            tracing::info!("passkeys are off: public_url is an IP address (set passkey_rp_id)");
            return Ok(None);
        }
        (rp_id, _, _) => rp_id.to_owned(),
    };
    let origins: Vec<&Url> = [Some(&public), localhost.as_ref()]
        .into_iter()
        .flatten()
        .filter(|origin| {
            origin
                .host_str()
                .is_some_and(|host| host == rp_id || host.ends_with(&format!(".{rp_id}")))
        })
        .collect();
    let Some((first, others)) = origins.split_first() else {
        return Err(format!(
            "passkey_rp_id {rp_id:?} must be the host of public_url ({public}) or a parent domain of it"
        ));
    };
    let mut builder = WebauthnBuilder::new(&rp_id, first)
        .map_err(|e| format!("passkey_rp_id {rp_id:?}: {e}"))?
        .rp_name("Sesame")
        .timeout(CEREMONY_LIFETIME);
    for origin in others {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| format!("passkeys: {e}"))
}

fn webauthn(app: &Sesame) -> AppResult<&Webauthn> {
    app.webauthn.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::NotFound,
            "Passkeys are not available on this server.",
        )
    })
}

fn rejected() -> AppError {
    AppError::new(ErrorCode::PasskeyRejected, "This passkey was not accepted.")
}

fn expired() -> AppError {
    AppError::new(
        ErrorCode::CeremonyExpired,
        "This passkey request has expired or was already used. Please try again.",
    )
}

/// The browser's answer, read before anything is taken, so bad input loses nothing.
fn parse_credential<T: DeserializeOwned>(credential: &RawValue) -> AppResult<T> {
    serde_json::from_str(credential.get()).map_err(|e| {
        AppError::invalid_input(format!("The credential is not a WebAuthn credential: {e}"))
    })
}

/// Keeps `state` for `finish` and gives the browser its options.
async fn begin(
    app: &Sesame,
    kind: &str,
    user_id: Option<crate::proto::UserId>,
    options: WebAuthnJson,
    state: impl Serialize,
) -> AppResult<PasskeyCeremony> {
    let ceremony = random_secret(32);
    let state = serde_json::to_value(state).map_err(AppError::internal)?;
    db::passkeys::store_ceremony(&app.db, &hash_secret(&ceremony), kind, user_id, state).await?;
    Ok(PasskeyCeremony {
        ceremony,
        public_key: options,
    })
}

/// Takes the ceremony's state, or 410 `ceremony_expired`.
async fn take<T: DeserializeOwned>(
    app: &Sesame,
    ceremony: &str,
    kind: &str,
    user_id: Option<crate::proto::UserId>,
) -> AppResult<T> {
    let state = db::passkeys::take_ceremony(
        &app.db,
        &hash_secret(ceremony),
        kind,
        user_id,
        CEREMONY_LIFETIME.as_secs_f64(),
    )
    .await?
    .ok_or_else(expired)?;
    serde_json::from_value(state).map_err(AppError::internal)
}

fn options(value: impl Serialize) -> AppResult<WebAuthnJson> {
    serde_json::value::to_raw_value(&value)
        .map(WebAuthnJson)
        .map_err(AppError::internal)
}

/// Starts adding a passkey to the signed-in account: a discoverable credential (so it can sign
/// in without a username) with user verification, never one the account has already.
pub async fn register_start(app: &Sesame, principal: &Principal) -> AppResult<PasskeyCeremony> {
    let webauthn = webauthn(app)?;
    let existing: Vec<CredentialID> =
        db::passkeys::credential_ids(&app.db, principal.user_id).await?;
    let label = crate::proto::person_label(
        principal.display_name.as_deref(),
        principal.username.as_str(),
    );
    let (challenge, state) = webauthn
        .start_passkey_registration(
            principal.user_id.0,
            principal.username.as_str(),
            &label,
            Some(existing),
        )
        .map_err(AppError::internal)?;
    // webauthn-rs asks for a non-discoverable credential by default, which would need the
    // username typed first; Sesame's passkeys sign in without one.
    let mut public_key = serde_json::to_value(&challenge.public_key).map_err(AppError::internal)?;
    public_key["authenticatorSelection"]["residentKey"] = "required".into();
    public_key["authenticatorSelection"]["requireResidentKey"] = true.into();
    let options = options(&public_key)?;
    begin(app, "register", Some(principal.user_id), options, state).await
}

pub async fn register_finish(
    app: &Sesame,
    principal: &Principal,
    ceremony: &str,
    credential: &RawValue,
    name: Option<&str>,
    client: &Device,
) -> AppResult<PasskeyInfo> {
    let webauthn = webauthn(app)?;
    let credential: RegisterPublicKeyCredential = parse_credential(credential)?;
    let name = match check_name(name)? {
        Some(name) => name,
        None => default_name(&client.user_agent),
    };
    let state: PasskeyRegistration =
        take(app, ceremony, "register", Some(principal.user_id)).await?;
    let passkey = webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|error| {
            tracing::info!(%error, "passkey registration refused");
            rejected()
        })?;
    let stored = serde_json::to_value(&passkey).map_err(AppError::internal)?;
    let mut tx = app.db.begin().await?;
    let new = NewPasskey {
        user_id: principal.user_id,
        credential_id: passkey.cred_id().as_ref(),
        name: &name,
        credential: stored,
    };
    let info = match db::passkeys::insert(&mut *tx, new).await {
        Ok(info) => info,
        Err(e) if db::is_unique_violation(&e) => {
            return Err(AppError::new(
                ErrorCode::PasskeyRejected,
                "This passkey is registered already.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    audit(&mut *tx, "passkey_added", principal, client, &name).await?;
    tx.commit().await?;
    Ok(info)
}

pub async fn list(app: &Sesame, principal: &Principal) -> AppResult<PasskeyList> {
    Ok(PasskeyList {
        passkeys: db::passkeys::list(&app.db, principal.user_id).await?,
        approvals_need_verification: db::passkeys::approvals_need_verification(
            &app.db,
            principal.user_id,
        )
        .await?,
    })
}

pub async fn rename(
    app: &Sesame,
    principal: &Principal,
    id: PasskeyId,
    name: &str,
) -> AppResult<PasskeyInfo> {
    let name = check_name(Some(name))?
        .ok_or_else(|| AppError::invalid_input("Give the passkey a name."))?;
    db::passkeys::rename(&app.db, principal.user_id, id, &name)
        .await?
        .ok_or_else(AppError::not_found)
}

/// Removes a passkey: it can never sign in again. Signs no one out. "Approvals confirmed with a
/// passkey" stays on without passkeys (the password then confirms): removing them must not be a
/// way around it.
pub async fn delete(
    app: &Sesame,
    principal: &Principal,
    id: PasskeyId,
    client: &Device,
) -> AppResult<()> {
    let mut tx = app.db.begin().await?;
    let name = db::passkeys::delete(&mut *tx, principal.user_id, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    audit(&mut *tx, "passkey_removed", principal, client, &name).await?;
    tx.commit().await?;
    Ok(())
}

async fn audit(
    db: impl sqlx::PgExecutor<'_>,
    event: &str,
    principal: &Principal,
    client: &Device,
    detail: &str,
) -> AppResult<()> {
    let event = AuditEvent {
        event,
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id),
        ip: &client.ip(),
        user_agent: &client.user_agent,
        detail,
    };
    db::audit::record(db, event).await?;
    Ok(())
}

/// Starts a sign-in with whichever passkey the person picks (no username). Counted per network
/// like password sign-ins: each start keeps a row.
pub async fn sign_in_start(app: &Sesame, client: &Device) -> AppResult<PasskeyCeremony> {
    let webauthn = webauthn(app)?;
    let networks = client.sign_in_keys();
    let hits: Vec<_> = networks
        .iter()
        .map(|key| (&app.limits.login_per_ip, key.as_str()))
        .collect();
    rate_limit::count(&app.db, &hits)
        .await
        .inspect_err(|_| metrics::sign_in(SignInMethod::Passkey, SignInResult::Limited))?;
    let (challenge, state) = webauthn
        .start_discoverable_authentication()
        .map_err(AppError::internal)?;
    // The page chooses the mediation (a button's modal dialog, or the username field's
    // autofill), so only the options go out.
    let options = options(&challenge.public_key)?;
    begin(app, "sign_in", None, options, state).await
}

pub async fn sign_in_finish(
    app: &Sesame,
    ceremony: &str,
    credential: &RawValue,
    client: &Device,
) -> AppResult<TokenResponse> {
    let webauthn = webauthn(app)?;
    let credential: PublicKeyCredential = parse_credential(credential)?;
    let state: DiscoverableAuthentication = take(app, ceremony, "sign_in", None).await?;
    let refuse = |reason: &dyn std::fmt::Display| {
        tracing::info!(%reason, "passkey sign-in refused");
        metrics::sign_in(SignInMethod::Passkey, SignInResult::Failure);
        rejected()
    };
    let (user_handle, credential_id) = webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(|e| refuse(&e))?;
    let mut tx = app.db.begin().await?;
    let stored = db::passkeys::lock_by_credential_id(&mut *tx, credential_id)
        .await?
        .filter(|stored| stored.user_id.0 == user_handle)
        .ok_or_else(|| refuse(&"unknown or removed credential"))?;
    let mut passkey: Passkey =
        serde_json::from_value(stored.credential).map_err(AppError::internal)?;
    let result = match webauthn.finish_discoverable_authentication_v2(&credential, state, &passkey)
    {
        Ok(result) => result,
        Err(error) => {
            tx.rollback().await?;
            let event = AuditEvent {
                event: "login_failed",
                user_id: Some(stored.user_id),
                ip: &client.ip(),
                user_agent: &client.user_agent,
                detail: "passkey",
                ..Default::default()
            };
            db::audit::record(&app.db, event).await?;
            return Err(refuse(&error));
        }
    };
    passkey.update_credential(&result);
    let updated = serde_json::to_value(&passkey).map_err(AppError::internal)?;
    db::passkeys::record_use(&mut *tx, stored.id, updated).await?;
    let start = sessions::Start::direct(stored.user_id, SignInMethod::Passkey);
    let (_, tokens) = sessions::start_in(app, &mut tx, start, client).await?;
    tx.commit().await?;
    metrics::sign_in(SignInMethod::Passkey, SignInResult::Success);
    Ok(tokens)
}

/// Starts confirming an approval with one of the signed-in account's passkeys.
pub async fn verify_start(app: &Sesame, principal: &Principal) -> AppResult<PasskeyCeremony> {
    let webauthn = webauthn(app)?;
    let passkeys: Vec<Passkey> = db::passkeys::credentials(&app.db, principal.user_id)
        .await?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(AppError::internal)?;
    if passkeys.is_empty() {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "This account has no passkey; confirm with the password.",
        ));
    }
    let (challenge, state) = webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(AppError::internal)?;
    let options = options(&challenge.public_key)?;
    begin(app, "verify", Some(principal.user_id), options, state).await
}

/// Finishes a passkey confirmation: a proof for one approval by this session.
pub async fn verify_finish(
    app: &Sesame,
    principal: &Principal,
    ceremony: &str,
    credential: &RawValue,
) -> AppResult<Verification> {
    let webauthn = webauthn(app)?;
    let credential: PublicKeyCredential = parse_credential(credential)?;
    let state: PasskeyAuthentication =
        take(app, ceremony, "verify", Some(principal.user_id)).await?;
    let mut tx = app.db.begin().await?;
    let stored = db::passkeys::lock_by_credential_id(&mut *tx, credential.get_credential_id())
        .await?
        .filter(|stored| stored.user_id == principal.user_id)
        .ok_or_else(rejected)?;
    let result = webauthn
        .finish_passkey_authentication(&credential, &state)
        .map_err(|error| {
            tracing::info!(%error, "passkey confirmation refused");
            rejected()
        })?;
    let mut passkey: Passkey =
        serde_json::from_value(stored.credential).map_err(AppError::internal)?;
    passkey.update_credential(&result);
    let updated = serde_json::to_value(&passkey).map_err(AppError::internal)?;
    db::passkeys::record_use(&mut *tx, stored.id, updated).await?;
    let proof = issue_proof(&mut *tx, principal).await?;
    tx.commit().await?;
    Ok(proof)
}

/// The password as the fallback confirmation (a person without their passkey at hand).
pub async fn verify_password(
    app: &Sesame,
    principal: &Principal,
    password: String,
    client: &Device,
) -> AppResult<Verification> {
    let slot = app.passwords.slot()?;
    super::account_security::confirm_password(app, &slot, principal, password, client).await?;
    issue_proof(&app.db, principal).await
}

async fn issue_proof(
    db: impl sqlx::PgExecutor<'_>,
    principal: &Principal,
) -> AppResult<Verification> {
    let proof = random_secret(32);
    let lifetime = chrono::Duration::from_std(CEREMONY_LIFETIME).map_err(AppError::internal)?;
    db::passkeys::insert_proof(
        db,
        &hash_secret(&proof),
        principal.session_id,
        Utc::now() + lifetime,
    )
    .await?;
    Ok(Verification {
        verification: proof,
        expires_in: CEREMONY_LIFETIME.as_secs(),
    })
}

/// Turns "approvals confirmed with a passkey" on or off. Turning it on needs a passkey (or it
/// would only ever ask for the password); turning it off needs a fresh proof, so a stolen
/// session cannot simply switch it off first.
pub async fn set_approvals_need_verification(
    app: &Sesame,
    principal: &Principal,
    on: bool,
    verification: Option<&str>,
) -> AppResult<()> {
    if on {
        if db::passkeys::credential_ids(&app.db, principal.user_id)
            .await?
            .is_empty()
        {
            return Err(AppError::invalid_input("Add a passkey first."));
        }
    } else {
        check_approval(app, principal, verification).await?;
    }
    db::passkeys::set_approvals_need_verification(&app.db, principal.user_id, on).await?;
    Ok(())
}

/// Before an approval (a QR code, an app's consent, a device code): where the account asks for
/// it, spends the fresh proof `verification`, or answers 403 `verification_required`.
pub async fn check_approval(
    app: &Sesame,
    principal: &Principal,
    verification: Option<&str>,
) -> AppResult<()> {
    if !db::passkeys::approvals_need_verification(&app.db, principal.user_id).await? {
        return Ok(());
    }
    let fresh = match verification {
        Some(proof) => {
            db::passkeys::take_proof(&app.db, &hash_secret(proof), principal.session_id).await?
        }
        None => false,
    };
    if fresh {
        return Ok(());
    }
    Err(AppError::new(
        ErrorCode::VerificationRequired,
        "Confirm it is you with your passkey (or password) first.",
    ))
}

/// A passkey name: trimmed, NFC, 1–64 characters, no control or invisible characters.
fn check_name(name: Option<&str>) -> AppResult<Option<String>> {
    let name = super::accounts::check_display_name(name).map_err(|_| {
        AppError::invalid_input(format!(
            "A passkey name must be {} to {} characters, without control or invisible characters.",
            PASSKEY_NAME_CHARS.start(),
            PASSKEY_NAME_CHARS.end()
        ))
    })?;
    Ok(name)
}

/// "Chrome on macOS": what the browser adding the passkey says it is.
fn default_name(user_agent: &str) -> String {
    let (browser, os) = user_agent::describe(user_agent);
    format!("{browser} on {os}")
}
