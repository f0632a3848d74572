//! `/login`: the password form, and "Sign in with your phone" (the QR panel).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::qr_desktop::QrPanel;
use super::{input_value, next_path};
use crate::ui::i18n::error_text;
use crate::ui::{AuthState, texts, use_auth};

#[component]
pub fn Login() -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    let navigate = use_navigate();
    // Signed in (by either method, or already): continue where the user was going.
    Effect::new(move |_| {
        if let AuthState::SignedIn(_) = auth.state.get() {
            navigate(&next_path(), Default::default());
        }
    });
    let show_qr = RwSignal::new(false);
    view! {
        <div class="signin">
            <Show
                when=move || show_qr.get()
                fallback=move || view! {
                    <PasswordForm/>
                    <button class="button secondary wide" data-testid="show-qr" on:click=move |_| show_qr.set(true)>
                        <span aria-hidden="true">"▣ "</span>{t.qr_show}
                    </button>
                }
            >
                <QrPanel/>
                <button class="button secondary wide" on:click=move |_| show_qr.set(false)>{t.qr_hide}</button>
            </Show>
        </div>
    }
}

#[component]
fn PasswordForm() -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    let username = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (name, secret) = (input_value(username), input_value(password));
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match crate::api::account::login(name, secret).await {
                Ok(tokens) => auth.signed_in(&tokens),
                Err(e) => error.set(Some(error_text(t, &e))),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="card" on:submit=submit>
            <h1>{t.sign_in_title}</h1>
            <label>
                {t.username}
                <input node_ref=username name="username" autocomplete="username" required autocapitalize="none"/>
            </label>
            <label>
                {t.password}
                <input node_ref=password name="password" type="password" autocomplete="current-password" required/>
            </label>
            <p class="error" role="alert" data-testid="form-error">{move || error.get()}</p>
            <button class="button primary wide" type="submit" disabled=move || busy.get()>
                {move || if busy.get() { t.signing_in } else { t.sign_in_button }}
            </button>
            <p class="muted"><A href="/register">{t.no_account}</A></p>
        </form>
    }
}
