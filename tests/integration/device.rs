//! Device sign-in (RFC 8628) against the real provider over HTTP: the `openidconnect` crate's
//! device flow as the TV, the approve calls as the person's phone.

use std::time::{Duration, Instant};

use openidconnect::core::{CoreClient, CoreDeviceAuthorizationResponse, CoreProviderMetadata};
use openidconnect::{
    ClientId, DeviceAuthorizationUrl, IssuerUrl, Nonce, OAuth2TokenResponse, Scope, TokenResponse,
};
use sesame::domain::oauth::clients::{self, Grant, NewClient};
use sesame::domain::oauth::device;
use sesame::domain::{Principal, Sesame, sessions};
use sesame::error::ErrorCode;

use super::oidc::{http, instance, provider, raw_token_request, serve};
use super::{PHONE_UA, app_with, device_at, signed_up, unique_name};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public app registered for the device grant (a TV app cannot keep a secret).
async fn tv_app(app: &Sesame) -> String {
    let id = unique_name("tv");
    clients::register(
        &app.db,
        NewClient {
            id: id.clone(),
            name: "Living-room TV".into(),
            redirect_uris: Vec::new(),
            public: true,
            grants: vec![Grant::DeviceCode],
            backchannel_logout_uri: None,
        },
    )
    .await
    .unwrap();
    id
}

/// `POST /oauth/device_authorization` by hand: the answer's JSON.
async fn codes(issuer: &str, client_id: &str) -> serde_json::Value {
    let response = http()
        .post(format!("{issuer}/oauth/device_authorization"))
        .form(&[("client_id", client_id), ("scope", "openid profile")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn poll(issuer: &str, client_id: &str, device_code: &str) -> (u16, serde_json::Value) {
    let (status, body, _) = raw_token_request(
        issuer,
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ],
        None,
    )
    .await;
    (status, body)
}

fn error(answer: &(u16, serde_json::Value)) -> Option<&str> {
    answer.1["error"].as_str()
}

/// The phone, where the person is signed in, on the same network as the TV.
fn phone() -> sesame::domain::Device {
    device_at("127.0.0.1", PHONE_UA)
}

async fn approve(app: &Sesame, person: &Principal, typed: &str) {
    let request = device::lookup(app, person, typed, &phone()).await.unwrap();
    assert_eq!(request.app, "Living-room TV");
    device::decide(app, person, typed, true, &phone())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_tv_signs_in_with_the_crate_s_device_flow_once_the_person_approves() {
    let (app, issuer) = provider().await;
    let client_id = tv_app(&app).await;
    let (_, person) = signed_up(&app, "tv").await;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http())
            .await
            .unwrap();
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), None)
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(format!("{issuer}/oauth/device_authorization"))
                    .unwrap(),
            );
    let details: CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .request_async(&http())
        .await
        .expect("device authorization");
    let user_code = details.user_code().secret().clone();
    assert!(regex_like_user_code(&user_code), "{user_code}");
    assert_eq!(
        details.verification_uri().as_str(),
        format!("{issuer}/device")
    );
    assert_eq!(
        details.verification_uri_complete().unwrap().secret(),
        &format!("{issuer}/device?code={user_code}")
    );
    assert_eq!(details.interval(), Duration::from_secs(5));

    let waiting = {
        let client = client.clone();
        let details = details.clone();
        tokio::spawn(async move {
            client
                .exchange_device_access_token(&details)
                .unwrap()
                .request_async(&http(), tokio::time::sleep, None)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Typed the way people type: lower case, a space instead of the dash.
    approve(&app, &person, &user_code.to_lowercase().replace('-', " ")).await;
    let approved_at = Instant::now();
    let tokens = waiting.await.unwrap().expect("tokens once approved");
    assert!(
        approved_at.elapsed() < Duration::from_secs(6),
        "within one interval of approval"
    );
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .expect("the ID token verifies from the JWKS");
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str().to_owned()),
        Some(person.username.to_string())
    );
    assert!(
        tokens.refresh_token().is_none(),
        "no refresh grant registered"
    );

    // It shows among the person's sessions, approved from the phone's session.
    let listed = sessions::list(&app, &person).await.unwrap();
    let tv = listed
        .sessions
        .iter()
        .find(|s| s.method.as_str() == "device")
        .unwrap();
    assert_eq!(tv.app.as_deref(), Some("Living-room TV"));
    assert!(tv.approved_from.is_some());

    // The tokens came once: the code is spent.
    let again = poll(&issuer, &client_id, details.device_code().secret()).await;
    assert_eq!(error(&again), Some("invalid_grant"));
}

fn regex_like_user_code(code: &str) -> bool {
    let (a, b) = code.split_once('-').unwrap_or(("", ""));
    a.len() == 4
        && b.len() == 4
        && format!("{a}{b}")
            .bytes()
            .all(|c| device::USER_CODE_ALPHABET.contains(&c))
}

