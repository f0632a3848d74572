//! The HTTP API: server functions under `/api/...` (JSON in, JSON out) and the types they exchange.
//! The functions compile into both the server and the WASM bundle; their bodies run on the server
//! only, where each one reads input, authenticates, calls into `domain`, and returns.

pub mod account;
pub mod client;
pub mod qr;
pub mod sessions;

#[cfg(feature = "ssr")]
mod request;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Account rules, checked by the server and, for a message in the reader's language, the page.
pub const USERNAME_CHARS: std::ops::RangeInclusive<usize> = 3..=32;
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;

/// What `/api/register`, `/api/login`, `/api/refresh` and an approved QR poll return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// How a session was started. Also the `sessions.method` column, decoded by sqlx.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "lowercase"))]
pub enum SignInMethod {
    Password,
    Qr,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Qr => "qr",
        }
    }
}

/// `/api/me`: who the token belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: Uuid,
    pub username: String,
    pub created_at: DateTime<Utc>,
    /// The session this token belongs to.
    pub session_id: Uuid,
    pub method: SignInMethod,
}

/// One signed-in device, for the sessions page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: Uuid,
    pub method: SignInMethod,
    pub browser: String,
    pub os: String,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The session of the token that asked.
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}

/// How many sessions a revoke or sign-out call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub revoked: u64,
}

/// States of a QR sign-in code; see `domain::qr` for the transitions. Also the
/// `qr_logins.state` column, decoded by sqlx.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "lowercase"))]
pub enum QrState {
    Pending,
    Scanned,
    Approved,
    Consumed,
    Denied,
    Expired,
}

/// `/api/qr/create`: the `secret` stays in the desktop tab that asked; only `url` goes into the QR.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCreated {
    pub id: String,
    pub secret: String,
    pub url: String,
    pub expires_in: i64,
}

/// `/api/qr/poll`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrPoll {
    pub state: QrState,
    /// With `scanned`: who scanned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_by: Option<String>,
    /// With `approved`, exactly once: the desktop's own new tokens, as `/api/login` returns them.
    #[serde(flatten)]
    pub tokens: Option<TokenResponse>,
}

/// `/api/qr/scan`: who is asking to be signed in, shown on the phone before it approves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrRequest {
    pub id: String,
    pub state: QrState,
    pub browser: String,
    pub os: String,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub expires_in: i64,
}

/// `/api/qr/approve` and `/api/qr/deny`: the state the code is now in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrAnswer {
    pub state: QrState,
}
