//! The home page and the account page.

use leptos::prelude::*;
use leptos_router::components::{A, Redirect};

use super::{RequireAuth, sign_out};
use crate::api::SignInMethod;
use crate::ui::{AuthState, local_time, texts, use_auth};

/// `/`: the account for the signed in, sign-in for everyone else.
#[component]
pub fn Home() -> impl IntoView {
    let auth = use_auth();
    let t = texts();
    move || match auth.state.get() {
        AuthState::SignedIn(_) => view! { <Redirect path="/account"/> }.into_any(),
        AuthState::SignedOut => view! { <Redirect path="/login"/> }.into_any(),
        AuthState::Unknown => view! {
            <section class="card hero">
                <h1>{t.app_name}</h1>
                <p>{t.tagline}</p>
            </section>
        }
        .into_any(),
    }
}

#[component]
pub fn Account() -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    view! {
        <RequireAuth children=move |me| {
            let method = match me.method {
                SignInMethod::Password => t.sessions_via_password,
                SignInMethod::Qr => t.sessions_via_qr,
            };
            view! {
                <section class="card">
                    <h1>{t.account_title}</h1>
                    <dl class="facts">
                        <dt>{t.account_signed_in_as}</dt>
                        <dd data-testid="account-username">{me.username.clone()}</dd>
                        <dt>{t.account_member_since}</dt>
                        <dd>{local_time(&me.created_at)}</dd>
                        <dt>{t.account_this_session}</dt>
                        <dd data-testid="account-method">{method}</dd>
                    </dl>
                    <div class="actions">
                        <A href="/sessions" attr:class="button secondary">{t.account_manage_sessions}</A>
                        <button class="button secondary" on:click=move |_| sign_out(auth)>{t.sign_out}</button>
                    </div>
                </section>
            }
        }/>
    }
}
