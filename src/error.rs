//! The one error type. It crosses the wire as `{"code", "message"}` (plus `retry_after` when rate
//! limited); the HTTP status is derived from the code in one place (`ErrorCode::status`), and the
//! whole HTTP answer (status, `Retry-After`, `WWW-Authenticate`) in one other (`http`), whether a
//! server function, a middleware or a plain handler sends it.

use leptos::server_fn;
use serde::{Deserialize, Serialize};
use server_fn::{codec::JsonEncoding, error::FromServerFnError};

/// Stable, machine-readable error codes. Clients outside this repository match on these strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// 401: the passkey was refused: unknown or removed, a bad signature, no user verification,
    /// another origin or relying party, or a signature counter that went backwards.
    PasskeyRejected,
    /// 403: approving needs a fresh proof (a passkey, or the password) first: the account asks
    /// for one (`/api/verify/...`).
    VerificationRequired,
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
    /// 410: the passkey ceremony is older than 5 minutes, or was already used; start again.
    CeremonyExpired,
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
    /// 503: too many sign-ins are being checked right now; retry after `retry_after` seconds.
    Busy,
    /// Never sent by the server: the browser could not reach it.
    Network,

    // OAuth 2.0 and OpenID Connect errors, named as RFC 6749 §5.2 and RFC 8628 §3.5 name them.
    // The `/oauth` endpoints send them as `{"error", "error_description"}` (`oauth_name`).
    /// 400: a parameter is missing, repeated or malformed.
    InvalidRequest,
    /// 401: unknown client, or its authentication failed.
    InvalidClient,
    /// 400: the code, refresh token or device code is invalid, expired, spent or another client's.
    InvalidGrant,
    /// 400: this client may not use this grant.
    UnauthorizedClient,
    /// 400: a grant type this server does not know.
    UnsupportedGrantType,
    /// 400: a scope this server does not know.
    InvalidScope,
    /// 400: the person has not answered the device code yet; poll again after the interval.
    AuthorizationPending,
    /// 400: polled sooner than the interval, which has now grown by 5 seconds.
    SlowDown,
    /// 400: the person denied the request.
    AccessDenied,
    /// 400: the device code expired; start again.
    ExpiredToken,
}

impl ErrorCode {
    /// The HTTP status each code is sent with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidInput
            | Self::InvalidRequest
            | Self::InvalidGrant
            | Self::UnauthorizedClient
            | Self::UnsupportedGrantType
            | Self::InvalidScope
            | Self::AuthorizationPending
            | Self::SlowDown
            | Self::AccessDenied
            | Self::ExpiredToken => 400,
            Self::InvalidCredentials
            | Self::Unauthorized
            | Self::TokenExpired
            | Self::SessionEnded
            | Self::InvalidClient
            | Self::PasskeyRejected => 401,
            Self::VerificationRequired => 403,
            Self::NotFound => 404,
            Self::UsernameTaken | Self::RefreshRace | Self::QrConflict => 409,
            Self::QrExpired | Self::CeremonyExpired => 410,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable | Self::Busy | Self::Network => 503,
        }
    }

    /// The RFC 6749 §5.2 `error` of an `/oauth` answer. Sesame's own codes that have no OAuth
    /// twin become the nearest one: bad input is `invalid_request`, an outage is
    /// `temporarily_unavailable`, anything else on our side `server_error`.
    pub fn oauth_name(self) -> &'static str {
        match self {
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::Unauthorized | Self::TokenExpired | Self::SessionEnded => "invalid_token",
            Self::RateLimited => "slow_down",
            Self::Unavailable | Self::Busy | Self::Network => "temporarily_unavailable",
            Self::Internal => "server_error",
            _ => "invalid_request",
        }
    }

    /// Errors after which the browser should treat itself as signed out.
    pub fn ends_session(self) -> bool {
        matches!(self, Self::Unauthorized | Self::SessionEnded)
    }

    /// Errors that say nothing about the request or the session: retry later, keep the tokens.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Network | Self::Unavailable | Self::Busy | Self::Internal
        )
    }
}

