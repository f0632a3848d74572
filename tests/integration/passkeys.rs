//! Passkeys, with a software authenticator (1Password's passkey-rs client and authenticator):
//! the same WebAuthn JSON a browser sends, through Sesame's rules, on real PostgreSQL.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passkey_client::DefaultClientData;
use passkey_types::webauthn::{
    CredentialCreationOptions, CredentialRequestOptions, PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
};
use serde_json::Value;
use sesame::domain::{Principal, Sesame, passkeys, sessions};
use sesame::error::ErrorCode;
use sesame::proto::SignInMethod;
use url::Url;

use super::soft_authenticator::{Keyring, SoftAuthenticator, authenticator, authenticator_with};
use super::{DESKTOP_UA, app, app_with, device, signed_up};

/// The test servers' settings leave `public_url` empty, so Sesame is `http://127.0.0.1:3000`
/// and passkeys work at `http://localhost:3000`.
const ORIGIN: &str = "http://localhost:3000";

/// WebAuthn JSON as the browser sends it.
fn raw(value: &impl serde::Serialize) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(value).unwrap()
}

/// The options a ceremony hands the browser.
fn options_of<T: serde::de::DeserializeOwned>(ceremony: &sesame::proto::PasskeyCeremony) -> T {
    serde_json::from_str(ceremony.public_key.get()).unwrap()
}

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// Adds a passkey made by `key` to the principal's account, as `/security` does.
async fn add_passkey(
    app: &Sesame,
    principal: &Principal,
    key: &mut SoftAuthenticator,
) -> sesame::proto::PasskeyInfo {
    let ceremony = passkeys::register_start(app, principal).await.unwrap();
    let shown: Value = options_of(&ceremony);
    assert_eq!(shown["authenticatorSelection"]["residentKey"], "required");
    let options: PublicKeyCredentialCreationOptions = options_of(&ceremony);
    let created = key
        .register(
            &origin(),
            CredentialCreationOptions {
                public_key: options,
            },
            DefaultClientData,
        )
        .await
        .expect("the software authenticator creates a passkey");
    passkeys::register_finish(
        app,
        principal,
        &ceremony.ceremony,
        &raw(&created),
        None,
        &device(DESKTOP_UA),
    )
    .await
    .unwrap()
}

/// A fresh app, a signed-up person, and their passkey in `key`.
async fn with_passkey(prefix: &str) -> (Sesame, Principal, SoftAuthenticator) {
    let app = app().await;
    let (_, person) = signed_up(&app, prefix).await;
    let mut key = authenticator();
    add_passkey(&app, &person, &mut key).await;
    (app, person, key)
}

/// Starts a username-less sign-in and answers it with `key` at `at` (an origin).
async fn assertion(app: &Sesame, key: &mut SoftAuthenticator, at: &str) -> (String, Value) {
    let ceremony = passkeys::sign_in_start(app, &device(DESKTOP_UA))
        .await
        .unwrap();
    let shown: Value = options_of(&ceremony);
    assert!(
        shown.get("allowCredentials").is_none()
            || shown["allowCredentials"] == serde_json::json!([]),
        "a username-less sign-in names no credentials"
    );
    let options: PublicKeyCredentialRequestOptions = options_of(&ceremony);
    let answer = key
        .authenticate(
            &Url::parse(at).unwrap(),
            CredentialRequestOptions {
                public_key: options,
            },
            DefaultClientData,
        )
        .await
        .expect("the software authenticator signs");
    (ceremony.ceremony, serde_json::to_value(&answer).unwrap())
}

async fn finish(
    app: &Sesame,
    ceremony: &str,
    credential: Value,
) -> Result<sesame::proto::TokenResponse, ErrorCode> {
    passkeys::sign_in_finish(app, ceremony, &raw(&credential), &device(DESKTOP_UA))
        .await
        .map_err(|e| e.code)
}

#[tokio::test]
async fn a_passkey_signs_in_without_a_username() {
    let app = app().await;
    let (_, person) = signed_up(&app, "pk").await;
    let mut key = authenticator();
    let added = add_passkey(&app, &person, &mut key).await;
    assert_eq!(added.name, "Chrome on Windows");
    assert!(added.last_used_at.is_none());

    let (ceremony, credential) = assertion(&app, &mut key, ORIGIN).await;
    let tokens = finish(&app, &ceremony, credential).await.unwrap();
    let signed_in = sessions::authenticate(&app, Some(&tokens.access_token))
        .await
        .unwrap();
    assert_eq!(signed_in.user_id, person.user_id);
    assert_eq!(signed_in.method, SignInMethod::Passkey);
    assert_ne!(signed_in.session_id, person.session_id);

    let list = passkeys::list(&app, &person).await.unwrap();
    assert_eq!(list.passkeys.len(), 1);
    assert!(list.passkeys[0].last_used_at.is_some());
    let events = sesame::db::audit::events_for_user(&app.db, person.user_id)
        .await
        .unwrap();
    assert_eq!(&events[..2], ["login", "passkey_added"]);
    let activity = sesame::domain::activity::page(&app, &person, None)
        .await
        .unwrap();
    assert_eq!(activity.events[0].method, Some(SignInMethod::Passkey));
    assert_eq!(
        activity.events[1].passkey.as_deref(),
        Some("Chrome on Windows")
    );
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let (app, _, mut key) = with_passkey("pk_tamper").await;
    let (ceremony, mut credential) = assertion(&app, &mut key, ORIGIN).await;
    let signature = credential["response"]["signature"].as_str().unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    credential["response"]["signature"] = URL_SAFE_NO_PAD.encode(bytes).into();
    assert_eq!(
        finish(&app, &ceremony, credential).await.unwrap_err(),
        ErrorCode::PasskeyRejected
    );
}

