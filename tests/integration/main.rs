//! Integration tests against a real PostgreSQL (`DATABASE_URL`; `scripts/test` starts one).
//! Each test makes its own users, so they run in parallel on one database.

mod accounts;
mod device;
mod hardening;
mod oidc;
mod operations;
mod passkeys;
mod qr;
mod security;
mod soft_authenticator;
mod tokens;

use sesame::domain::{Device, Principal, Sesame, sessions};
use sesame::proto::TokenResponse;
use sesame::settings::Settings;

pub async fn app() -> Sesame {
    app_with(|_| {}).await
}

pub async fn app_with(adjust: impl FnOnce(&mut Settings)) -> Sesame {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must name a scratch PostgreSQL database; scripts/test sets it up");
    let pool = sesame::db::connect(&url, 60, std::time::Duration::from_secs(30))
        .await
        .expect("connect to the test database");
    let mut settings = Settings {
        database_url: url,
        qr_poll_wait: std::time::Duration::from_secs(2),
        ..Settings::default()
    };
    // Rate limits have their own tests; elsewhere they would only get in the way.
    settings.login_attempts_per_ip_per_minute = 100_000;
    settings.qr_codes_per_ip_per_minute = 100_000;
    // Tests sign in many at once; the bounded queue has its own test.
    settings.password_hash_queue = 1_000;
    adjust(&mut settings);
    let app = Sesame::new(pool.clone(), settings, &[42u8; 32]).unwrap();
    sesame::domain::listen_for_wake_ups(&app);
    app
}

/// A username no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        sesame::domain::tokens::random_secret(9)
            .replace('-', "x")
            .to_ascii_lowercase()
    )
}

pub fn device(user_agent: &str) -> Device {
    device_at("203.0.113.7", user_agent)
}

pub fn device_at(ip: &str, user_agent: &str) -> Device {
    Device::new(ip.parse().unwrap(), user_agent)
}

pub const DESKTOP_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
pub const PHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

/// Registers a fresh user and returns their first tokens and the checked principal.
pub async fn signed_up(app: &Sesame, prefix: &str) -> (TokenResponse, Principal) {
    let name = unique_name(prefix);
    let tokens = sesame::domain::accounts::register(
        app,
        &name,
        "correct horse battery".into(),
        None,
        &device(PHONE_UA),
    )
    .await
    .unwrap();
    let principal = sessions::authenticate(app, Some(&tokens.access_token))
        .await
        .unwrap();
    (tokens, principal)
}