#[tokio::test]
async fn polling_early_is_slowed_down_by_five_seconds_and_polling_on_time_never_is() {
    let (app, issuer) = provider().await;
    let client_id = tv_app(&app).await;
    let started = codes(&issuer, &client_id).await;
    let device_code = started["device_code"].as_str().unwrap();
    assert_eq!(started["interval"], 5);

    assert_eq!(
        error(&poll(&issuer, &client_id, device_code).await),
        Some("authorization_pending")
    );
    assert_eq!(
        error(&poll(&issuer, &client_id, device_code).await),
        Some("slow_down")
    );
    let interval: i32 =
        sqlx::query_scalar("SELECT interval_ms FROM device_codes WHERE device_hash = $1")
            .bind(sesame::domain::tokens::hash_secret(device_code))
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(interval, 10_000, "the interval of this code grew by 5 s");

    // Measured in milliseconds: 9.6 s after the last poll is on time for a 10 s interval (the
    // allowance is 0.5 s), 9.4 s is not.
    let back = |seconds: f64| {
        sqlx::query("UPDATE device_codes SET last_poll_at = clock_timestamp() - make_interval(secs => $2) WHERE device_hash = $1")
            .bind(sesame::domain::tokens::hash_secret(device_code))
            .bind(seconds)
            .execute(&app.db)
    };
    back(9.6).await.unwrap();
    assert_eq!(
        error(&poll(&issuer, &client_id, device_code).await),
        Some("authorization_pending")
    );
    back(9.4).await.unwrap();
    assert_eq!(
        error(&poll(&issuer, &client_id, device_code).await),
        Some("slow_down")
    );

    // A client that waits the interval it was given between polls never sees slow_down.
    let fresh = codes(&issuer, &client_id).await;
    let code = fresh["device_code"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(
            error(&poll(&issuer, &client_id, code).await),
            Some("authorization_pending")
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert_eq!(
        error(&poll(&issuer, &client_id, code).await),
        Some("authorization_pending")
    );
}

#[tokio::test]
async fn denied_expired_unknown_and_other_clients_codes_get_their_own_errors() {
    let (app, issuer) = provider().await;
    let client_id = tv_app(&app).await;
    let other_client = tv_app(&app).await;
    let (_, person) = signed_up(&app, "tvdeny").await;

    let started = codes(&issuer, &client_id).await;
    let code = started["device_code"].as_str().unwrap();
    let typed = started["user_code"].as_str().unwrap();
    device::decide(&app, &person, typed, false, &phone())
        .await
        .unwrap();
    let answer = poll(&issuer, &client_id, code).await;
    assert_eq!((answer.0, error(&answer)), (400, Some("access_denied")));
    // Answered already: neither approve nor deny takes it back.
    let twice = device::decide(&app, &person, typed, true, &phone())
        .await
        .unwrap_err();
    assert_eq!(twice.code, ErrorCode::NotFound);

    let another = codes(&issuer, &client_id).await;
    let stolen = poll(
        &issuer,
        &other_client,
        another["device_code"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        error(&stolen),
        Some("invalid_grant"),
        "another client's code"
    );
    assert_eq!(
        error(&poll(&issuer, &client_id, "no such code").await),
        Some("invalid_grant")
    );

    // Expiry, on an instance whose codes live one second.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let short = format!("http://{}", listener.local_addr().unwrap());
    let public_url = issuer.clone();
    let short_lived = app_with(move |s| {
        s.public_url = public_url;
        s.device_code_lifetime = Duration::from_secs(1);
    })
    .await;
    serve(short_lived, listener);
    let brief = codes(&short, &client_id).await;
    assert_eq!(brief["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        error(&poll(&short, &client_id, brief["device_code"].as_str().unwrap()).await),
        Some("expired_token")
    );
    let late = device::lookup(
        &app,
        &person,
        brief["user_code"].as_str().unwrap(),
        &phone(),
    )
    .await;
    assert_eq!(late.unwrap_err().code, ErrorCode::NotFound);
}

#[tokio::test]
async fn typed_codes_are_limited_per_account_and_failures_are_audited() {
    let app = app_with(|s| s.device_code_attempts_per_account = 3).await;
    let (_, person) = signed_up(&app, "tvguess").await;
    for guess in ["BCDF-GHJK", "bcdf ghjl", "BCDFGHJM"] {
        let refused = device::lookup(&app, &person, guess, &phone())
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::NotFound);
    }
    let limited = device::lookup(&app, &person, "BCDF-GHJN", &phone())
        .await
        .unwrap_err();
    assert_eq!(limited.code, ErrorCode::RateLimited);
    let events = sesame::db::audit::events_for_user(&app.db, person.user_id)
        .await
        .unwrap();
    assert_eq!(
        events.iter().filter(|e| *e == "device_code_failed").count(),
        3
    );
}

#[tokio::test]
async fn a_device_approved_on_one_instance_gets_its_tokens_from_another() {
    let (first, issuer) = provider().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second_url = format!("http://{}", listener.local_addr().unwrap());
    let second = instance(&issuer).await;
    serve(second.clone(), listener);

    let client_id = tv_app(&first).await;
    let (_, person) = signed_up(&first, "tvtwo").await;
    let started = codes(&issuer, &client_id).await;
    approve(&second, &person, started["user_code"].as_str().unwrap()).await;
    let answer = poll(
        &second_url,
        &client_id,
        started["device_code"].as_str().unwrap(),
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert!(answer.1["access_token"].is_string() && answer.1["id_token"].is_string());
}

#[tokio::test]
async fn a_network_may_start_only_so_many_device_sign_ins_a_minute() {
    let app = app_with(|s| s.qr_codes_per_ip_per_minute = 2).await;
    let client_id = tv_app(&app).await;
    let client = sesame::db::oauth_clients::find(&app.db, &client_id)
        .await
        .unwrap()
        .unwrap();
    let tv = device_at("198.51.100.77", PHONE_UA);
    for _ in 0..2 {
        device::start(&app, &client, None, &tv).await.unwrap();
    }
    let third = device::start(&app, &client, None, &tv).await.unwrap_err();
    assert_eq!(third.code, ErrorCode::RateLimited);
    // Another network is not held back.
    device::start(&app, &client, None, &device_at("198.51.100.78", PHONE_UA))
        .await
        .unwrap();
}
