//! `/login`: the password form, and "Sign in with your phone" (the QR panel). On a wide screen
//! the QR code is shown at once beside the form, as Taobao and Alipay web do; on a phone the form
//! comes first and the code is one tap away (a phone cannot scan its own screen).

use leptos::prelude::*;

use super::credentials::{CredentialsForm, Purpose, leave_when_signed_in};
use super::qr_desktop::QrPanel;
use crate::ui::texts;

/// Screens at least this wide (CSS pixels) get the form and the code side by side.
#[cfg(feature = "hydrate")]
const WIDE_PX: f64 = 768.0;

#[component]
pub fn Login() -> impl IntoView {
    let t = texts();
    leave_when_signed_in();
    let show_qr = RwSignal::new(false);
    // Known only in the browser: both renders start narrow, so hydration matches.
    let wide = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let width = window().inner_width().ok().and_then(|w| w.as_f64());
        wide.set(width.is_some_and(|w| w >= WIDE_PX));
    });
    move || {
        if wide.get() {
            view! {
                <div class="signin side-by-side">
                    <CredentialsForm purpose=Purpose::SignIn/>
                    <QrPanel/>
                </div>
            }
            .into_any()
        } else {
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
            .into_any()
        }
    }
}
