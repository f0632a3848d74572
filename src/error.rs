//! The one error type. It crosses the wire as `{"code", "message"}` (plus `retry_after` when rate
//! limited); the HTTP status is derived from the code in one place (`ErrorCode::status`).

use leptos::server_fn;
use serde::{Deserialize, Serialize};
use server_fn::{codec::JsonEncoding, error::FromServerFnError};

/// Stable, machine-readable error codes. Clients outside this repository match on these strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed or a field breaks a rule; the message says which.
    InvalidInput,
    /// 401: unknown user or wrong password (deliberately the same).
    InvalidCredentials,
    /// 401: no token, or one that is forged, malformed or of the wrong kind.
    Unauthorized,
    /// 401: the access token has expired; renew it with `/api/refresh`.
    TokenExpired,
    /// 401: the session behind the token was signed out, revoked or reached its end.
    SessionEnded,
    /// 404: no such thing, or not yours to see.
    NotFound,
    /// 409: the username is taken (case is ignored).
    UsernameTaken,
    /// 409: another tab renewed this session a moment ago; read the new tokens and retry.
    RefreshRace,
    /// 409: the QR code is not in a state that allows this step (already used, denied, or another user's).
    QrConflict,
    /// 410: the QR code has expired.
    QrExpired,
    /// 413: the request body is over the limit.
    PayloadTooLarge,
    /// 415: a request with a body must send it as `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 429: too many attempts; `retry_after` says how many seconds to wait.
    RateLimited,
    /// 500: something broke on our side; the details are in the server log only.
    Internal,
    /// 503: the database cannot be reached right now; retry after `retry_after` seconds.
    Unavailable,
    /// Never sent by the server: the browser could not reach it.
    Network,
}

impl ErrorCode {
    /// The HTTP status each code is sent with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidInput => 400,
            Self::InvalidCredentials
            | Self::Unauthorized
            | Self::TokenExpired
            | Self::SessionEnded => 401,
            Self::NotFound => 404,
            Self::UsernameTaken | Self::RefreshRace | Self::QrConflict => 409,
            Self::QrExpired => 410,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable | Self::Network => 503,
        }
    }

    /// Errors after which the browser should treat itself as signed out.
    pub fn ends_session(self) -> bool {
        matches!(self, Self::Unauthorized | Self::SessionEnded)
    }

    /// Errors that say nothing about the request or the session: retry later, keep the tokens.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Network | Self::Unavailable | Self::Internal)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    /// Fit to show a user; never contains internal details.
    pub message: String,
    /// Seconds to wait, with `rate_limited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    pub fn invalid_credentials() -> Self {
        Self::new(ErrorCode::InvalidCredentials, "Wrong username or password.")
    }
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "Please sign in.")
    }
    pub fn token_expired() -> Self {
        Self::new(
            ErrorCode::TokenExpired,
            "Your access token has expired; renew it.",
        )
    }
    pub fn session_ended() -> Self {
        Self::new(
            ErrorCode::SessionEnded,
            "This session has ended. Please sign in again.",
        )
    }
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "Not found.")
    }
    pub fn qr_conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::QrConflict, message)
    }
    pub fn qr_expired() -> Self {
        Self::new(ErrorCode::QrExpired, "This sign-in code has expired.")
    }
    pub fn payload_too_large() -> Self {
        Self::new(ErrorCode::PayloadTooLarge, "The request is too large.")
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            ErrorCode::UnsupportedMediaType,
            "Send the request body as JSON, with Content-Type: application/json.",
        )
    }
    pub fn unavailable() -> Self {
        Self {
            code: ErrorCode::Unavailable,
            message: "The service is briefly unavailable. Please try again in a moment.".into(),
            retry_after: Some(1),
        }
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: format!("Too many attempts. Try again in {retry_after} seconds."),
            retry_after: Some(retry_after),
        }
    }
    /// Logs `detail` (which may hold internal text) and returns an error that reveals none of it.
    #[cfg(feature = "ssr")]
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            ErrorCode::Internal,
            "Something went wrong on our side. Please try again.",
        )
    }
}

/// A database that cannot be reached (down, restarting, pool exhausted) is an outage, said as
/// 503 `unavailable`; anything else the database says is a bug, logged and said as 500.
#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if is_outage(&error) {
            tracing::warn!(%error, "database unavailable");
            return Self::unavailable();
        }
        Self::internal(error)
    }
}

#[cfg(feature = "ssr")]
fn is_outage(error: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match error {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => true,
        // Class 08: connection exceptions; 57P01-57P03: shutting down, crash recovery, starting.
        E::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(_) => Self::new(
                ErrorCode::Network,
                "Cannot reach the server. Check your connection.",
            ),
            E::Args(m) | E::Deserialization(m) | E::MissingArg(m) => Self::invalid_input(format!(
                "The request body is not valid JSON for this call: {m}"
            )),
            E::UnsupportedRequestMethod(_) => Self::invalid_input("Use POST with a JSON body."),
            other => {
                #[cfg(feature = "ssr")]
                return Self::internal(other);
                #[cfg(not(feature = "ssr"))]
                return Self::new(ErrorCode::Internal, other.to_string());
            }
        }
    }

    /// On the server, this is where an error leaves for the client, so it is also where its HTTP
    /// status and headers are set (server functions would otherwise answer every error with 500,
    /// and a middleware would have to read the body back to find the right one).
    fn ser(&self) -> bytes::Bytes {
        #[cfg(feature = "ssr")]
        crate::api::respond_with_error(self);
        <JsonEncoding as server_fn::Encodes<Self>>::encode(self).unwrap_or_default()
    }
}
