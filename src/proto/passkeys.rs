//! Passkeys (`/api/passkeys/...`) and the fresh proofs that approvals may ask for
//! (`/api/verify/...`).

use serde::{Deserialize, Serialize};

use super::{PasskeyId, Timestamp};

/// A passkey name: 1–64 characters, like a display name. Without one, a passkey is named after
/// the browser and system it was added on.
pub const PASSKEY_NAME_CHARS: std::ops::RangeInclusive<usize> = 1..=64;

/// WebAuthn JSON passed through untouched (the options to the browser, its credential back).
/// Raw text rather than a `serde_json::Value`: the browser only hands it to `JSON.parse`, and
/// the server reads it straight into webauthn-rs' types, so the WASM carries no JSON tree code.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct WebAuthnJson(pub Box<serde_json::value::RawValue>);

impl std::ops::Deref for WebAuthnJson {
    type Target = serde_json::value::RawValue;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The start of a WebAuthn ceremony: `public_key` is what the browser's
/// `PublicKeyCredential.parseCreationOptionsFromJSON` (or `parseRequestOptionsFromJSON`) takes,
/// and `ceremony` goes back with the browser's answer to the matching `finish`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PasskeyCeremony {
    pub ceremony: String,
    pub public_key: WebAuthnJson,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    pub id: PasskeyId,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
}

/// `/api/passkeys/register/finish` and `/api/passkeys/rename`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PasskeyAnswer {
    pub passkey: PasskeyInfo,
}

/// `/api/passkeys`: the signed-in user's passkeys, oldest first, and whether approvals ask for a
/// fresh proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyInfo>,
    #[serde(default)]
    pub approvals_need_verification: bool,
}

/// `/api/verify/...`: a proof that the person at this session just used a passkey or typed the
/// password. An approval spends it; it lasts `expires_in` seconds (5 minutes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verification {
    pub verification: String,
    pub expires_in: u64,
}

/// `/api/verify/setting`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerificationSetting {
    pub approvals_need_verification: bool,
}
