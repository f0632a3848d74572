//! Runtime settings, layered with figment: the defaults below, then `Leptos.toml` (documented
//! there; `SESAME_CONFIG` names another file), then `SESAME_<NAME>` environment variables and
//! `DATABASE_URL`. Durations are written with units ("15m", "30d", "2s"). cargo-leptos's build
//! settings live in `Cargo.toml` instead.

use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub site_addr: String,
    pub public_url: String,
    /// The WebAuthn relying-party id passkeys are bound to. Empty: the host of `public_url`
    /// (`localhost` when that is a loopback address).
    pub passkey_rp_id: String,
    pub metrics_addr: String,
    pub database_url: String,
    pub db_max_connections: u32,
    #[serde(with = "humantime_serde")]
    pub db_acquire_timeout: Duration,
    pub jwt_secret: String,
    pub jwt_secret_file: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub refresh_grace: Duration,
    #[serde(with = "humantime_serde")]
    pub qr_lifetime: Duration,
    #[serde(with = "humantime_serde")]
    pub qr_redeem_window: Duration,
    #[serde(with = "humantime_serde")]
    pub qr_poll_wait: Duration,
    pub qr_polls_per_ip: usize,
    pub login_attempts_per_ip_per_minute: u32,
    pub login_failures_per_account: u32,
    #[serde(with = "humantime_serde")]
    pub login_failure_window: Duration,
    pub sign_ins_per_account_per_hour: u32,
    pub sign_ins_per_known_browser_per_hour: u32,
    #[serde(with = "humantime_serde")]
    pub slow_sign_in_interval: Duration,
    pub qr_codes_per_ip_per_minute: u32,
    pub writes_per_session_per_minute: u32,
    pub writes_per_user_per_minute: u32,
    pub password_hash_concurrency: usize,
    pub password_hash_queue: usize,
    pub max_body_bytes: usize,
    pub trusted_proxy_hops: usize,
    pub trusted_proxies: String,
    pub notice_polls_per_ip: usize,
    pub allow_private_logout_targets: bool,
    #[serde(with = "humantime_serde")]
    pub audit_retention: Duration,
    #[serde(with = "humantime_serde")]
    pub device_code_lifetime: Duration,
    pub device_code_attempts_per_account: u32,
    pub device_code_attempts_per_network: u32,
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    pub log: String,
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Default for Settings {
    fn default() -> Self {
        Self {
            site_addr: "127.0.0.1:3000".into(),
            public_url: String::new(),
            passkey_rp_id: String::new(),
            metrics_addr: "127.0.0.1:9464".into(),
            database_url: String::new(),
            db_max_connections: 16,
            db_acquire_timeout: Duration::from_secs(3),
            jwt_secret: String::new(),
            jwt_secret_file: "target/sesame/jwt-secret".into(),
            jwt_issuer: "sesame".into(),
            jwt_audience: "sesame".into(),
            access_token_ttl: 15 * MINUTE,
            session_ttl: 30 * 24 * 60 * MINUTE,
            refresh_grace: Duration::from_secs(2),
            qr_lifetime: Duration::from_secs(120),
            qr_redeem_window: Duration::from_secs(60),
            qr_poll_wait: Duration::from_secs(25),
            qr_polls_per_ip: 20,
            login_attempts_per_ip_per_minute: 30,
            login_failures_per_account: 5,
            login_failure_window: 15 * MINUTE,
            sign_ins_per_account_per_hour: 50,
            sign_ins_per_known_browser_per_hour: 10,
            slow_sign_in_interval: Duration::from_secs(30),
            qr_codes_per_ip_per_minute: 20,
            writes_per_session_per_minute: 30,
            writes_per_user_per_minute: 60,
            password_hash_concurrency: 0,
            password_hash_queue: 0,
            max_body_bytes: 16 * 1024,
            trusted_proxy_hops: 0,
            trusted_proxies: "127.0.0.1/32, ::1/128".into(),
            notice_polls_per_ip: 200,
            allow_private_logout_targets: false,
            audit_retention: Duration::from_secs(400 * 24 * 3600),
            device_code_lifetime: Duration::from_secs(600),
            device_code_attempts_per_account: 20,
            device_code_attempts_per_network: 60,
            shutdown_grace: Duration::from_secs(10),
            log: "info,sesame=info".into(),
            log_format: LogFormat::Text,
        }
    }
}

