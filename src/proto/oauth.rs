//! Signing in to other apps through Sesame: the consent page's calls and "Connected apps".

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// What the `/oauth/authorize` page does next, as `/api/oauth/authorize` and
/// `/api/oauth/decide` answer it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum AuthorizeStep {
    /// Nothing may be sent back to the app (it is unknown, or the `redirect_uri` is not one it
    /// registered): show this, never redirect.
    Error { message: String },
    /// Go back to the app: with a code, or with an error the app handles.
    Redirect { url: String },
    /// Sign in first (no session, or `prompt=login` / `max_age` ask for a fresher one).
    SignIn,
    /// Ask the person: Allow or Deny.
    Consent {
        client_id: String,
        app: String,
        scopes: Vec<String>,
    },
}

/// `/api/device/lookup`: the device waiting for a code, shown before the person approves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceRequest {
    /// `XXXX-XXXX`: the person checks it against the device's screen.
    pub user_code: String,
    /// The app's name.
    pub app: String,
    pub browser: String,
    pub os: String,
    pub ip: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub expires_in: i64,
    /// Whether the device asked from the approving device's network.
    pub same_network: bool,
}

/// `/api/device/approve` and `/api/device/deny`: `"approved"` or `"denied"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceAnswer {
    pub state: String,
}

/// An app the person allowed, on `/security` ("Connected apps").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectedApp {
    pub client_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub granted_at: Timestamp,
}

/// `/api/apps`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectedApps {
    pub apps: Vec<ConnectedApp>,
}

/// `/api/apps/withdraw`: the consent is gone, and `revoked` app sessions with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Withdrawn {
    pub withdrawn: bool,
    pub revoked: u64,
}
