//! `/login`: the password form, and "Sign in with your phone" (the QR panel).

use leptos::prelude::*;

use super::credentials::{CredentialsForm, Purpose, leave_when_signed_in};
use super::qr_desktop::QrPanel;
use crate::ui::texts;

#[component]
pub fn Login() -> impl IntoView {
    let t = texts();
    leave_when_signed_in();
    let show_qr = RwSignal::new(false);
    view! {
        <div class="signin">
            <Show
                when=move || show_qr.get()
                fallback=move || view! {
                    <CredentialsForm purpose=Purpose::SignIn/>
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
