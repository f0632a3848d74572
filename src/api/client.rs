//! The browser side of the API: where the tokens live (`localStorage`), and the server-function
//! client that sends `Authorization: Bearer` on every call, renewing the access token first when
//! it is about to expire. On the server this client is never used to send anything.

use std::future::Future;

use bytes::Bytes;
use futures::{Sink, Stream};
use leptos::server_fn::client::{Client, browser::BrowserClient};
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::request::browser::BrowserRequest;
use leptos::server_fn::response::browser::BrowserResponse;

pub struct AuthClient;

impl<E, IS, OS> Client<E, IS, OS> for AuthClient
where
    E: FromServerFnError + Send,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        #[cfg(feature = "hydrate")]
        {
            send_wrapper::SendWrapper::new(async move {
                if !tokens::is_token_endpoint(&req.url())
                    && let Some(access_token) = tokens::fresh_access_token().await
                {
                    req.headers()
                        .set("Authorization", &format!("Bearer {access_token}"));
                }
                <BrowserClient as Client<E, IS, OS>>::send(req).await
            })
        }
        #[cfg(not(feature = "hydrate"))]
        <BrowserClient as Client<E, IS, OS>>::send(req)
    }

    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                impl Sink<Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}

/// Token storage and silent renewal, in the browser.
#[cfg(feature = "hydrate")]
pub mod tokens {
    use futures::future::LocalBoxFuture;
    use gloo_storage::{LocalStorage, Storage};
    use serde::{Deserialize, Serialize};

    use crate::error::ErrorCode;
    use crate::proto::TokenResponse;

    /// The `localStorage` key. Other tabs watch it: removing it signs them all out.
    pub const STORAGE_KEY: &str = "sesame.tokens";
    /// Renew when less than this much of the access token's life is left (or a fifth of a
    /// shorter lifetime).
    const RENEW_MARGIN_MS: f64 = 60_000.0;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct StoredTokens {
        pub access_token: String,
        pub refresh_token: String,
        /// When the access token expires, by this browser's clock (`Date.now()` + `expires_in`),
        /// so a wrong clock on this computer does not matter.
        pub expires_at_ms: f64,
        pub lifetime_ms: f64,
    }

    pub fn load() -> Option<StoredTokens> {
        LocalStorage::get(STORAGE_KEY).ok()
    }

    pub fn save(tokens: &TokenResponse) {
        let stored = StoredTokens {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            expires_at_ms: js_sys::Date::now() + tokens.expires_in as f64 * 1000.0,
            lifetime_ms: tokens.expires_in as f64 * 1000.0,
        };
        if let Err(error) = LocalStorage::set(STORAGE_KEY, stored) {
            leptos::logging::warn!("cannot store the session: {error}");
        }
    }

    pub fn clear() {
        LocalStorage::delete(STORAGE_KEY);
    }

    /// This browser's known-browser tokens, by account handle. They outlive signing out: they
    /// are what makes this browser known the next time (`domain::known_browsers`).
    const KNOWN_BROWSER_KEY: &str = "sesame.known_browser";
    /// Accounts remembered per browser; more is not a person's browser.
    const KNOWN_ACCOUNTS: usize = 8;

    pub fn known_browser(handle: &str) -> Option<String> {
        let known: std::collections::BTreeMap<String, String> =
            LocalStorage::get(KNOWN_BROWSER_KEY).ok()?;
        known.get(handle).cloned()
    }

    pub fn remember_known_browser(handle: &str, token: &str) {
        let mut known: std::collections::BTreeMap<String, String> =
            LocalStorage::get(KNOWN_BROWSER_KEY).unwrap_or_default();
        known.insert(handle.to_owned(), token.to_owned());
        // Over the limit, forget other accounts (in name order), never the one just signed in.
        while known.len() > KNOWN_ACCOUNTS {
            let Some(other) = known.keys().find(|h| *h != handle).cloned() else {
                break;
            };
            known.remove(&other);
        }
        let _ = LocalStorage::set(KNOWN_BROWSER_KEY, known);
    }

