//! `/register`: create an account and sign in.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::{input_value, next_path};
use crate::ui::i18n::error_text;
use crate::ui::{AuthState, texts, use_auth};

#[component]
pub fn Register() -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let AuthState::SignedIn(_) = auth.state.get() {
            navigate(&next_path(), Default::default());
        }
    });
    let username = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (name, secret) = (input_value(username), input_value(password));
        // The same rules the server applies, checked here first for a message in the reader's language.
        let name_chars = name.trim().chars().count();
        if !crate::api::USERNAME_CHARS.contains(&name_chars) {
            error.set(Some(t.err_username_length.into()));
            return;
        }
        if !crate::api::PASSWORD_CHARS.contains(&secret.chars().count()) {
            error.set(Some(t.err_password_length.into()));
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match crate::api::account::register(name, secret).await {
                Ok(tokens) => auth.signed_in(&tokens),
                Err(e) => error.set(Some(error_text(t, &e))),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="signin">
            <form class="card" on:submit=submit>
                <h1>{t.register_title}</h1>
                <label>
                    {t.username}
                    <input node_ref=username name="username" autocomplete="username" required autocapitalize="none"/>
                    <small class="muted">{t.username_hint}</small>
                </label>
                <label>
                    {t.password}
                    <input node_ref=password name="password" type="password" autocomplete="new-password" required/>
                    <small class="muted">{t.password_hint}</small>
                </label>
                <p class="error" role="alert" data-testid="form-error">{move || error.get()}</p>
                <button class="button primary wide" type="submit" disabled=move || busy.get()>{t.register_button}</button>
                <p class="muted"><A href="/login">{t.have_account}</A></p>
            </form>
        </div>
    }
}
