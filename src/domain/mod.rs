//! Domain rules, in plain Rust that tests call without HTTP: accounts and passwords, tokens and
//! sessions, the QR sign-in state machine, rate limits. Server-only.

pub mod account_security;
pub mod accounts;
pub mod activity;
pub mod device;
pub mod known_browsers;
pub mod notices;
pub mod oauth;
pub mod passkeys;
pub mod password;
pub mod qr;
pub mod qr_image;
pub mod qr_login;
pub mod rate_limit;
pub mod sessions;
pub mod tokens;
pub mod user_agent;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

pub use device::Device;

use crate::hub::Hub;
use crate::proto::{Handle, QrId, SessionId, SignInMethod, UserId};
use crate::settings::Settings;
use password::PasswordHasher;
use rate_limit::Limit;
use tokens::TokenKeys;

/// One desktop tab polls one code; two allow a reload to overlap the poll it replaces.
pub const QR_POLLS_PER_CODE: usize = 2;
/// A tab polls notices once at a time; two allow a reload's overlap. More is a loop or a bug, and
/// must not pile up waiting polls an account can wake all at once.
pub const NOTICE_POLLS_PER_SESSION: usize = 2;

/// Starts the hubs' `LISTEN` connections, for as long as the server runs.
pub fn listen_for_wake_ups(app: &Sesame) {
    let pool = app.db.clone();
    tokio::spawn(
        app.qr_events
            .clone()
            .listen(pool.clone(), "qr_login", |id| Some(QrId(id.to_owned()))),
    );
    tokio::spawn(
        app.notice_events
            .clone()
            .listen(pool, "notice", |user| user.parse().ok().map(UserId)),
    );
}

/// Everything a request needs, shared by all requests of one server instance.
#[derive(Clone)]
pub struct Sesame(Arc<Inner>);

pub struct Inner {
    pub db: PgPool,
    pub settings: Settings,
    pub tokens: TokenKeys,
    pub passwords: PasswordHasher,
    pub known_browsers: known_browsers::KnownBrowsers,
    pub limits: Limits,
    /// Whose `X-Forwarded-For` is believed.
    pub trusted_proxies: device::TrustedProxies,
    /// Desktops waiting on a QR code, woken by `NOTIFY qr_login, '<code id>'`.
    pub qr_events: Hub<QrId>,
    /// Tabs waiting for "new sign-in" notices, woken by `NOTIFY notice, '<user id>'`.
    pub notice_events: Hub<UserId>,
    /// The ES256 keys of the OpenID provider.
    pub oauth_keys: oauth::keys::KeyRing,
    /// The relying party passkeys are bound to; `None` where they cannot work.
    pub webauthn: Option<webauthn_rs::Webauthn>,
}

pub struct Limits {
    /// Sign-in and registration attempts per client network.
    pub login_per_ip: Limit,
    /// Failed sign-ins per account *and* client network.
    pub login_failures: Limit,
    /// Password sign-ins per account from all networks together: beyond it, `slow_sign_ins`.
    pub sign_ins_per_account: Limit,
    /// An account over its budget takes one password sign-in per interval, from any network.
    pub slow_sign_ins: Limit,
    /// Password sign-ins per known browser (`known_browsers`), in place of the account's budget.
    pub known_browser_sign_ins: Limit,
    /// A tally (no maximum): an account's refused passwords in the last hour, for its notice.
    pub failed_sign_ins: Limit,
    pub qr_create_per_ip: Limit,
    /// Device codes looked up (typed, or opened by QR) per account, and per client network.
    pub device_codes_per_account: Limit,
    pub device_codes_per_network: Limit,
    /// Device sign-ins started per client network (each writes a row), as many as QR codes.
    pub device_starts_per_network: Limit,
    /// Calls that write or wake (`api::request::Caller::writer`), per session and per user.
    pub writes_per_session: Limit,
    pub writes_per_user: Limit,
}

impl std::ops::Deref for Sesame {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Sesame {
    /// Errors are start-up problems, said plainly to whoever starts the server.
    pub fn new(db: PgPool, settings: Settings, jwt_secret: &[u8]) -> Result<Self, String> {
        let access_ttl = chrono::Duration::from_std(settings.access_token_ttl)
            .map_err(|e| format!("access_token_ttl: {e}"))?;
        let tokens = TokenKeys::new(
            jwt_secret,
            &settings.jwt_issuer,
            &settings.jwt_audience,
            access_ttl,
        )?;
        let minute = Duration::from_secs(60);
        let trusted_proxies =
            device::TrustedProxies::parse(settings.trusted_proxy_hops, &settings.trusted_proxies)?;
        let limits = Limits {
            login_per_ip: Limit {
                name: "login_ip",
                max: settings.login_attempts_per_ip_per_minute,
                window: minute,
            },
            login_failures: Limit {
                name: "login_failures",
                max: settings.login_failures_per_account,
                window: settings.login_failure_window,
            },
            sign_ins_per_account: Limit {
                name: "sign_ins_account",
                max: settings.sign_ins_per_account_per_hour,
                window: 60 * minute,
            },
            slow_sign_ins: Limit {
                name: "slow_sign_ins_account",
                max: 1,
                window: settings.slow_sign_in_interval,
            },
            known_browser_sign_ins: Limit {
                name: "known_browser",
                max: settings.sign_ins_per_known_browser_per_hour,
                window: 60 * minute,
            },
            failed_sign_ins: Limit {
                name: "failed_sign_ins_account",
                max: u32::MAX,
                window: 60 * minute,
            },
            qr_create_per_ip: Limit {
                name: "qr_create_ip",
                max: settings.qr_codes_per_ip_per_minute,
                window: minute,
            },
            device_codes_per_account: Limit {
                name: "device_code_account",
                max: settings.device_code_attempts_per_account,
                window: 60 * minute,
            },
            device_starts_per_network: Limit {
                name: "device_start_ip",
                max: settings.qr_codes_per_ip_per_minute,
                window: minute,
            },
            writes_per_session: Limit {
                name: "writes_session",
                max: settings.writes_per_session_per_minute,
                window: minute,
            },
            writes_per_user: Limit {
                name: "writes_user",
                max: settings.writes_per_user_per_minute,
                window: minute,
            },
            device_codes_per_network: Limit {
                name: "device_code_ip",
                max: settings.device_code_attempts_per_network,
                window: 60 * minute,
            },
        };
        let webauthn = passkeys::relying_party(&settings)?;
        Ok(Self(Arc::new(Inner {
            webauthn,
            known_browsers: known_browsers::KnownBrowsers::new(jwt_secret),
            passwords: PasswordHasher::new(
                settings.password_hash_concurrency,
                settings.password_hash_queue,
            ),
            // Every token a key signed has expired this long after the key is superseded.
            oauth_keys: oauth::keys::KeyRing::new(db.clone(), settings.access_token_ttl + minute),
            qr_events: Hub::new(settings.qr_polls_per_ip, QR_POLLS_PER_CODE),
            notice_events: Hub::new(settings.notice_polls_per_ip, NOTICE_POLLS_PER_SESSION),
            db,
            settings,
            tokens,
            limits,
            trusted_proxies,
        })))
    }
}

/// The signed-in user behind a request, after the token and its session row were checked.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub username: Handle,
    pub display_name: Option<String>,
    pub user_created_at: chrono::DateTime<chrono::Utc>,
    pub method: SignInMethod,
    /// When this session ends; a session it approves by QR ends no later.
    pub session_expires_at: chrono::DateTime<chrono::Utc>,
    /// When the person signed in (this session began).
    pub signed_in_at: chrono::DateTime<chrono::Utc>,
}