    /// Calls that must not carry (or wait for) an access token.
    pub fn is_token_endpoint(url: &str) -> bool {
        [
            "/api/login",
            "/api/register",
            "/api/refresh",
            "/api/passkeys/login/start",
            "/api/passkeys/login/finish",
        ]
        .iter()
        .any(|path| url.ends_with(path))
    }

    fn needs_renewal(stored: &StoredTokens) -> bool {
        stored.expires_at_ms - js_sys::Date::now() <= RENEW_MARGIN_MS.min(stored.lifetime_ms / 5.0)
    }

    /// The stored access token, renewed first if it expires within a minute. `None` when signed out.
    /// Boxed because renewing calls a server function, which comes back through this client.
    pub fn fresh_access_token() -> LocalBoxFuture<'static, Option<String>> {
        Box::pin(async move {
            let stored = load()?;
            if !needs_renewal(&stored) {
                return Some(stored.access_token);
            }
            with_renewal_lock(async move {
                // Another tab, or another call of this one, may have renewed while we waited.
                let stored = load()?;
                if !needs_renewal(&stored) {
                    return Some(stored.access_token);
                }
                renew(stored).await
            })
            .await
        })
    }

    /// Runs `work` holding the browser-wide lock `sesame.renew` (Web Locks API), so of all tabs
    /// of this site exactly one renews at a time and the others then read what it stored: a
    /// refresh token is never presented twice, which the server would take for theft. The lock
    /// is released when `work` ends, even if the page that asked has gone.
    async fn with_renewal_lock(
        work: impl std::future::Future<Output = Option<String>> + 'static,
    ) -> Option<String> {
        use js_sys::{Function, Promise, Reflect};
        use wasm_bindgen::JsCast;
        use wasm_bindgen::prelude::*;

        let locks = Reflect::get(&leptos::prelude::window().navigator(), &"locks".into())
            .ok()
            .filter(|locks| !locks.is_undefined());
        let Some(locks) = locks else {
            // A browser without Web Locks (rare today): tabs may race, the server's grace helps.
            return work.await;
        };
        let request: Function = Reflect::get(&locks, &"request".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let callback: Closure<dyn FnMut(JsValue) -> Promise> = Closure::once(move |_lock| {
            wasm_bindgen_futures::future_to_promise(async move {
                Ok(work.await.map_or(JsValue::NULL, JsValue::from))
            })
        });
        let held: Promise = request
            .call2(&locks, &"sesame.renew".into(), callback.as_ref())
            .ok()?
            .dyn_into()
            .ok()?;
        let result = wasm_bindgen_futures::JsFuture::from(held).await.ok()?;
        drop(callback);
        result.as_string()
    }

    async fn renew(stored: StoredTokens) -> Option<String> {
        match crate::api::account::refresh(stored.refresh_token.clone()).await {
            Ok(tokens) => {
                save(&tokens);
                Some(tokens.access_token)
            }
            // Our token was spent a moment ago and its answer never reached us (or, in a browser
            // without Web Locks, by another tab that is about to store the new tokens).
            Err(error) if error.code == ErrorCode::RefreshRace => {
                for _ in 0..10 {
                    sleep_ms(200).await;
                    match load() {
                        Some(now) if now.refresh_token != stored.refresh_token => {
                            return Some(now.access_token);
                        }
                        None => return None,
                        _ => {}
                    }
                }
                // No tab stored new tokens: whoever spent ours holds the session now, a lost
                // answer or a thief who renewed first. Present it once more, past the grace:
                // the server takes that for reuse and ends the session, so a thief is caught
                // rather than silently kept. Either way this browser is signed out.
                sleep_ms(500).await;
                let _ = crate::api::account::refresh(stored.refresh_token).await;
                clear();
                None
            }
            Err(error) if error.code.is_transient() => {
                // Keep the session; the call goes out with the old token and fails visibly.
                Some(stored.access_token)
            }
            Err(_) => {
                clear();
                None
            }
        }
    }

    pub async fn sleep_ms(ms: u32) {
        gloo_timers::future::TimeoutFuture::new(ms).await;
    }
}
