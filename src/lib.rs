//! Sesame: sign in with a password, or by scanning a QR code with a phone that is signed in.
//!
//! | module     | what lives there                                             | compiles to      |
//! |------------|--------------------------------------------------------------|------------------|
//! | `ui`       | pages and components (Leptos)                                | server + WASM    |
//! | `proto`    | the types on the wire: ids, handles, request and answer bodies | server + WASM  |
//! | `api`      | the HTTP API: server functions, the browser's token client   | server + WASM    |
//! | `error`    | the one error type, with its wire format and HTTP statuses   | server + WASM    |
//! | `domain`   | rules: passwords, tokens, sessions, QR state machine, limits | server           |
//! | `db`       | SQL, one module per table, and the LISTEN loop               | server           |
//! | `hub`      | wake-up hubs: long polls woken by PostgreSQL NOTIFY          | server           |
//! | `server`   | axum router, middleware, start-up                            | server           |
//! | `settings` | `Leptos.toml` + `SESAME_*` environment                       | server           |
//! | `cli`      | the `sesame` command: serve, `client …`, `keys rotate`       | server           |
//! | `metrics`  | metric names, and counting sign-ins and QR outcomes          | server           |

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
compile_error!(
    "build Sesame with a feature: `ssr` for the server (cargo build --features ssr), `hydrate` for the browser bundle; `cargo leptos build` picks both"
);

pub mod api;
pub mod error;
pub mod proto;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod domain;
#[cfg(feature = "ssr")]
pub mod hub;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod settings;

/// The browser entry point: hydrates the server-rendered page. A page that is a WASM chunk of its
/// own is loaded first, so that the whole page hydrates in one synchronous pass.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    use leptos::prelude::document;
    console_error_panic_hook::set_once();
    let _ = any_spawner::Executor::init_wasm_bindgen(); // Err: already initialized, which is fine
    leptos::task::spawn_local(async {
        let path = leptos::prelude::window()
            .location()
            .pathname()
            .unwrap_or_default();
        ui::preload_page(&ui::Page::from_path(&path)).await;
        let Some(body) = document().body() else {
            return;
        };
        leptos::mount::hydrate_from(body, ui::App).forget();
        // Lets tests (and curious humans) see that the page is interactive now.
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("data-hydrated", "");
        }
    });
}
