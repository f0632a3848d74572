//! "Sign in with a passkey" on `/login`: a button that opens the browser's dialog, and passkeys
//! offered in the username field's autofill (conditional mediation) where the browser can. Both
//! appear only after hydration, and only where passkeys can work (`webauthn::supported`).

use leptos::prelude::*;

use crate::ui::Auth;

#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct PasskeySignIn {
    pub supported: RwSignal<bool>,
    pub busy: RwSignal<bool>,
    /// The sign-in form's message line.
    error: RwSignal<Option<String>>,
    auth: Auth,
    /// The request waiting in the autofill, to abort when the button is used: the browser
    /// holds one passkey request at a time.
    #[cfg(feature = "hydrate")]
    autofill: StoredValue<Option<web_sys::AbortController>, LocalStorage>,
}

impl PasskeySignIn {
    pub fn new(auth: Auth, error: RwSignal<Option<String>>) -> Self {
        let this = Self {
            supported: RwSignal::new(false),
            busy: RwSignal::new(false),
            error,
            auth,
            #[cfg(feature = "hydrate")]
            autofill: StoredValue::new_local(None),
        };
        Effect::new(move |_| this.supported.set(crate::ui::webauthn::supported()));
        // Leaving the page ends its autofill request, so the next page's passkey dialog (adding
        // one on /security) does not find the browser busy.
        #[cfg(feature = "hydrate")]
        on_cleanup(move || {
            if let Some(waiting) = this.autofill.try_update_value(Option::take).flatten() {
                waiting.abort();
            }
        });
        this
    }

    /// When the username field gets focus: let the browser suggest passkeys there. Started on
    /// focus, not on page load, because each start is counted like a sign-in attempt.
    pub fn offer_in_autofill(self) {
        #[cfg(feature = "hydrate")]
        {
            if !self.supported.get_untracked() || self.autofill.with_value(Option::is_some) {
                return;
            }
            let Ok(controller) = web_sys::AbortController::new() else {
                return;
            };
            let signal = controller.signal();
            self.autofill.set_value(Some(controller));
            leptos::task::spawn_local(async move {
                if crate::ui::webauthn::autofill_supported().await {
                    self.run(Some(signal)).await;
                }
            });
        }
    }

    /// The button: the browser's own dialog, which also offers a phone nearby by QR code.
    pub fn sign_in(self) {
        #[cfg(feature = "hydrate")]
        {
            if let Some(waiting) = self.autofill.try_update_value(Option::take).flatten() {
                waiting.abort();
            }
            leptos::task::spawn_local(self.run(None));
        }
    }

    #[cfg(feature = "hydrate")]
    async fn run(self, autofill: Option<web_sys::AbortSignal>) {
        use crate::ui::i18n::{error_text, passkey_failure_text};
        use crate::ui::webauthn::{Failure, get};

        let t = self.auth.texts;
        let from_button = autofill.is_none();
        if from_button {
            self.busy.set(true);
            self.error.set(None);
        }
        let ceremony = match crate::api::passkeys::login_start().await {
            Ok(ceremony) => ceremony,
            Err(e) => {
                self.error.set(Some(error_text(t, &e)));
                self.busy.set(false);
                return;
            }
        };
        let credential = get(&ceremony.public_key, autofill.as_ref()).await;
        if !from_button {
            // The autofill's request is over, whatever came of it: the next focus may offer again.
            self.autofill.set_value(None);
        }
        match credential {
            Ok(credential) => {
                self.busy.set(true);
                self.error.set(None);
                match crate::api::passkeys::login_finish(ceremony.ceremony, credential).await {
                    Ok(tokens) => self.auth.signed_in(&tokens),
                    Err(e) => self.error.set(Some(error_text(t, &e))),
                }
            }
            // An autofill request aborted for the button (whose dialog is open now), or never
            // used: nothing to say, and nothing to reset.
            Err(Failure::Cancelled) if !from_button => return,
            Err(failure) => self.error.set(Some(passkey_failure_text(t, &failure))),
        }
        self.busy.set(false);
    }
}
