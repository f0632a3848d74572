//! The signed-in devices of an account.

use serde::{Deserialize, Serialize};

use super::{SessionId, SignInMethod, Timestamp};

/// One signed-in device, for the sessions page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: SessionId,
    pub method: SignInMethod,
    pub browser: String,
    pub os: String,
    pub ip: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    /// The session of the token that asked.
    pub current: bool,
    /// For a QR sign-in: the device that approved it ("Safari on iOS"), while that session exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_from: Option<String>,
    /// For an app's sign-in through Sesame (method `oidc`): the app's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}

/// How many sessions a revoke or sign-out call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revoked {
    pub revoked: u64,
}
