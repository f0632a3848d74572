//! One module per page.

mod account;
mod authorize;
mod confirm_identity;
mod credentials;
mod device;
mod login;
mod passkey_sign_in;
mod passkeys;
mod qr_confirm;
mod qr_desktop;
mod register;
mod security;
mod sessions;

pub use login::Login;

use leptos::prelude::*;

use crate::proto::Me;
use crate::ui::{Auth, AuthState, Page, texts, use_auth, use_nav};

/// The page for `page`. Pages the sign-in page does not need are WASM chunks of their own
/// (`#[lazy]`, built with `cargo leptos build --split`), loaded when first opened: someone signing
/// in on a phone over a slow network downloads the sign-in page alone.
pub fn page_view(page: Page) -> AnyView {
    match page {
        Page::Login => Login().into_any(),
        Page::Home => Suspend::new(home_page()).into_any(),
        Page::Register => Suspend::new(register_page()).into_any(),
        Page::Account => Suspend::new(account_page()).into_any(),
        Page::Sessions => Suspend::new(sessions_page()).into_any(),
        Page::Security => Suspend::new(security_page()).into_any(),
        Page::QrConfirm(_) => Suspend::new(qr_confirm_page()).into_any(),
        Page::Authorize => Suspend::new(authorize_page()).into_any(),
        Page::Device => Suspend::new(device_page()).into_any(),
        Page::NotFound => {
            #[cfg(feature = "ssr")]
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(axum::http::StatusCode::NOT_FOUND);
            }
            view! { <p class="card">{texts().not_found}</p> }.into_any()
        }
    }
}

/// Loads the chunk of `page` (if it has one). The entry point awaits this before hydrating, so
/// that the page's view is ready at once and hydrates from the server's HTML in one pass.
#[cfg(feature = "hydrate")]
pub async fn preload(page: &Page) {
    match page {
        Page::Login | Page::NotFound => {}
        Page::Home => __preload_home_page().await,
        Page::Register => __preload_register_page().await,
        Page::Account => __preload_account_page().await,
        Page::Sessions => __preload_sessions_page().await,
        Page::Security => __preload_security_page().await,
        Page::QrConfirm(_) => __preload_qr_confirm_page().await,
        Page::Authorize => __preload_authorize_page().await,
        Page::Device => __preload_device_page().await,
    }
}

/// A page's own chunk: `$name` builds `$page` once the chunk is loaded, `__preload_$name` only
/// loads it.
macro_rules! lazy_page {
    ($name:ident, $page:path) => {
        #[lazy]
        fn $name() -> AnyView {
            $page().into_any()
        }
    };
}

lazy_page!(home_page, account::Home);
lazy_page!(register_page, register::Register);
lazy_page!(account_page, account::Account);
lazy_page!(sessions_page, sessions::Sessions);
lazy_page!(security_page, security::Security);
lazy_page!(qr_confirm_page, qr_confirm::QrConfirm);
lazy_page!(authorize_page, authorize::Authorize);
lazy_page!(device_page, device::DeviceApprove);

/// Renders `children` with the signed-in user; sends everyone else to sign in and come back.
#[component]
fn RequireAuth<F, V>(children: F) -> impl IntoView
where
    F: Fn(Me) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let auth = use_auth();
    let nav = use_nav();
    Effect::new(move |_| {
        if auth.state.get() == AuthState::SignedOut {
            // With its query: `/device?code=…` must come back with its code.
            let here = nav.url_untracked();
            nav.replace(&format!("/login?next={}", encode_path(&here)));
        }
    });
    move || match auth.state.get() {
        AuthState::SignedIn(me) => children(me).into_any(),
        _ => view! { <p class="card muted">{texts().loading}</p> }.into_any(),
    }
}

/// Where to go after signing in: the `next` query parameter, resolved by the browser's own URL
/// parser against this page, and followed only if the result stays on this origin; anything
/// else (`//evil`, `/\tevil` that the parser turns into `//evil`, other schemes) goes to the
/// account page instead. Checking the string ourselves would miss what the parser forgives.
fn next_path() -> String {
    const HOME: &str = "/account";
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        let (Ok(origin), Ok(here)) = (location.origin(), location.href()) else {
            return HOME.into();
        };
        let next = query_param("next").unwrap_or_default();
        match web_sys::Url::new_with_base(&next, &here) {
            Ok(url) if !next.is_empty() && url.origin() == origin => {
                // One leading slash: a path like `//x` would be read as another host again.
                let path = url.pathname();
                format!(
                    "/{}{}{}",
                    path.trim_start_matches('/'),
                    url.search(),
                    url.hash()
                )
            }
            _ => HOME.into(),
        }
    }
    // The server never navigates.
    #[cfg(not(feature = "hydrate"))]
    HOME.into()
}

/// Percent-encodes a path for a query parameter: every byte of its UTF-8 but the unreserved
/// ones and `/`, so a non-ASCII character becomes the `%XX` of each of its bytes.
fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// A parameter of this page's query string (browser only).
fn query_param(name: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::Url::new(&window().location().href().ok()?)
            .ok()?
            .search_params()
            .get(name)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = name;
        None
    }
}

/// Ends this device's session on the server, then forgets the tokens everywhere in this browser.
pub fn sign_out(auth: Auth) {
    leptos::task::spawn_local(async move {
        // Even if the server cannot be told, the browser forgets the tokens.
        let _ = crate::api::account::logout().await;
        auth.signed_out();
    });
}

#[cfg(test)]
mod tests {
    use super::encode_path;

    #[test]
    fn paths_are_encoded_byte_by_byte() {
        assert_eq!(encode_path("/a b?x=1&y"), "/a%20b%3Fx%3D1%26y");
        assert_eq!(encode_path("/qr/é"), "/qr/%C3%A9");
    }
}
