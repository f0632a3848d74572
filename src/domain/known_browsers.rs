//! Known browsers (OWASP's "device cookies"): after a password sign-in or registration the
//! browser gets a token bound to that account, and presents it when it signs in to the account
//! again. It proves nothing about the password; it says "this browser signed in here before".
//! That earns a place in the hashing queue kept for known browsers, and a budget of its own
//! instead of the account's: guesses flooding in from elsewhere then neither stall nor slow the
//! people who really use the account, while the guessers meet every limit. A stolen token buys
//! little: the browser's own budget is small, and the failure limit per account and network
//! still applies.
//!
//! Stateless: an HMAC over the handle, the issue time and a nonce, with a key derived from the
//! token signing secret. Nothing to store or sweep; a new secret forgets every browser.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::proto::Handle;

/// A browser is known for this long after its last password sign-in.
const LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
const NONCE: usize = 16;
const TAG: usize = 32;

pub struct KnownBrowsers {
    key: [u8; 32],
}

impl KnownBrowsers {
    pub fn new(signing_secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"sesame known-browser key\0");
        hasher.update(signing_secret);
        Self {
            key: hasher.finalize().into(),
        }
    }

    /// A new token for this browser and account.
    pub fn issue(&self, handle: &Handle) -> String {
        let issued = now_secs().to_be_bytes();
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).expect("the system's random source");
        let tag = self.tag(handle, &issued, &nonce);
        URL_SAFE_NO_PAD.encode([&issued[..], &nonce, &tag].concat())
    }

    /// When `token` was issued by this server for `handle` within its lifetime: the browser's id
    /// (its issue time and nonce, as in the token), to count its own sign-ins by.
    pub fn recognize(&self, handle: &Handle, token: Option<&str>) -> Option<String> {
        let token = token?;
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != 8 + NONCE + TAG {
            return None;
        }
        let (issued, rest) = bytes.split_at(8);
        let (nonce, tag) = rest.split_at(NONCE);
        let issued_secs = u64::from_be_bytes(issued.try_into().expect("8 bytes"));
        let fresh = now_secs().saturating_sub(issued_secs) <= LIFETIME.as_secs();
        let genuine = self.mac(handle, issued, nonce).verify_slice(tag).is_ok();
        // 24 bytes are exactly 32 base64 characters: the token's first 32 are time and nonce.
        (fresh && genuine).then(|| token[..32].to_owned())
    }

    fn tag(&self, handle: &Handle, issued: &[u8], nonce: &[u8]) -> [u8; TAG] {
        self.mac(handle, issued, nonce)
            .finalize()
            .into_bytes()
            .into()
    }

    fn mac(&self, handle: &Handle, issued: &[u8], nonce: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        // The handle's length first, so no two (handle, rest) pairs make the same input.
        mac.update(&(handle.as_str().len() as u64).to_be_bytes());
        mac.update(handle.as_str().as_bytes());
        mac.update(issued);
        mac.update(nonce);
        mac
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_known_for_its_account_only_and_not_when_altered() {
        let browsers = KnownBrowsers::new(b"secret");
        let (alice, bob) = (
            Handle::parse("alice").unwrap(),
            Handle::parse("bob").unwrap(),
        );
        let token = browsers.issue(&alice);
        let id = browsers.recognize(&alice, Some(&token)).expect("known");
        assert!(token.starts_with(&id) && id.len() == 32);
        assert_ne!(
            browsers.recognize(&alice, Some(&browsers.issue(&alice))),
            Some(id)
        );
        assert!(browsers.recognize(&bob, Some(&token)).is_none());
        assert!(browsers.recognize(&alice, None).is_none());
        assert!(browsers.recognize(&alice, Some("")).is_none());
        let other_server = KnownBrowsers::new(b"other secret");
        assert!(other_server.recognize(&alice, Some(&token)).is_none());
        let mut altered = token.into_bytes();
        altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(browsers.recognize(&alice, Some(&altered)).is_none());
    }

    #[test]
    fn an_old_token_is_forgotten() {
        let browsers = KnownBrowsers::new(b"secret");
        let alice = Handle::parse("alice").unwrap();
        let issued = (now_secs() - LIFETIME.as_secs() - 60).to_be_bytes();
        let nonce = [7u8; NONCE];
        let tag = browsers.tag(&alice, &issued, &nonce);
        let old = URL_SAFE_NO_PAD.encode([&issued[..], &nonce, &tag].concat());
        assert!(browsers.recognize(&alice, Some(&old)).is_none());
    }
}
