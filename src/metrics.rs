//! What operators can count: the metric names and labels in one place. Recording goes through
//! the `metrics` facade (a cheap atomic update once a recorder is installed, a no-op before), so
//! domain code can count without knowing about Prometheus; `server::observe` exports them.

use crate::proto::SignInMethod;

pub const HTTP_REQUESTS: &str = "sesame_http_requests_total";
pub const HTTP_DURATION: &str = "sesame_http_request_duration_seconds";
pub const SIGN_INS: &str = "sesame_sign_ins_total";
pub const QR_CODES: &str = "sesame_qr_codes_total";
pub const QR_POLLS_WAITING: &str = "sesame_qr_polls_waiting";
pub const NOTICE_POLLS_WAITING: &str = "sesame_notice_polls_waiting";
pub const DB_POOL_CONNECTIONS: &str = "sesame_db_pool_connections";

/// How a sign-in attempt ended.
#[derive(Clone, Copy, Debug)]
pub enum SignInResult {
    Success,
    /// Wrong password or unknown user.
    Failure,
    /// Refused by a rate limit before the password was checked.
    Limited,
}

pub fn sign_in(method: SignInMethod, result: SignInResult) {
    let result = match result {
        SignInResult::Success => "success",
        SignInResult::Failure => "failure",
        SignInResult::Limited => "limited",
    };
    metrics::counter!(SIGN_INS, "method" => method.as_str(), "result" => result).increment(1);
}

/// A QR code was created, or reached an outcome: approved, denied, consumed, expired.
pub fn qr_code(outcome: &'static str) {
    metrics::counter!(QR_CODES, "outcome" => outcome).increment(1);
}
