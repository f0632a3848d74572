//! The types that cross the wire, shared by the server and the browser: identifiers, handles,
//! request and answer bodies, the account rules. It imports nothing else of Sesame, so `api`,
//! `domain`, `db` and `ui` all point here and never at each other for a type.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

/// A moment in time; on the wire, RFC 3339 text in UTC (`2026-11-29T23:11:35.123456Z`).
#[cfg(feature = "ssr")]
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// In the browser a moment is kept as the server's text and read by JavaScript's `Date` when
/// shown: the WASM then carries no date library of its own (chrono's parsing was 21 KB of it,
/// before optimisation). It answers the two questions the pages ask, as chrono's type does.
#[cfg(not(feature = "ssr"))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(String);

#[cfg(not(feature = "ssr"))]
impl Timestamp {
    /// Milliseconds since 1970 (`Date.parse`); text that is not a date gives 0, the epoch.
    #[cfg(feature = "hydrate")]
    pub fn timestamp_millis(&self) -> i64 {
        let millis = js_sys::Date::parse(&with_milliseconds(&self.0));
        if millis.is_finite() { millis as i64 } else { 0 }
    }

    pub fn to_rfc3339(&self) -> String {
        self.0.clone()
    }
}

/// The server's times carry microseconds (`…:35.123456Z`); JavaScript's date format has exactly
/// milliseconds, and not every browser's `Date.parse` accepts more digits. Keeps the first three.
#[cfg_attr(feature = "ssr", allow(dead_code))]
fn with_milliseconds(rfc3339: &str) -> String {
    let Some(dot) = rfc3339.find('.') else {
        return rfc3339.to_owned();
    };
    let (whole, rest) = rfc3339.split_at(dot + 1);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let kept = &rest[..digits.min(3)];
    format!("{whole}{kept:0<3}{}", &rest[digits..])
}

/// Identifier newtypes: a `UserId` can never be passed where a `SessionId` is expected.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type))]
        #[cfg_attr(feature = "ssr", sqlx(transparent))]
        pub struct $name(pub Uuid);

        impl $name {
            #[cfg(feature = "ssr")]
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A user account.
    UserId
);
uuid_id!(
    /// A signed-in device: the row every access token names in its `jti`.
    SessionId
);

/// The public id of a QR sign-in code (it is in the QR image, so anyone who sees it knows it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(transparent))]
pub struct QrId(pub String);

impl fmt::Display for QrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl From<HandleProblem> for AppError {
    fn from(problem: HandleProblem) -> Self {
        AppError::invalid_input(problem.message())
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
    pub id: UserId,
    /// The handle.
    pub username: Handle,
    pub display_name: Option<String>,
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

/// One signed-in device, for the sessions page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: SessionId,
    pub method: SignInMethod,
    pub browser: String,
    pub os: String,
    pub ip: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    /// The session of the token that asked.
    pub current: bool,
    /// For a QR sign-in: the device that approved it ("Safari on iOS"), while that session exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_from: Option<String>,
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

impl QrState {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Consumed | Self::Denied | Self::Expired)
    }
}

/// `/api/qr/create`: the `secret` stays in the desktop tab that asked; only `url` goes into the QR.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCreated {
    pub id: QrId,
    pub secret: String,
    pub url: String,
    pub expires_in: i64,
    /// The QR code of `url`, drawn: SVG path data of the dark modules, one unit per module, in a
    /// square of `qr_svg_size` units (quiet zone included), so browsers need no QR encoder.
    pub qr_svg_path: String,
    pub qr_svg_size: u32,
}

/// `/api/qr/poll`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "QrPollFields")]
pub struct QrPoll {
    pub state: QrState,
    /// With `scanned`: the handle of who scanned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_by: Option<Handle>,
    /// With `scanned`: their display name, if they set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_by_name: Option<String>,
    /// With `approved`, exactly once: the desktop's own new tokens, as `/api/login` returns them.
    #[serde(flatten)]
    pub tokens: Option<TokenResponse>,
}

/// `QrPoll` as read from JSON: its token fields one by one. serde's `flatten` would buffer the
/// whole answer first, and its buffering code is a few KB of the sign-in page's WASM.
#[derive(Deserialize)]
struct QrPollFields {
    state: QrState,
    #[serde(default)]
    scanned_by: Option<Handle>,
    #[serde(default)]
    scanned_by_name: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl From<QrPollFields> for QrPoll {
    fn from(fields: QrPollFields) -> Self {
        let tokens = match (
            fields.access_token,
            fields.refresh_token,
            fields.token_type,
            fields.expires_in,
        ) {
            (Some(access_token), Some(refresh_token), Some(token_type), Some(expires_in)) => {
                Some(TokenResponse {
                    access_token,
                    refresh_token,
                    token_type,
                    expires_in,
                })
            }
            _ => None,
        };
        Self {
            state: fields.state,
            scanned_by: fields.scanned_by,
            scanned_by_name: fields.scanned_by_name,
            tokens,
        }
    }
}

/// `/api/qr/scan`: who is asking to be signed in, shown on the phone before it approves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrRequest {
    pub id: QrId,
    pub state: QrState,
    pub browser: String,
    pub os: String,
    pub ip: String,
    pub created_at: Timestamp,
    pub expires_in: i64,
    /// Whether the asking computer is on the phone's network (same IPv4 /24 or IPv6 /64). When
    /// not, the code may have been relayed to this phone by someone else (QRLJacking).
    pub same_network: bool,
}

