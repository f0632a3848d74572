//! The home page and the account page.

use leptos::prelude::*;

use super::{RequireAuth, sign_out};
use crate::proto::SignInMethod;
use crate::ui::i18n::error_text;
use crate::ui::{AuthState, local_time, texts, use_auth, use_nav};

/// `/`: the account for the signed in, sign-in for everyone else.
#[component]
pub fn Home() -> impl IntoView {
    let auth = use_auth();
    let nav = use_nav();
    let t = texts();
    Effect::new(move |_| match auth.state.get() {
        AuthState::SignedIn(_) => nav.replace("/account"),
        AuthState::SignedOut => nav.replace("/login"),
        AuthState::Unknown => {}
    });
    view! {
        <section class="card hero">
            <h1>{t.app_name}</h1>
            <p>{t.tagline}</p>
        </section>
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
        SignInMethod::Oidc => t.sessions_via_app,
        SignInMethod::Device => t.sessions_via_device,
        SignInMethod::Passkey => t.sessions_via_passkey,
            };
            view! {
                <section class="card">
                    <h1>{t.account_title}</h1>
                    <dl class="facts">
                        <dt>{t.account_signed_in_as}</dt>
                        <dd>
                            // "Name (@handle)", or just "@handle" without a display name.
                            {match me.display_name.clone() {
                                Some(name) => view! {
                                    <span data-testid="account-display-name">{name}</span>
                                    " (@"<span data-testid="account-username">{me.username.to_string()}</span>")"
                                }.into_any(),
                                None => view! {
                                    "@"<span data-testid="account-username">{me.username.to_string()}</span>
                                }.into_any(),
                            }}
                        </dd>
                        <dt>{t.account_member_since}</dt>
                        <dd>{local_time(&me.created_at)}</dd>
                        <dt>{t.account_this_session}</dt>
                        <dd data-testid="account-method">{method}</dd>
                    </dl>
                    <DisplayNameForm current=me.display_name.clone().unwrap_or_default()/>
                    <div class="actions">
                        <a href="/sessions" class="button secondary">{t.account_manage_sessions}</a>
                        <a href="/security" class="button secondary">{crate::ui::i18n::security_texts().account_security_link}</a>
                        <button class="button secondary" on:click=move |_| sign_out(auth)>{t.sign_out}</button>
                    </div>
                </section>
            }
        }/>
    }
}

/// Changes the display name; the header and this page follow at once.
#[component]
fn DisplayNameForm(current: String) -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    let input = NodeRef::<leptos::html::Input>::new();
    let status = RwSignal::new(None::<Result<(), String>>);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let name = input.get_untracked().map(|el| el.value());
        leptos::task::spawn_local(async move {
            match crate::api::account::set_display_name(name).await {
                Ok(me) => {
                    status.set(Some(Ok(())));
                    auth.state.set(AuthState::SignedIn(me));
                }
                Err(e) => {
                    auth.handle_error(&e);
                    status.set(Some(Err(error_text(t, &e))));
                }
            }
        });
    };
    view! {
        <form class="inline-form" on:submit=save>
            <label>
                {t.account_display_name}
                <input node_ref=input name="display_name" value=current maxlength="64" data-testid="display-name-input"/>
            </label>
            <button class="button secondary" type="submit" data-testid="display-name-save">{t.account_display_name_save}</button>
            {move || match status.get() {
                Some(Ok(())) => view! { <span class="success" data-testid="display-name-status">{t.account_display_name_saved}</span> }.into_any(),
                Some(Err(text)) => view! { <span class="error" role="alert" data-testid="display-name-status">{text}</span> }.into_any(),
                None => ().into_any(),
            }}
        </form>
    }
}