#[tokio::test]
async fn an_assertion_works_once() {
    let (app, _, mut key) = with_passkey("pk_replay").await;
    let (ceremony, credential) = assertion(&app, &mut key, ORIGIN).await;
    finish(&app, &ceremony, credential.clone()).await.unwrap();
    // The same ceremony again: it is spent.
    assert_eq!(
        finish(&app, &ceremony, credential.clone())
            .await
            .unwrap_err(),
        ErrorCode::CeremonyExpired
    );
    // The recorded answer against a fresh ceremony: it signed another challenge.
    let (fresh, _) = assertion(&app, &mut key, ORIGIN).await;
    assert_eq!(
        finish(&app, &fresh, credential).await.unwrap_err(),
        ErrorCode::PasskeyRejected
    );
}

#[tokio::test]
async fn an_answer_made_for_another_origin_is_refused() {
    let (app, _, mut key) = with_passkey("pk_origin").await;
    // Same relying party (localhost), another origin: what a page on another port would get.
    let (ceremony, credential) = assertion(&app, &mut key, "http://localhost:4000").await;
    assert_eq!(
        finish(&app, &ceremony, credential).await.unwrap_err(),
        ErrorCode::PasskeyRejected
    );
}

#[tokio::test]
async fn expired_ceremonies_and_malformed_answers_are_refused() {
    let (app, _, mut key) = with_passkey("pk_expired").await;
    let (ceremony, credential) = assertion(&app, &mut key, ORIGIN).await;
    // Malformed input is refused before the ceremony is touched: it still works afterwards.
    let error = passkeys::sign_in_finish(
        &app,
        &ceremony,
        &raw(&serde_json::json!({"id": "x"})),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidInput);
    sqlx::query(
        "UPDATE passkey_ceremonies SET created_at = now() - interval '301 seconds'
         WHERE id_hash = $1",
    )
    .bind(sesame::domain::tokens::hash_secret(&ceremony))
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(
        finish(&app, &ceremony, credential).await.unwrap_err(),
        ErrorCode::CeremonyExpired
    );
}

#[tokio::test]
async fn of_two_concurrent_finishes_exactly_one_signs_in() {
    let (app, person, mut key) = with_passkey("pk_race").await;
    let (ceremony, credential) = assertion(&app, &mut key, ORIGIN).await;
    let (a, b) = tokio::join!(
        finish(&app, &ceremony, credential.clone()),
        finish(&app, &ceremony, credential)
    );
    let outcomes = [a.map(|_| ()), b.map(|_| ())];
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(outcomes.contains(&Err(ErrorCode::CeremonyExpired)));
    let passkey_sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE user_id = $1 AND method = 'passkey'",
    )
    .bind(person.user_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(passkey_sessions, 1);
}

#[tokio::test]
async fn a_removed_passkey_never_signs_in_and_removing_it_signs_out_no_one() {
    let app = app().await;
    let (_, person) = signed_up(&app, "pk_removed").await;
    let mut key = authenticator();
    let added = add_passkey(&app, &person, &mut key).await;
    let (ceremony, credential) = assertion(&app, &mut key, ORIGIN).await;
    let tokens = finish(&app, &ceremony, credential).await.unwrap();

    passkeys::delete(&app, &person, added.id, &device(DESKTOP_UA))
        .await
        .unwrap();
    sessions::authenticate(&app, Some(&tokens.access_token))
        .await
        .expect("the passkey's session goes on");
    let (ceremony, credential) = assertion(&app, &mut key, ORIGIN).await;
    assert_eq!(
        finish(&app, &ceremony, credential).await.unwrap_err(),
        ErrorCode::PasskeyRejected
    );
    // Another person's passkey id is not found, and deleting twice neither.
    let again = passkeys::delete(&app, &person, added.id, &device(DESKTOP_UA)).await;
    assert_eq!(again.unwrap_err().code, ErrorCode::NotFound);
}

