//! QR sign-in: the desktop's code and poll, the phone's view of who is asking.

use serde::{Deserialize, Serialize};

use super::{Handle, QrId, Timestamp, TokenResponse};

/// States of a QR sign-in code; see `domain::qr` for the transitions. Also the
/// `qr_logins.state` column, decoded by sqlx.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// `/api/qr/poll`. Its schema is `QrPollFields`': the token fields are there only with `approved`.
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
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = QrPoll)]
struct QrPollFields {
    state: QrState,
    /// With `scanned`: the handle of who scanned it.
    #[serde(default)]
    scanned_by: Option<Handle>,
    /// With `scanned`: their display name, if they set one.
    #[serde(default)]
    scanned_by_name: Option<String>,
    /// With `approved`, exactly once, the desktop's own new tokens (as `/api/login` answers
    /// them): `access_token`, `refresh_token`, `token_type` and `expires_in`.
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl utoipa::PartialSchema for QrPoll {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        QrPollFields::schema()
    }
}

impl utoipa::ToSchema for QrPoll {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        QrPollFields::schemas(schemas);
    }
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
                    known_browser: None,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QrRequest {
    pub id: QrId,
    pub state: QrState,
    pub browser: String,
    pub os: String,
    pub ip: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub expires_in: i64,
    /// Whether the asking computer is on the phone's network (same IPv4 /24 or IPv6 /64). When
    /// not, the code may have been relayed to this phone by someone else (QRLJacking).
    pub same_network: bool,
}

/// `/api/qr/approve` and `/api/qr/deny`: the state the code is now in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QrAnswer {
    pub state: QrState,
}
