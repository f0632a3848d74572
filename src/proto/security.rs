//! The security center: live "new sign-in" notices and the activity history.

use serde::{Deserialize, Serialize};

use super::{SessionId, SignInMethod, Timestamp};

/// What a notice is about; clients should ignore kinds they do not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
pub enum NoticeKind {
    /// Someone just signed in: `session_id` names the new session.
    NewSignIn,
    /// Passwords were refused for the account: `failed_attempts` in the last hour, from the
    /// browser, system and address of the latest. No `session_id`.
    FailedSignIns,
    /// A kind this build does not know (from a newer server).
    #[serde(other)]
    Unknown,
}

/// "Someone just signed in to your account" (or tried to): shown live on the user's other
/// devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    pub id: i64,
    pub kind: NoticeKind,
    /// The new session; `/api/sessions/revoke` ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// With `failed_sign_ins`: how many in the last hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_attempts: Option<u32>,
    pub method: SignInMethod,
    pub browser: String,
    pub os: String,
    pub ip: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// For an app's sign-in through Sesame: the app's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// `/api/notices/poll`: notices newer than the cursor sent, and the cursor to send next time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticePoll {
    pub notices: Vec<Notice>,
    pub cursor: i64,
}

/// The kinds of event on the security activity page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// An app signed in through Sesame (`app` names it).
    AppAuthorized,
    /// The person disconnected an app (`app` names it).
    AppDisconnected,
    /// A passkey was added (`passkey` names it).
    PasskeyAdded,
    /// A passkey was removed (`passkey` names it).
    PasskeyRemoved,
}

/// One line of the account's security history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityEvent {
    pub id: i64,
    pub kind: ActivityKind,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Where the request came from.
    pub ip: String,
    pub browser: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// With `sign_in`, and with `sign_in_failed` when a passkey was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<SignInMethod>,
    /// With `app_authorized` and `app_disconnected`: the app's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// With `passkey_added` and `passkey_removed`: the passkey's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<String>,
}

/// `/api/activity`: one page, newest first; `next` is the `before` of the following page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityPage {
    pub events: Vec<ActivityEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}
