//! Runtime settings: `Leptos.toml` (documented there), then `SESAME_<NAME>` environment variables
//! and `DATABASE_URL` on top. cargo-leptos's build settings live in `Cargo.toml` instead.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub site_addr: String,
    pub public_url: String,
    pub database_url: String,
    pub db_max_connections: u32,
    pub jwt_secret: String,
    pub jwt_secret_file: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_minutes: f64,
    pub session_days: i64,
    pub refresh_grace_seconds: f64,
    pub qr_lifetime_seconds: i64,
    pub qr_redeem_seconds: f64,
    pub qr_poll_seconds: u64,
    pub login_attempts_per_ip_per_minute: u32,
    pub login_failures_per_account: u32,
    pub login_failure_window_minutes: u64,
    pub qr_codes_per_ip_per_minute: u32,
    pub password_hash_concurrency: usize,
    pub max_body_bytes: usize,
    pub trusted_proxy_hops: usize,
    pub qr_polls_per_ip: usize,
    pub notice_polls_per_ip: usize,
    pub log: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            site_addr: "127.0.0.1:3000".into(),
            public_url: String::new(),
            database_url: String::new(),
            db_max_connections: 16,
            jwt_secret: String::new(),
            jwt_secret_file: "target/sesame/jwt-secret".into(),
            jwt_issuer: "sesame".into(),
            jwt_audience: "sesame".into(),
            access_token_minutes: 15.0,
            session_days: 30,
            refresh_grace_seconds: 2.0,
            qr_lifetime_seconds: 120,
            qr_redeem_seconds: 60.0,
            qr_poll_seconds: 25,
            login_attempts_per_ip_per_minute: 30,
            login_failures_per_account: 5,
            login_failure_window_minutes: 15,
            qr_codes_per_ip_per_minute: 20,
            password_hash_concurrency: 0,
            max_body_bytes: 16 * 1024,
            trusted_proxy_hops: 0,
            qr_polls_per_ip: 20,
            notice_polls_per_ip: 200,
            log: "info,sesame=info".into(),
        }
    }
}

impl Settings {
    /// Reads `Leptos.toml` (or the file named by `SESAME_CONFIG`) if present, then the environment.
    pub fn load() -> Result<Self, String> {
        let path = std::env::var("SESAME_CONFIG").unwrap_or_else(|_| "Leptos.toml".into());
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {path}: {e}")),
        };
        let file: toml::Table = text.parse().map_err(|e| format!("{path}: {e}"))?;
        Self::from_sources(file, std::env::vars())
    }

    /// File values first, then `SESAME_<NAME>` and `DATABASE_URL` from `env` on top.
    pub fn from_sources(
        mut table: toml::Table,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, String> {
        let known = toml::Table::try_from(Settings::default()).expect("settings serialize");
        for (name, raw) in env {
            let key = match name.as_str() {
                "DATABASE_URL" => "database_url".to_owned(),
                _ => match name.strip_prefix("SESAME_") {
                    Some(rest) => rest.to_ascii_lowercase(),
                    None => continue,
                },
            };
            let Some(default) = known.get(&key) else {
                continue;
            };
            // Typed like the default: numbers and booleans are parsed, everything else is text.
            let value = match default {
                toml::Value::String(_) => toml::Value::String(raw),
                _ => format!("v = {raw}")
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .ok_or_else(|| format!("{name}: '{raw}' is not a valid value"))?,
            };
            table.insert(key, value);
        }
        // A float setting written as an integer (e.g. SESAME_QR_REDEEM_SECONDS=30) is still fine.
        for (key, default) in &known {
            if let (toml::Value::Float(_), Some(toml::Value::Integer(n))) =
                (default, table.get(key))
            {
                let n = *n as f64;
                table.insert(key.clone(), toml::Value::Float(n));
            }
        }
        table.try_into().map_err(|e| format!("settings: {e}"))
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

    #[test]
    fn environment_overrides_the_file_with_the_right_types() {
        let file: toml::Table = "qr_lifetime_seconds = 60\njwt_issuer = \"file\""
            .parse()
            .unwrap();
        let env = [
            ("SESAME_JWT_ISSUER".to_owned(), "env".to_owned()),
            ("SESAME_TRUSTED_PROXY_HOPS".to_owned(), "1".to_owned()),
            ("SESAME_QR_REDEEM_SECONDS".to_owned(), "5".to_owned()),
            ("DATABASE_URL".to_owned(), "postgres://x".to_owned()),
            ("SESAME_NOT_A_SETTING".to_owned(), "ignored".to_owned()),
        ];
        let settings = Settings::from_sources(file, env.into_iter()).unwrap();
        assert_eq!(settings.qr_lifetime_seconds, 60);
        assert_eq!(settings.jwt_issuer, "env");
        assert_eq!(settings.trusted_proxy_hops, 1);
        assert_eq!(settings.qr_redeem_seconds, 5.0);
        assert_eq!(settings.database_url, "postgres://x");
    }

    #[test]
    fn a_bad_number_is_a_clear_error() {
        let env = [("SESAME_SESSION_DAYS".to_owned(), "thirty".to_owned())];
        let error = Settings::from_sources(toml::Table::new(), env.into_iter()).unwrap_err();
        assert!(error.contains("SESAME_SESSION_DAYS"), "{error}");
    }

    #[test]
    fn the_shipped_leptos_toml_parses_and_documents_every_setting() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml")).unwrap();
        let file: toml::Table = text.parse().unwrap();
        let known = toml::Table::try_from(Settings::default()).unwrap();
        for key in known.keys() {
            assert!(
                file.contains_key(key),
                "Leptos.toml does not document {key}"
            );
        }
        Settings::from_sources(file, std::iter::empty()).unwrap();
    }
}
