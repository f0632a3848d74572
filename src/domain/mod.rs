//! Domain rules, in plain Rust that tests call without HTTP: accounts and passwords, tokens and
//! sessions, the QR sign-in state machine, rate limits. Server-only.

pub mod accounts;
pub mod password;
pub mod qr;
pub mod qr_login;
pub mod rate_limit;
pub mod sessions;
pub mod tokens;
pub mod user_agent;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::api::SignInMethod;
use crate::db::qr_events::QrEvents;
use crate::error::AppResult;
use crate::settings::Settings;
use password::PasswordHasher;
use rate_limit::RateLimiter;
use tokens::TokenKeys;

/// Everything a request needs, shared by all requests of one server instance.
#[derive(Clone)]
pub struct Sesame(Arc<Inner>);

pub struct Inner {
    pub db: PgPool,
    pub settings: Settings,
    pub tokens: TokenKeys,
    pub passwords: PasswordHasher,
    pub limits: Limits,
    pub qr_events: QrEvents,
}

pub struct Limits {
    pub login_per_ip: RateLimiter,
    pub login_failures: RateLimiter,
    pub qr_create_per_ip: RateLimiter,
}

impl std::ops::Deref for Sesame {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Sesame {
    pub fn new(db: PgPool, settings: Settings, jwt_secret: &[u8]) -> AppResult<Self> {
        let tokens = TokenKeys::new(
            jwt_secret,
            &settings.jwt_issuer,
            &settings.jwt_audience,
            chrono::Duration::milliseconds((settings.access_token_minutes * 60_000.0) as i64),
        )?;
        let minute = Duration::from_secs(60);
        let limits = Limits {
            login_per_ip: RateLimiter::new(settings.login_attempts_per_ip_per_minute, minute),
            login_failures: RateLimiter::new(
                settings.login_failures_per_account,
                minute * settings.login_failure_window_minutes as u32,
            ),
            qr_create_per_ip: RateLimiter::new(settings.qr_codes_per_ip_per_minute, minute),
        };
        Ok(Self(Arc::new(Inner {
            passwords: PasswordHasher::new(settings.password_hash_concurrency),
            qr_events: QrEvents::default(),
            db,
            settings,
            tokens,
            limits,
        })))
    }
}

/// The device a request comes from, as recorded on sessions and shown to users.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

/// The signed-in user behind a request, after the token and its session row were checked.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub username: String,
    pub user_created_at: chrono::DateTime<chrono::Utc>,
    pub method: SignInMethod,
}
