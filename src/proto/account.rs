//! Accounts: handles and the account rules, tokens, who a token belongs to.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{SessionId, Timestamp, UserId};

/// Handle length, in characters (ASCII only, so also bytes).
pub const HANDLE_CHARS: std::ops::RangeInclusive<usize> = 3..=32;
/// Password length, in characters of any script (ASVS 6.2: no truncation, no composition rules).
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;
/// Display name length, in characters after NFC normalization.
pub const DISPLAY_NAME_CHARS: std::ops::RangeInclusive<usize> = 1..=64;

/// A username: 3–32 of `a-z 0-9 . _ -`, starting with a letter or digit, always lowercase.
/// ASCII only, so a look-alike from another script (Cyrillic `а` for Latin `a`) cannot pose as
/// someone else; people write their name in any script as a display name instead.
/// `Handle::parse` is the one place a typed name becomes a handle.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(transparent))]
pub struct Handle(String);

/// Why a typed name is not a handle; the page shows it in the reader's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleProblem {
    Length,
    Characters,
    Start,
}

impl Handle {
    /// Trims, lowercases (ASCII) and checks the rules.
    pub fn parse(typed: &str) -> Result<Self, HandleProblem> {
        let name = typed.trim();
        if !HANDLE_CHARS.contains(&name.chars().count()) {
            return Err(HandleProblem::Length);
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(HandleProblem::Characters);
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(HandleProblem::Start);
        }
        Ok(Self(name.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl HandleProblem {
    /// The rule, in English, for API clients (`invalid_input`).
    pub fn message(self) -> String {
        match self {
            Self::Length => format!(
                "The username must be {} to {} characters long.",
                HANDLE_CHARS.start(),
                HANDLE_CHARS.end()
            ),
            Self::Characters => {
                "The username may contain only the letters a-z, digits, '.', '_' and '-'.".into()
            }
            Self::Start => "The username must start with a letter or a digit.".into(),
        }
    }
}

/// "Display Name (@handle)", or "@handle" for someone without a display name: the one way a
/// person is named on every page, so a display name can never hide whose account it is.
pub fn person_label(display_name: Option<&str>, handle: &str) -> String {
    match display_name {
        Some(name) => format!("{name} (@{handle})"),
        None => format!("@{handle}"),
    }
}

/// What `/api/register`, `/api/login`, `/api/refresh` and an approved QR poll return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// After a password sign-in or registration: this browser's known-browser token for the
    /// account. Keep it (per account) and send it as `known_browser` when signing in again: a
    /// known browser is neither slowed nor turned away by guesses flooding in from elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_browser: Option<String>,
}

/// How a session was started. Also the `sessions.method` column, decoded by sqlx.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "lowercase"))]
pub enum SignInMethod {
    Password,
    Qr,
    /// An app's sign-in through Sesame (OpenID Connect).
    Oidc,
    /// A TV or terminal approved by code (OAuth device grant).
    Device,
    /// A passkey (WebAuthn): a fingerprint, face or PIN on this device or a phone nearby.
    Passkey,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Qr => "qr",
            Self::Oidc => "oidc",
            Self::Device => "device",
            Self::Passkey => "passkey",
        }
    }
}

/// `/api/me`: who the token belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Me {
    pub id: UserId,
    /// The handle.
    pub username: Handle,
    pub display_name: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The session this token belongs to.
    pub session_id: SessionId,
    pub method: SignInMethod,
}

impl Me {
    pub fn label(&self) -> String {
        person_label(self.display_name.as_deref(), self.username.as_str())
    }
}

/// `/api/account/delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: bool,
}
