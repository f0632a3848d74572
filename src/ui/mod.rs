//! The user interface: Leptos components rendered on the server and hydrated in the browser
//! (this module and everything under it compiles to WASM).

mod auth;
mod i18n;
mod nav;
mod notice;
mod pages;
mod qr_code;
mod time;
mod webauthn;

use leptos::prelude::*;

pub use auth::{Auth, AuthState, use_auth};
pub use i18n::{Lang, texts};
pub use nav::{Nav, Page, use_nav};
#[cfg(feature = "hydrate")]
pub use pages::preload as preload_page;

/// The browser bundle's names under `/pkg` (made by `server::assets`): `bundle` is the folder
/// holding the JS, the WASM and its chunks under their plain names, `css` the stylesheet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssetNames {
    pub bundle: String,
    pub css: String,
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions, assets: AssetNames) -> impl IntoView {
    let lang = Lang::current();
    provide_context(lang);
    #[cfg(feature = "ssr")]
    set_page_headers(&options);
    let stylesheet = format!("/{}/{}", options.site_pkg_dir, assets.css);
    // Leptos's hydration script loads `<site_pkg_dir>/<output_name>.js` and `.wasm`, and the
    // chunks of lazy pages from beside them: point it at the hashed folder.
    let mut bundle = options.clone();
    bundle.site_pkg_dir = format!("{}/{}", options.site_pkg_dir, assets.bundle).into();
    view! {
        <!DOCTYPE html>
        <html lang=lang.tag()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                // Every page has the same title: no leptos_meta, whose client code /login would load.
                <title>{texts().app_name}</title>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <AutoReload options/>
                <HydrationScripts options=bundle/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Scripts run only with this response's nonce (plus what they load), WASM may compile, nothing
/// may frame the page, and forms and connections stay on this origin. The page itself is never
/// reused without asking: its nonce is new on every response.
#[cfg(feature = "ssr")]
fn set_page_headers(options: &LeptosOptions) {
    use axum::http::{HeaderValue, header};
    leptos::nonce::provide_nonce();
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    // `cargo leptos watch` reloads the page over a websocket on another port.
    let connect = if options.env == leptos::config::Env::DEV {
        "'self' ws:"
    } else {
        "'self'"
    };
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        HeaderValue::from_str(&policy),
    ) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
        response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_context(Lang::current());
    let nav = Nav::provide();
    Auth::provide();
    view! {
        <Header/>
        <main class="page">
            <notice::SignInNotices/>
            {move || pages::page_view(nav.page.get())}
        </main>
    }
}

#[component]
fn Header() -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    let sign_out = move |_| pages::sign_out(auth);
    view! {
        <header class="topbar">
            <a href="/" class="brand">
                <span class="brand-mark" aria-hidden="true">"◉"</span>
                {t.app_name}
            </a>
            <nav>
                {move || match auth.state.get() {
                    AuthState::SignedIn(me) => view! {
                        <NavLink href="/account" text=t.nav_account/>
                        <NavLink href="/sessions" text=t.nav_sessions/>
                        <NavLink href="/security" text=i18n::security_texts().nav_security/>
                        <span class="who" data-testid="nav-username">{me.label()}</span>
                        <button class="link" on:click=sign_out data-testid="sign-out">{t.sign_out}</button>
                    }.into_any(),
                    _ => view! {
                        <NavLink href="/login" text=t.nav_sign_in/>
                        <NavLink href="/register" text=t.nav_register/>
                    }.into_any(),
                }}
            </nav>
        </header>
        <Show when=move || auth.unreachable.get()>
            <p class="banner" role="status" data-testid="unreachable">{t.err_unavailable}</p>
        </Show>
    }
}

/// A link in the top bar, marked as the current page where it is one.
#[component]
fn NavLink(href: &'static str, text: &'static str) -> impl IntoView {
    let nav = use_nav();
    let current = move || (nav.path() == href).then_some("page");
    view! { <a href=href aria-current=current>{text}</a> }
}

/// A timestamp in the reader's locale and time zone. Only rendered in the browser (after the
/// session is restored), so server and client never disagree about it.
pub fn local_time(at: &crate::proto::Timestamp) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
            at.timestamp_millis() as f64
        ));
        String::from(
            date.to_locale_string(Lang::current().tag(), &wasm_bindgen::JsValue::UNDEFINED),
        )
    }
    #[cfg(not(feature = "hydrate"))]
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
