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
    /// The server could not be reached when the session was last checked; a retry is scheduled.
    pub unreachable: RwSignal<bool>,
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
            unreachable: RwSignal::new(false),
            texts: crate::ui::texts(),
        };
        provide_context(auth);
        #[cfg(feature = "hydrate")]
        {
            // A task: it runs once the synchronous hydration this is part of has finished, so
            // the page hydrates in the state the server rendered (`Unknown`).
            auth.restore();
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

    /// Reads the stored tokens and asks the server who they belong to. While the server cannot be
    /// reached, the tokens are kept and the question is asked again, waiting longer each time.
    pub fn restore(self) {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let mut wait_ms = 1_000;
            loop {
                if crate::api::client::tokens::load().is_none() {
                    self.unreachable.set(false);
                    self.state.set(AuthState::SignedOut);
                    return;
                }
                match crate::api::account::current_account().await {
                    Ok(me) => {
                        self.unreachable.set(false);
                        return self.state.set(AuthState::SignedIn(me));
                    }
                    Err(error) if error.code.is_transient() => {
                        self.unreachable.set(true);
                        crate::api::client::tokens::sleep_ms(wait_ms).await;
                        wait_ms = (wait_ms * 2).min(30_000);
                    }
                    Err(error) => {
                        self.unreachable.set(false);
                        return self.handle_error(&error);
                    }
                }
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
        }
    }
}
