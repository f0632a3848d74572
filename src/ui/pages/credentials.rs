//! The username-and-password form, shared by sign-in and registration.

use leptos::prelude::*;

use super::{next_path, query_param};
use crate::proto::{Handle, HandleProblem, PASSWORD_CHARS};
use crate::ui::i18n::error_text;
use crate::ui::{AuthState, texts, use_auth, use_nav};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Register,
}

/// Once signed in (by any method, or already), continue where the user was going. With
/// `again=<session id>` (an app asked for a fresh sign-in), that session does not count: the
/// page stays until the person has signed in anew.
pub fn leave_when_signed_in() {
    let auth = use_auth();
    let nav = use_nav();
    let again = query_param("again");
    Effect::new(move |_| {
        if let AuthState::SignedIn(me) = auth.state.get()
            && again.as_deref() != Some(me.session_id.to_string().as_str())
        {
            nav.replace(&next_path());
        }
    });
}

#[component]
pub fn CredentialsForm(purpose: Purpose) -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    let username = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let display_name = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let registering = purpose == Purpose::Register;
    // Before the WASM has hydrated the page, the form must send nothing: pressing Enter (or a
    // password manager submitting at once) would otherwise send a GET with the password in the
    // URL, into history and every proxy's log. Until then the button is disabled (which also
    // stops implicit submission by Enter) and says "Loading…"; and the form is `method="post"`,
    // so even a forced submit puts nothing in the URL (it reaches a page route that only
    // answers GET, 405). Effects run only in the browser, after hydration.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let passkey = super::passkey_sign_in::PasskeySignIn::new(auth, error);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let value = |input: NodeRef<leptos::html::Input>| {
            input
                .get_untracked()
                .map(|el| el.value())
                .unwrap_or_default()
        };
        let (name, secret) = (value(username), value(password));
        // Checked here first, for a message in the reader's language; the server checks again.
        // The browser keeps its known-browser token per handle (only the browser uses it).
        #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
        let handle = match Handle::parse(&name) {
            Ok(handle) => handle.as_str().to_owned(),
            Err(problem) => {
                return error.set(Some(
                    match problem {
                        HandleProblem::Length => t.err_username_length,
                        HandleProblem::Characters => t.err_username_chars,
                        HandleProblem::Start => t.err_username_start,
                    }
                    .into(),
                ));
            }
        };
        if registering && !PASSWORD_CHARS.contains(&secret.chars().count()) {
            return error.set(Some(t.err_password_length.into()));
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let shown = Some(value(display_name)).filter(|n| !n.trim().is_empty());
            #[cfg(feature = "hydrate")]
            let known_browser = crate::api::client::tokens::known_browser(&handle);
            #[cfg(not(feature = "hydrate"))]
            let known_browser = None;
            // A full hashing queue (503 busy) is said, and tried again by itself.
            let result = loop {
                let result = if registering {
                    crate::api::account::register(name.clone(), secret.clone(), shown.clone()).await
                } else {
                    crate::api::account::login(name.clone(), secret.clone(), known_browser.clone())
                        .await
                };
                match &result {
                    Err(e) if e.code == crate::error::ErrorCode::Busy => {
                        error.set(Some(error_text(t, e)));
                        let wait = e.retry_after.unwrap_or(1).clamp(1, 10) as u32;
                        #[cfg(feature = "hydrate")]
                        gloo_timers::future::TimeoutFuture::new(wait * 1000).await;
                        #[cfg(not(feature = "hydrate"))]
                        let _ = wait;
                    }
                    _ => break result,
                }
            };
            match result {
                Ok(tokens) => {
                    #[cfg(feature = "hydrate")]
                    if let Some(known) = &tokens.known_browser {
                        crate::api::client::tokens::remember_known_browser(&handle, known);
                    }
                    auth.signed_in(&tokens)
                }
                Err(e) => error.set(Some(error_text(t, &e))),
            }
            busy.set(false);
        });
    };

    let (title, button, other_page, other_link) = match purpose {
        Purpose::SignIn => (t.sign_in_title, t.sign_in_button, "/register", t.no_account),
        Purpose::Register => (
            t.register_title,
            t.register_button,
            "/login",
            t.have_account,
        ),
    };
    view! {
        <form class="card" method="post" on:submit=submit>
            <h1>{title}</h1>
            <label>
                {t.username}
                <input
                    node_ref=username
                    name="username"
                    autocomplete=if registering { "username" } else { "username webauthn" }
                    required
                    autocapitalize="none"
                    on:focus=move |_| if !registering { passkey.offer_in_autofill() }
                />
                {registering.then(|| view! { <small class="muted">{t.username_hint}</small> })}
            </label>
            {registering.then(|| view! {
                <label>
                    {t.display_name}
                    <input node_ref=display_name name="display_name" autocomplete="nickname" maxlength="64"/>
                    <small class="muted">{t.display_name_hint}</small>
                </label>
            })}
            <label>
                {t.password}
                <input
                    node_ref=password
                    name="password"
                    type="password"
                    required
                    autocomplete=if registering { "new-password" } else { "current-password" }
                />
                {registering.then(|| view! { <small class="muted">{t.password_hint}</small> })}
            </label>
            <p class="error" role="alert" data-testid="form-error">{move || error.get()}</p>
            <button class="button primary wide" type="submit" disabled=move || busy.get() || !ready.get()>
                {move || if !ready.get() { t.loading } else if busy.get() { t.signing_in } else { button }}
            </button>
            {(!registering).then(|| view! {
                <Show when=move || passkey.supported.get()>
                    <button
                        class="button secondary wide"
                        type="button"
                        data-testid="passkey-sign-in"
                        disabled=move || passkey.busy.get() || busy.get()
                        on:click=move |_| passkey.sign_in()
                    >
                        <span aria-hidden="true">"🔑 "</span>{t.passkey_sign_in}
                    </button>
                </Show>
            })}
            <p class="muted"><a href=other_page>{other_link}</a></p>
        </form>
    }
}