#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, utoipa::ToSchema,
)]
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

impl From<crate::proto::HandleProblem> for AppError {
    fn from(problem: crate::proto::HandleProblem) -> Self {
        AppError::invalid_input(problem.message())
    }
}

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
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }
    pub fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "Client authentication failed.")
    }
    pub fn invalid_grant(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, message)
    }
    pub fn busy() -> Self {
        Self {
            code: ErrorCode::Busy,
            message: "Too many sign-ins right now. Try again in a moment.".into(),
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
        http::set_on_server_fn_response(self);
        <JsonEncoding as server_fn::Encodes<Self>>::encode(self).unwrap_or_default()
    }
}

/// The one place an error becomes an HTTP answer. Server functions set it on leptos' response
/// (`set_on_server_fn_response`); middleware and plain handlers build a whole response
/// (`AppError::into_http_response`). Both call `status_and_headers`, so they cannot drift apart.
#[cfg(feature = "ssr")]
pub mod http {
    use axum::http::{HeaderName, HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};

    use super::AppError;

    impl AppError {
        /// The status, `Retry-After` when the error says when to retry, and `WWW-Authenticate`
        /// with every 401 (RFC 6750 §3: `error="invalid_token"` when a token was sent).
        pub fn status_and_headers(
            &self,
            sent_token: bool,
        ) -> (StatusCode, Vec<(HeaderName, HeaderValue)>) {
            let status = StatusCode::from_u16(self.code.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut headers = Vec::new();
            if let Some(seconds) = self.retry_after {
                headers.push((header::RETRY_AFTER, HeaderValue::from(seconds)));
            }
            if status == StatusCode::UNAUTHORIZED {
                headers.push((header::WWW_AUTHENTICATE, www_authenticate(sent_token)));
            }
            (status, headers)
        }

        /// The JSON error as a complete response. `sent_token`: whether the request carried an
        /// Authorization header.
        pub fn into_http_response(self, sent_token: bool) -> Response {
            let (status, headers) = self.status_and_headers(sent_token);
            let mut response = (status, axum::Json(self)).into_response();
            response.headers_mut().extend(headers);
            response
        }
    }

    impl AppError {
        /// The error as an `/oauth` endpoint sends it (RFC 6749 §5.2): `{"error",
        /// "error_description"}`, never cached; `invalid_client` with 401 and a Basic challenge
        /// (the client authenticates with HTTP Basic), a bad bearer token with RFC 6750's.
        pub fn into_oauth_response(self) -> Response {
            let body = serde_json::json!({
                "error": self.code.oauth_name(),
                "error_description": self.message,
            });
            let (status, mut headers) = self.status_and_headers(true);
            if self.code == super::ErrorCode::InvalidClient {
                headers.retain(|(name, _)| name != header::WWW_AUTHENTICATE);
                headers.push((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="sesame""#),
                ));
            }
            let mut response = (status, axum::Json(body)).into_response();
            response.headers_mut().extend(headers);
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
    }

    fn www_authenticate(sent_token: bool) -> HeaderValue {
        HeaderValue::from_static(if sent_token {
            r#"Bearer error="invalid_token""#
        } else {
            "Bearer"
        })
    }

    /// Gives the response of the server function being answered the error's status and headers
    /// (server functions would otherwise answer every error with 500).
    pub(super) fn set_on_server_fn_response(error: &AppError) {
        use leptos::prelude::use_context;
        let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        let sent_token = use_context::<axum::http::request::Parts>()
            .is_some_and(|parts| parts.headers.contains_key(header::AUTHORIZATION));
        let (status, headers) = error.status_and_headers(sent_token);
        response.set_status(status);
        for (name, value) in headers {
            response.insert_header(name, value);
        }
    }
}
