//! The types that cross the wire, shared by the server and the browser: identifiers, handles,
//! request and answer bodies, the account rules, one module per subject. It imports nothing else
//! of Sesame, so `api`, `domain`, `db`, `error` and `ui` all point here and never at each other
//! for a type.

mod account;
mod oauth;
mod passkeys;
mod qr;
mod security;
mod sessions;

pub use account::*;
pub use oauth::*;
pub use passkeys::*;
pub use qr::*;
pub use security::*;
pub use sessions::*;

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A moment in time; on the wire, RFC 3339 text in UTC (`2026-11-29T23:11:35.123456Z`).
#[cfg(feature = "ssr")]
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// In the browser a moment is kept as the server's text and read by JavaScript's `Date` when
/// shown: the WASM then carries no date library of its own (chrono's parsing was 21 KB of it,
/// before optimisation). It answers the two questions the pages ask, as chrono's type does.
#[cfg(not(feature = "ssr"))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
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
uuid_id!(
    /// A passkey of an account (Sesame's id, not the authenticator's credential id).
    PasskeyId
);

/// The public id of a QR sign-in code (it is in the QR image, so anyone who sees it knows it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(transparent))]
pub struct QrId(pub String);

impl fmt::Display for QrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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
                known_browser: None,
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
