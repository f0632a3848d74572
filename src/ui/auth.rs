//! Who is signed in, in this tab. The server render never knows (the tokens are in
//! `localStorage`), so both renders start `Unknown`, and the browser restores the session after
//! hydration. Other tabs signing out are followed through the `storage` event.

use leptos::prelude::*;

use crate::error::AppError;
use crate::proto::{Me, TokenResponse};

#[derive(Clone, Debug, PartialEq)]
pub enum AuthState {
    /// Server render and the first moment after hydration.
    Unknown,
    SignedOut,
    SignedIn(Me),
}

#[derive(Clone, Copy)]
pub struct Auth {
    pub state: RwSignal<AuthState>,
    /// This page's strings, for tasks that run outside any component.
    pub texts: &'static crate::ui::i18n::Texts,
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

impl Auth {
    pub fn provide() -> Self {
        let auth = Auth {
            state: RwSignal::new(AuthState::Unknown),
            texts: crate::ui::texts(),
        };
        provide_context(auth);
        #[cfg(feature = "hydrate")]
        {
            Effect::new(move |_| auth.restore());
            // Another tab signed out (tokens removed) or signed in (tokens appeared): follow it.
            let listener = window_event_listener(leptos::ev::storage, move |event| {
                if event.key().as_deref() != Some(crate::api::client::tokens::STORAGE_KEY) {
                    return;
                }
                match event.new_value() {
                    None => auth.state.set(AuthState::SignedOut),
                    Some(_) if auth.state.get_untracked() == AuthState::SignedOut => auth.restore(),
                    Some(_) => {}
                }
            });
            on_cleanup(move || listener.remove());
        }
        auth
    }

    /// Reads the stored tokens and asks the server who they belong to.
    pub fn restore(self) {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            if crate::api::client::tokens::load().is_none() {
                self.state.set(AuthState::SignedOut);
                return;
            }
            match crate::api::account::current_account().await {
                Ok(me) => self.state.set(AuthState::SignedIn(me)),
                Err(error) => self.handle_error(&error),
            }
        });
    }

    /// Stores fresh tokens (password or QR sign-in) and loads the account. Browser only: the
    /// server render never signs anyone in.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    pub fn signed_in(self, tokens: &TokenResponse) {
        #[cfg(feature = "hydrate")]
        crate::api::client::tokens::save(tokens);
        self.restore();
    }

    /// Signs this tab (and, through `localStorage`, every other tab) out.
    pub fn signed_out(self) {
        #[cfg(feature = "hydrate")]
        crate::api::client::tokens::clear();
        self.state.set(AuthState::SignedOut);
    }

    /// Call with every API error: those that mean the session is over sign the browser out.
    pub fn handle_error(self, error: &AppError) {
        if error.code.ends_session() {
            self.signed_out();
        } else if matches!(self.state.get_untracked(), AuthState::Unknown) {
            // Could not check (server down): treat as signed out for now, keeping the tokens.
            self.state.set(AuthState::SignedOut);
        }
    }
}
