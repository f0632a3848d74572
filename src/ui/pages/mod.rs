//! One module per page.

mod account;
mod credentials;
mod login;
mod qr_confirm;
mod qr_desktop;
mod register;
mod security;
mod sessions;

pub use login::Login;

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::{LazyRoute, lazy_route};

use crate::proto::Me;
use crate::ui::{Auth, AuthState, texts, use_auth};

/// The pages the sign-in page does not need are loaded when first visited, each from a WASM chunk
/// of its own (`cargo leptos build --split`): someone signing in on a phone over a slow network
/// downloads the sign-in page alone.
macro_rules! lazy_page {
    ($route:ident, $page:path) => {
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                $page().into_any()
            }
        }
    };
}

lazy_page!(HomePage, account::Home);
lazy_page!(RegisterPage, register::Register);
lazy_page!(AccountPage, account::Account);
lazy_page!(SessionsPage, sessions::Sessions);
lazy_page!(SecurityPage, security::Security);
lazy_page!(QrConfirmPage, qr_confirm::QrConfirm);

/// Renders `children` with the signed-in user; sends everyone else to sign in and come back.
#[component]
fn RequireAuth<F, V>(children: F) -> impl IntoView
where
    F: Fn(Me) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let auth = use_auth();
    let navigate = use_navigate();
    let location = use_location();
    Effect::new(move |_| {
        if auth.state.get() == AuthState::SignedOut {
            let here = location.pathname.get_untracked();
            navigate(
                &format!("/login?next={}", encode_path(&here)),
                Default::default(),
            );
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
    let next = use_query_map()
        .get_untracked()
        .get("next")
        .unwrap_or_default();
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        let (Ok(origin), Ok(here)) = (location.origin(), location.href()) else {
            return HOME.into();
        };
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
    #[cfg(not(feature = "hydrate"))]
    {
        // Never used to navigate on the server; nothing but a plain path gets through.
        let plain = next.starts_with('/')
            && next
                .chars()
                .skip(1)
                .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c))
            && !next.starts_with("//");
        if plain { next } else { HOME.into() }
    }
}

fn encode_path(path: &str) -> String {
    path.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "/-_.~".contains(c) {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32)
            }
        })
        .collect()
}

/// Ends this device's session on the server, then forgets the tokens everywhere in this browser.
pub fn sign_out(auth: Auth) {
    leptos::task::spawn_local(async move {
        // Even if the server cannot be told, the browser forgets the tokens.
        let _ = crate::api::account::logout().await;
        auth.signed_out();
    });
}