/// `/api/qr/approve` and `/api/qr/deny`: the state the code is now in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrAnswer {
    pub state: QrState,
}

/// What a notice is about. Only new sign-ins so far; clients should ignore kinds they do not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    NewSignIn,
}

/// "Someone just signed in to your account": shown live on the user's other devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: i64,
    pub kind: NoticeKind,
    /// The new session; `/api/sessions/revoke` ends it.
    pub session_id: SessionId,
    pub method: SignInMethod,
    pub browser: String,
    pub os: String,
    pub ip: String,
    pub at: Timestamp,
}

/// `/api/notices/poll`: notices newer than the cursor sent, and the cursor to send next time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticePoll {
    pub notices: Vec<Notice>,
    pub cursor: i64,
}

/// The kinds of event on the security activity page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// A password or QR sign-in (registering counts as one).
    SignIn,
    /// A wrong password was given for this account.
    SignInFailed,
    /// This account approved a QR sign-in from its phone.
    QrApproved,
    QrDenied,
    /// A session was signed out or ended from another one.
    SessionEnded,
    PasswordChanged,
    /// A spent refresh token was presented again (a stolen copy): its session was ended.
    RefreshReuse,
}

/// One line of the account's security history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEvent {
    pub id: i64,
    pub kind: ActivityKind,
    pub at: Timestamp,
    /// Where the request came from.
    pub ip: String,
    pub browser: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// With `sign_in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<SignInMethod>,
}

/// `/api/activity`: one page, newest first; `next` is the `before` of the following page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPage {
    pub events: Vec<ActivityEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// `/api/account/delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    pub deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_ascii_lowercase_and_start_with_a_letter_or_digit() {
        assert_eq!(
            Handle::parse("  Alice.B_1-x ").unwrap().as_str(),
            "alice.b_1-x"
        );
        assert_eq!(Handle::parse("ab"), Err(HandleProblem::Length));
        assert_eq!(Handle::parse(&"a".repeat(33)), Err(HandleProblem::Length));
        assert!(Handle::parse(&"a".repeat(32)).is_ok());
        assert_eq!(Handle::parse("_alice"), Err(HandleProblem::Start));
        assert_eq!(Handle::parse("al ice"), Err(HandleProblem::Characters));
        assert_eq!(Handle::parse("张三丰"), Err(HandleProblem::Characters));
    }

    #[test]
    fn a_cyrillic_look_alike_is_not_a_handle() {
        // U+0430 CYRILLIC SMALL LETTER A, then "lice".
        assert_eq!(Handle::parse("\u{430}lice"), Err(HandleProblem::Characters));
        // Turkish dotted capital I lowercases differently in Rust and PostgreSQL: refused outright.
        assert_eq!(Handle::parse("\u{130}van"), Err(HandleProblem::Characters));
        // The Kelvin sign lowercases to a Latin k under Unicode rules.
        assert_eq!(Handle::parse("\u{212a}im"), Err(HandleProblem::Characters));
    }

    #[test]
    fn people_are_named_with_their_handle_always_visible() {
        assert_eq!(
            person_label(Some("Alice Liddell"), "alice"),
            "Alice Liddell (@alice)"
        );
        assert_eq!(person_label(None, "alice"), "@alice");
    }

    #[test]
    fn ids_serialize_as_bare_values() {
        let id = UserId(Uuid::nil());
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"00000000-0000-0000-0000-000000000000\""
        );
        let poll = QrPoll {
            state: QrState::Scanned,
            scanned_by: Some(Handle::parse("alice").unwrap()),
            scanned_by_name: None,
            tokens: None,
        };
        assert_eq!(
            serde_json::to_string(&poll).unwrap(),
            r#"{"state":"scanned","scanned_by":"alice"}"#
        );
    }

    #[test]
    fn browser_times_keep_milliseconds_only() {
        assert_eq!(
            with_milliseconds("2026-11-29T23:11:35.123456Z"),
            "2026-11-29T23:11:35.123Z"
        );
        assert_eq!(
            with_milliseconds("2026-11-29T23:11:35.1+08:00"),
            "2026-11-29T23:11:35.100+08:00"
        );
        assert_eq!(
            with_milliseconds("2026-11-29T23:11:35Z"),
            "2026-11-29T23:11:35Z"
        );
        // What the server really sends reads back as the same moment, to the millisecond.
        let at: Timestamp = "2026-11-29T23:11:35.123456Z".parse().unwrap();
        let sent = serde_json::to_string(&at).unwrap();
        let read: Timestamp = with_milliseconds(sent.trim_matches('"')).parse().unwrap();
        assert_eq!(read.timestamp_millis(), at.timestamp_millis());
    }

    #[test]
    fn an_approved_poll_carries_the_tokens_beside_the_state_and_reads_back() {
        let poll = QrPoll {
            state: QrState::Approved,
            scanned_by: None,
            scanned_by_name: None,
            tokens: Some(TokenResponse {
                access_token: "a".into(),
                refresh_token: "r".into(),
                token_type: "Bearer".into(),
                expires_in: 900,
            }),
        };
        let json = serde_json::to_string(&poll).unwrap();
        assert_eq!(
            json,
            r#"{"state":"approved","access_token":"a","refresh_token":"r","token_type":"Bearer","expires_in":900}"#
        );
        assert_eq!(serde_json::from_str::<QrPoll>(&json).unwrap(), poll);
        let waiting: QrPoll = serde_json::from_str(r#"{"state":"pending"}"#).unwrap();
        assert_eq!(waiting.tokens, None);
    }
}
