//! `/sessions`: every device signed in to the account; end one, or all others.

use leptos::prelude::*;

use super::{RequireAuth, sign_out};
use crate::proto::{SessionId, SessionInfo, SignInMethod};
use crate::ui::i18n::error_text;
use crate::ui::time::RelativeTime;
use crate::ui::{Auth, texts, use_auth};

#[component]
pub fn Sessions() -> impl IntoView {
    view! { <RequireAuth children=|_| view! { <SessionList/> }/> }
}

#[component]
fn SessionList() -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    let sessions = RwSignal::new(None::<Vec<SessionInfo>>);
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        leptos::task::spawn_local(async move {
            match crate::api::sessions::list_sessions().await {
                Ok(list) => sessions.set(Some(list.sessions)),
                Err(e) => failed(auth, error, &e),
            }
        })
    };
    reload();
    let end = move |id: SessionId| {
        leptos::task::spawn_local(async move {
            match crate::api::sessions::revoke_session(id).await {
                Ok(_) => reload(),
                Err(e) => failed(auth, error, &e),
            }
        })
    };
    let end_others = move |_| {
        leptos::task::spawn_local(async move {
            match crate::api::sessions::revoke_other_sessions().await {
                Ok(_) => reload(),
                Err(e) => failed(auth, error, &e),
            }
        })
    };
    view! {
        <section class="card">
            <h1>{t.sessions_title}</h1>
            <p class="muted">{t.sessions_intro}</p>
            {move || error.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            {move || match sessions.get() {
                None => view! { <p class="muted">{t.loading}</p> }.into_any(),
                Some(list) => {
                    let others = list.iter().filter(|s| !s.current).count();
                    view! {
                        <ul class="sessions" data-testid="sessions">
                            {list.into_iter().map(|session| view! { <SessionItem session end/> }).collect_view()}
                        </ul>
                        {if others == 0 {
                            view! { <p class="muted">{t.sessions_none_others}</p> }.into_any()
                        } else {
                            view! {
                                <button class="button danger" data-testid="end-others" on:click=end_others>
                                    {t.sessions_end_others}
                                </button>
                            }.into_any()
                        }}
                    }
                    .into_any()
                }
            }}
        </section>
    }
}

fn failed(auth: Auth, error: RwSignal<Option<String>>, e: &crate::error::AppError) {
    auth.handle_error(e);
    error.set(Some(error_text(auth.texts, e)));
}

#[component]
fn SessionItem<F>(session: SessionInfo, end: F) -> impl IntoView
where
    F: Fn(SessionId) + Copy + Send + Sync + 'static,
{
    let t = texts();
    let auth = use_auth();
    let method = match session.method {
        SignInMethod::Password => t.sessions_via_password,
        SignInMethod::Qr => t.sessions_via_qr,
        SignInMethod::Oidc => t.sessions_via_app,
        SignInMethod::Device => t.sessions_via_device,
        SignInMethod::Passkey => t.sessions_via_passkey,
    };
    let id = session.id;
    view! {
        <li class="session" class:current=session.current data-testid="session" data-method=session.method.as_str()>
            <div class="session-main">
                <strong data-testid="session-device">{match &session.app {
                    Some(app) => t.sessions_app.replace("{app}", app),
                    None => format!("{} {} {}", session.browser, t.sessions_on, session.os),
                }}</strong>
                {session.current.then(|| view! { <span class="badge" data-testid="this-device">{t.sessions_this_device}</span> })}
                <span class="badge subtle">{method}</span>
            </div>
            {session.approved_from.map(|device| view! {
                <div class="muted small" data-testid="approved-from">{t.sessions_approved_from.replace("{device}", &device)}</div>
            })}
            <div class="muted small">
                {format!("{} {} · {} ", t.sessions_ip, session.ip, t.sessions_signed_in)}
                <RelativeTime at=session.created_at/>
                {format!(" · {} ", t.sessions_last_active)}
                <RelativeTime at=session.last_seen_at/>
            </div>
            {if session.current {
                view! { <button class="button secondary" on:click=move |_| sign_out(auth)>{t.sign_out}</button> }.into_any()
            } else {
                view! { <button class="button secondary" data-testid="end-session" on:click=move |_| end(id)>{t.sessions_end}</button> }.into_any()
            }}
        </li>
    }
}