impl Settings {
    /// Reads `Leptos.toml` (or the file named by `SESAME_CONFIG`) if present, then the environment.
    pub fn load() -> Result<Self, String> {
        let path = std::env::var("SESAME_CONFIG").unwrap_or_else(|_| "Leptos.toml".into());
        Self::from_figment(Figment::new().merge(Toml::file(path)), Env::raw())
    }

    /// Defaults, then `file`, then `SESAME_<NAME>` and `DATABASE_URL` from `env`. An environment
    /// variable that names no setting is ignored with a warning (it may belong to a script).
    /// Errors name the setting and where its value came from.
    pub fn from_figment(file: Figment, env: Env) -> Result<Self, String> {
        let known: Vec<String> = figment::value::Value::serialize(Settings::default())
            .ok()
            .and_then(|value| value.into_dict())
            .map(|dict| dict.into_keys().collect())
            .unwrap_or_default();
        let sesame_env = env.clone().filter_map(move |key| {
            let name = key.as_str().strip_prefix("SESAME_")?.to_ascii_lowercase();
            if known.contains(&name) {
                Some(name.into())
            } else {
                if name != "config" {
                    eprintln!(
                        "sesame: ignoring SESAME_{}: no such setting",
                        name.to_uppercase()
                    );
                }
                None
            }
        });
        let database_url =
            env.filter_map(|key| (key.as_str() == "DATABASE_URL").then(|| "database_url".into()));
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(file)
            .merge(sesame_env)
            .merge(database_url)
            .extract()
            .map_err(|error| format!("bad setting: {error}"))
    }

    /// The address phones reach this server at, for the URL inside QR codes.
    pub fn public_url(&self) -> String {
        match self.public_url.trim_end_matches('/') {
            "" => format!("http://{}", self.site_addr),
            url => url.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(file: &str, vars: &[(&str, &str)]) -> Result<Settings, String> {
        let mut result = None;
        // figment's own error type is large; this closure never returns it.
        #[allow(clippy::result_large_err)]
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            for (name, value) in vars {
                jail.set_env(name, value);
            }
            result = Some(Settings::from_figment(
                Figment::new().merge(Toml::string(file)),
                Env::raw(),
            ));
            Ok(())
        });
        result.unwrap()
    }

    #[test]
    fn environment_overrides_the_file_with_the_right_types() {
        let settings = with_env(
            "qr_lifetime = \"60s\"\njwt_issuer = \"file\"",
            &[
                ("SESAME_JWT_ISSUER", "env"),
                ("SESAME_TRUSTED_PROXY_HOPS", "1"),
                ("SESAME_ACCESS_TOKEN_TTL", "3s"),
                ("SESAME_SESSION_TTL", "30days"),
                ("DATABASE_URL", "postgres://x"),
                ("SESAME_NOT_A_SETTING", "ignored"),
            ],
        )
        .unwrap();
        assert_eq!(settings.qr_lifetime, Duration::from_secs(60));
        assert_eq!(settings.jwt_issuer, "env");
        assert_eq!(settings.trusted_proxy_hops, 1);
        assert_eq!(settings.access_token_ttl, Duration::from_secs(3));
        assert_eq!(settings.session_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(settings.database_url, "postgres://x");
    }

    #[test]
    fn a_bad_value_names_the_setting_and_where_it_came_from() {
        let error = with_env("", &[("SESAME_SESSION_TTL", "thirty")]).unwrap_err();
        assert!(error.to_lowercase().contains("session_ttl"), "{error}");
        assert!(error.contains("environment"), "{error}");
        let error = with_env("qr_lifetime = 120", &[]).unwrap_err();
        assert!(error.contains("qr_lifetime"), "{error}");
        let error = with_env("no_such_setting = 1", &[]).unwrap_err();
        assert!(error.contains("no_such_setting"), "{error}");
    }

    #[test]
    fn the_shipped_leptos_toml_parses_and_documents_every_setting() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let file: toml::Table = text.parse().unwrap();
        let known = toml::Table::try_from(Settings::default()).unwrap();
        for key in known.keys() {
            assert!(
                file.contains_key(key),
                "Leptos.toml does not document {key}"
            );
        }
        with_env(&text, &[]).unwrap();
    }
}
