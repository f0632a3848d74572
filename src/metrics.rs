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
pub const DB_POOL_MAX: &str = "sesame_db_pool_max_connections";
pub const READY: &str = "sesame_ready";
pub const POLLS_BUSIEST_NETWORK: &str = "sesame_polls_waiting_busiest_network";
pub const POLLS_PER_NETWORK_LIMIT: &str = "sesame_polls_per_network_limit";

const SIGN_IN_METHODS: [SignInMethod; 5] = [
    SignInMethod::Password,
    SignInMethod::Qr,
    SignInMethod::Passkey,
    SignInMethod::Oidc,
    SignInMethod::Device,
];
const SIGN_IN_RESULTS: [SignInResult; 3] = [
    SignInResult::Success,
    SignInResult::Failure,
    SignInResult::Limited,
];
const QR_OUTCOMES: [&str; 5] = ["created", "approved", "denied", "consumed", "expired"];

/// Every counter's known series, at 0, from start-up: a rate or an absence alert over a series
/// that appears only on its first event would be blind until then.
pub fn register_known_series() {
    for method in SIGN_IN_METHODS {
        for result in SIGN_IN_RESULTS {
            sign_in_counter(method, result).absolute(0);
        }
    }
    for outcome in QR_OUTCOMES {
        metrics::counter!(QR_CODES, "outcome" => outcome).absolute(0);
    }
}

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
    sign_in_counter(method, result).increment(1);
}

fn sign_in_counter(method: SignInMethod, result: SignInResult) -> metrics::Counter {
    let result = match result {
        SignInResult::Success => "success",
        SignInResult::Failure => "failure",
        SignInResult::Limited => "limited",
    };
    metrics::counter!(SIGN_INS, "method" => method.as_str(), "result" => result)
}

/// A QR code was created, or reached an outcome: approved, denied, consumed, expired.
pub fn qr_code(outcome: &'static str) {
    metrics::counter!(QR_CODES, "outcome" => outcome).increment(1);
}
