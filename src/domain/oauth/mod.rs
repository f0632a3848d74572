//! Sesame as an OpenID Connect provider: other apps send people here to sign in (by password, QR
//! or any later method) and get back who they are.
//!
//! | module        | the rules of                                                          |
//! |---------------|-----------------------------------------------------------------------|
//! | `clients`     | registered apps, and how one proves itself at the token endpoint      |
//! | `keys`        | the ES256 signing keys and the JWKS                                   |
//! | `authorize`   | the authorization request, consent, and the single-use code           |
//! | `grants`      | the token endpoint: code + PKCE, refresh-token rotation               |
//! | `inspect`     | userinfo, introspection (RFC 7662), revocation (RFC 7009)             |
//! | `consents`    | "Connected apps": what each person allowed, and withdrawing it        |
//! | `device`      | device sign-in (RFC 8628): user codes, polling, approving             |
//! | `backchannel` | back-channel logout calls, through a PostgreSQL outbox                |
//!
//! An app's sign-in is a session row like any other (method `oidc`, with the app's `client_id`),
//! approved by the person's Sesame session and ending no later than it; the migration's trigger
//! ends it with its approver and queues the app's logout call however it ends.

pub mod authorize;
pub mod backchannel;
pub mod clients;
pub mod consents;
pub mod device;
pub mod grants;
pub mod inspect;
pub mod keys;

use serde::{Deserialize, Serialize};

use crate::domain::Sesame;
use crate::proto::{SessionId, UserId};

/// The scopes Sesame knows. `profile` is the person's handle and display name.
pub const SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// `typ` of the access tokens apps get (RFC 9068), so an ID token can never pass as one.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
pub const ID_TOKEN_TYP: &str = "JWT";
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// The claims of an app's access token (RFC 9068).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppAccessClaims {
    pub iss: String,
    pub sub: UserId,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The app session: checked on every use, so ending it ends the token at once.
    pub sid: SessionId,
    pub scope: String,
}

/// The issuer: `public_url` without a trailing slash, as discovery and every token say it.
pub fn issuer(app: &Sesame) -> String {
    app.settings.public_url().trim_end_matches('/').to_owned()
}

/// A space-separated scope as a sorted set of known scopes; `None` if one is unknown.
pub fn parse_scope(scope: &str) -> Option<Vec<String>> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in scope.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&scope) {
            return None;
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    scopes.sort();
    Some(scopes)
}

pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}
