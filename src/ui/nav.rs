//! Which page the URL names, and moving between pages without reloading.
//!
//! Sesame has nine pages and no nested routes, so it does without leptos_router: matching a path
//! is one `match`, and following a link is `history.pushState` plus a signal. The router's code
//! was a sixth of the WASM that everyone downloads before the sign-in page works (#7).

use leptos::prelude::*;

use crate::proto::QrId;

/// A page of the app, as named by a URL path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    Home,
    Login,
    Register,
    Account,
    Sessions,
    Security,
    /// `/qr/<id>`: the phone confirming a QR sign-in.
    QrConfirm(QrId),
    /// `/oauth/authorize`: another app asks to sign the person in with Sesame.
    Authorize,
    /// `/device`: approving a TV or terminal by the code it shows.
    Device,
    NotFound,
}

impl Page {
    /// The paths the server renders the app for (axum's syntax); anything else is a 404 page.
    pub const SERVER_PATHS: [&str; 9] = [
        "/",
        "/login",
        "/register",
        "/account",
        "/sessions",
        "/security",
        "/qr/{id}",
        "/oauth/authorize",
        "/device",
    ];

    /// The page at `path` (without query or fragment). Exact matches only, like the server's.
    pub fn from_path(path: &str) -> Self {
        match path {
            "/" => Self::Home,
            "/login" => Self::Login,
            "/register" => Self::Register,
            "/account" => Self::Account,
            "/sessions" => Self::Sessions,
            "/security" => Self::Security,
            "/oauth/authorize" => Self::Authorize,
            "/device" => Self::Device,
            _ => match path.strip_prefix("/qr/") {
                Some(id) if !id.is_empty() && !id.contains('/') => {
                    Self::QrConfirm(QrId(id.to_owned()))
                }
                _ => Self::NotFound,
            },
        }
    }
}

/// The current URL (path and query) of this tab, and the page it names.
#[derive(Clone, Copy)]
pub struct Nav {
    url: RwSignal<String>,
    pub page: Memo<Page>,
}

pub fn use_nav() -> Nav {
    expect_context::<Nav>()
}

impl Nav {
    /// On the server: the request's URL. In the browser: the address bar, followed as the user
    /// goes back and forward, and same-origin links are followed without a reload.
    pub fn provide() -> Self {
        let url = RwSignal::new(current_url());
        let page = Memo::new(move |_| Page::from_path(path_of(&url.read())));
        let nav = Self { url, page };
        provide_context(nav);
        #[cfg(feature = "hydrate")]
        {
            let back_forward = window_event_listener(leptos::ev::popstate, move |_| {
                url.set(current_url());
            });
            let clicks = window_event_listener(leptos::ev::click, move |event| {
                if let Some(to) = browser::link_to_follow(&event) {
                    event.prevent_default();
                    nav.go(&to);
                }
            });
            on_cleanup(move || {
                back_forward.remove();
                clicks.remove();
            });
        }
        nav
    }

    /// The path of the current URL, without its query (tracked).
    pub fn path(self) -> String {
        path_of(&self.url.read()).to_owned()
    }

    /// Path and query of the current URL, untracked: where to come back to after signing in.
    pub fn url_untracked(self) -> String {
        self.url.get_untracked()
    }

    /// Opens `to` (a path on this site) as a new history entry, at the top of the page. The page
    /// already open is not entered twice: Back then leaves it.
    pub fn go(self, to: &str) {
        let again = self.url.with_untracked(|url| url == to);
        self.visit(to, again);
        #[cfg(feature = "hydrate")]
        window().scroll_to_with_x_and_y(0.0, 0.0);
    }

    /// Opens `to` in place of the current entry: for redirects, so that Back does not return to
    /// a page that would only send the user away again.
    pub fn replace(self, to: &str) {
        self.visit(to, true);
    }

    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn visit(self, to: &str, replace: bool) {
        #[cfg(feature = "hydrate")]
        {
            let history = window().history();
            let done = history.and_then(|history| {
                let state = wasm_bindgen::JsValue::NULL;
                if replace {
                    history.replace_state_with_url(&state, "", Some(to))
                } else {
                    history.push_state_with_url(&state, "", Some(to))
                }
            });
            if done.is_err() {
                // No history API (or a URL it refuses): let the browser load the page.
                let _ = window().location().assign(to);
                return;
            }
            self.url.set(current_url());
        }
    }
}

fn path_of(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or("/")
}

fn current_url() -> String {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.uri.path_and_query().map(|p| p.as_str().to_owned()))
            .unwrap_or_else(|| "/".into())
    }
    #[cfg(not(feature = "ssr"))]
    {
        let location = window().location();
        format!(
            "{}{}",
            location.pathname().unwrap_or_else(|_| "/".into()),
            location.search().unwrap_or_default()
        )
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;

    use super::Page;

    /// The same-origin page a click on a link should open here, or `None` where the browser
    /// should do what it always does: modified or non-primary clicks (new tab, download),
    /// links with a target, other sites, files rather than pages, and places on this page.
    pub fn link_to_follow(event: &web_sys::MouseEvent) -> Option<String> {
        if event.default_prevented()
            || event.button() != 0
            || event.meta_key()
            || event.ctrl_key()
            || event.shift_key()
            || event.alt_key()
        {
            return None;
        }
        let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
        let link = target.closest("a[href]").ok()??;
        if link.has_attribute("target") || link.has_attribute("download") {
            return None;
        }
        let location = leptos::prelude::window().location();
        let url = web_sys::Url::new_with_base(&link.get_attribute("href")?, &location.href().ok()?)
            .ok()?;
        if url.origin() != location.origin().ok()?
            || Page::from_path(&url.pathname()) == Page::NotFound
        {
            return None;
        }
        // A place on this very page (`#part`): the browser scrolls there by itself.
        let same_page = url.pathname() == location.pathname().ok()?
            && url.search() == location.search().ok()?;
        if same_page && !url.hash().is_empty() {
            return None;
        }
        Some(format!("{}{}{}", url.pathname(), url.search(), url.hash()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_pages_exactly() {
        assert_eq!(Page::from_path("/"), Page::Home);
        assert_eq!(Page::from_path("/login"), Page::Login);
        assert_eq!(Page::from_path("/security"), Page::Security);
        assert_eq!(
            Page::from_path("/qr/abc-123"),
            Page::QrConfirm(QrId("abc-123".into()))
        );
        for other in [
            "/qr/",
            "/qr/a/b",
            "/login/",
            "/Login",
            "/account/x",
            "",
            "/pkg/x.js",
        ] {
            assert_eq!(Page::from_path(other), Page::NotFound, "{other}");
        }
    }

    #[test]
    fn every_server_path_names_a_page() {
        for path in Page::SERVER_PATHS {
            let example = path.replace("{id}", "some-id");
            assert_ne!(Page::from_path(&example), Page::NotFound, "{path}");
        }
    }

    #[test]
    fn the_path_leaves_out_query_and_fragment() {
        assert_eq!(path_of("/login?next=%2Faccount"), "/login");
        assert_eq!(path_of("/account#top"), "/account");
        assert_eq!(path_of("/"), "/");
    }
}