#[tokio::test]
async fn a_cloned_authenticator_is_caught_by_its_counter() {
    let app = app().await;
    let (_, person) = signed_up(&app, "pk_clone").await;
    let mut key = authenticator_with(Keyring::default(), true);
    add_passkey(&app, &person, &mut key).await;
    let copy = key.authenticator().store().clone();
    let (ceremony, credential) = assertion(&app, &mut key, ORIGIN).await;
    finish(&app, &ceremony, credential).await.unwrap();
    // The copy signs with the counter the original just used: it went backwards (or stood still).
    let mut clone = authenticator_with(copy, true);
    let (ceremony, credential) = assertion(&app, &mut clone, ORIGIN).await;
    assert_eq!(
        finish(&app, &ceremony, credential).await.unwrap_err(),
        ErrorCode::PasskeyRejected
    );
}

#[tokio::test]
async fn another_accounts_registration_ceremony_cannot_be_finished() {
    let app = app().await;
    let (_, alice) = signed_up(&app, "pk_alice").await;
    let (_, mallory) = signed_up(&app, "pk_mallory").await;
    let ceremony = passkeys::register_start(&app, &alice).await.unwrap();
    let options: PublicKeyCredentialCreationOptions = options_of(&ceremony);
    let created = authenticator()
        .register(
            &origin(),
            CredentialCreationOptions {
                public_key: options,
            },
            DefaultClientData,
        )
        .await
        .unwrap();
    let error = passkeys::register_finish(
        &app,
        &mallory,
        &ceremony.ceremony,
        &raw(&created),
        Some("mine now"),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::CeremonyExpired);
}

#[tokio::test]
async fn approvals_can_ask_for_a_fresh_passkey_proof() {
    let app = app().await;
    let (_, person) = signed_up(&app, "pk_approve").await;
    // Off by default; cannot be turned on without a passkey.
    passkeys::check_approval(&app, &person, None).await.unwrap();
    let refused = passkeys::set_approvals_need_verification(&app, &person, true, None).await;
    assert_eq!(refused.unwrap_err().code, ErrorCode::InvalidInput);

    let mut key = authenticator();
    add_passkey(&app, &person, &mut key).await;
    passkeys::set_approvals_need_verification(&app, &person, true, None)
        .await
        .unwrap();
    let without = passkeys::check_approval(&app, &person, None).await;
    assert_eq!(without.unwrap_err().code, ErrorCode::VerificationRequired);

    // A passkey proof works once, for this session only.
    let ceremony = passkeys::verify_start(&app, &person).await.unwrap();
    let options: PublicKeyCredentialRequestOptions = options_of(&ceremony);
    let answer = key
        .authenticate(
            &origin(),
            CredentialRequestOptions {
                public_key: options,
            },
            DefaultClientData,
        )
        .await
        .unwrap();
    let proof = passkeys::verify_finish(&app, &person, &ceremony.ceremony, &raw(&answer))
        .await
        .unwrap();
    assert_eq!(proof.expires_in, 300);
    let (other_tokens, _) = super::signed_up(&app, "pk_other").await;
    let other = sessions::authenticate(&app, Some(&other_tokens.access_token))
        .await
        .unwrap();
    let elsewhere = passkeys::check_approval(&app, &other, Some(&proof.verification)).await;
    assert!(
        elsewhere.is_ok(),
        "the other account does not ask for proofs"
    );
    passkeys::check_approval(&app, &person, Some(&proof.verification))
        .await
        .unwrap();
    let spent = passkeys::check_approval(&app, &person, Some(&proof.verification)).await;
    assert_eq!(spent.unwrap_err().code, ErrorCode::VerificationRequired);

    // The password is the fallback; turning the setting off needs a proof too.
    let off = passkeys::set_approvals_need_verification(&app, &person, false, None).await;
    assert_eq!(off.unwrap_err().code, ErrorCode::VerificationRequired);
    let by_password = passkeys::verify_password(
        &app,
        &person,
        "correct horse battery".into(),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap();
    passkeys::set_approvals_need_verification(
        &app,
        &person,
        false,
        Some(&by_password.verification),
    )
    .await
    .unwrap();
    passkeys::check_approval(&app, &person, None).await.unwrap();
}

#[tokio::test]
async fn deleting_the_account_deletes_its_passkeys() {
    let app = app().await;
    let (_, person) = signed_up(&app, "pk_gone").await;
    add_passkey(&app, &person, &mut authenticator()).await;
    sesame::domain::account_security::delete_account(
        &app,
        &person,
        "correct horse battery".into(),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM passkeys WHERE user_id = $1")
        .bind(person.user_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn passkeys_follow_the_public_url() {
    // A domain: the relying party is that domain, and pages on it are the one origin.
    let app = app_with(|s| s.public_url = "https://id.example.com".into()).await;
    let webauthn = app.webauthn.as_ref().expect("passkeys are on");
    let origins: Vec<String> = webauthn
        .get_allowed_origins()
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(origins, ["https://id.example.com/"]);
    // A LAN address: passkeys cannot work there and are off.
    let lan = app_with(|s| s.public_url = "http://192.168.1.20:3000".into()).await;
    assert!(lan.webauthn.is_none());
}
