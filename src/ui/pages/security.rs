//! `/security`: the account's security activity (paged), passkeys, connected apps, changing the
//! password, and deleting the account.

use leptos::prelude::*;

use super::RequireAuth;
use crate::error::{AppError, ErrorCode};
use crate::proto::{ActivityEvent, ActivityKind, Me, PASSWORD_CHARS, SignInMethod};
use crate::ui::i18n::{SecurityTexts, error_text, security_texts};
use crate::ui::time::RelativeTime;
use crate::ui::{texts, use_auth, use_nav};

#[component]
pub fn Security() -> impl IntoView {
    let st = security_texts();
    view! {
        <RequireAuth children=move |me| view! {
            <h1 class="page-title">{st.security_title}</h1>
            <Activity/>
            <super::passkeys::Passkeys/>
            <ConnectedApps/>
            <ChangePassword/>
            <DeleteAccount me/>
        }/>
    }
}

/// Wrong passwords get their own sentence here ("Wrong password."), not the sign-in form's.
fn problem(st: &SecurityTexts, error: &AppError) -> String {
    match error.code {
        ErrorCode::InvalidCredentials => st.err_wrong_password.into(),
        _ => error_text(texts(), error),
    }
}

fn kind_name(kind: ActivityKind) -> &'static str {
    match kind {
        ActivityKind::SignIn => "sign_in",
        ActivityKind::SignInFailed => "sign_in_failed",
        ActivityKind::QrApproved => "qr_approved",
        ActivityKind::QrDenied => "qr_denied",
        ActivityKind::SessionEnded => "session_ended",
        ActivityKind::PasswordChanged => "password_changed",
        ActivityKind::RefreshReuse => "refresh_reuse",
        ActivityKind::AppAuthorized => "app_authorized",
        ActivityKind::AppDisconnected => "app_disconnected",
        ActivityKind::PasskeyAdded => "passkey_added",
        ActivityKind::PasskeyRemoved => "passkey_removed",
    }
}

fn kind_text(st: &SecurityTexts, event: &ActivityEvent) -> String {
    let app = event.app.as_deref().unwrap_or("");
    let passkey = event.passkey.as_deref().unwrap_or("");
    let text = match event.kind {
        ActivityKind::SignIn if event.method == Some(SignInMethod::Qr) => st.activity_sign_in_qr,
        ActivityKind::SignIn if event.method == Some(SignInMethod::Passkey) => {
            st.activity_sign_in_passkey
        }
        ActivityKind::SignInFailed if event.method == Some(SignInMethod::Passkey) => {
            st.activity_passkey_refused
        }
        ActivityKind::SignIn => st.activity_sign_in_password,
        ActivityKind::SignInFailed => st.activity_sign_in_failed,
        ActivityKind::QrApproved => st.activity_qr_approved,
        ActivityKind::QrDenied => st.activity_qr_denied,
        ActivityKind::SessionEnded => st.activity_session_ended,
        ActivityKind::PasswordChanged => st.activity_password_changed,
        ActivityKind::RefreshReuse => st.activity_refresh_reuse,
        ActivityKind::AppAuthorized => st.activity_app_authorized,
        ActivityKind::AppDisconnected => st.activity_app_disconnected,
        ActivityKind::PasskeyAdded => st.activity_passkey_added,
        ActivityKind::PasskeyRemoved => st.activity_passkey_removed,
    };
    text.replace("{app}", app).replace("{passkey}", passkey)
}

#[component]
fn Activity() -> impl IntoView {
    let t = texts();
    let st = security_texts();
    let auth = use_auth();
    let events = RwSignal::new(None::<Vec<ActivityEvent>>);
    let next = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<String>);
    let load = move |before: Option<i64>| {
        leptos::task::spawn_local(async move {
            match crate::api::security::activity(before).await {
                Ok(page) => {
                    events.update(|list| list.get_or_insert_with(Vec::new).extend(page.events));
                    next.set(page.next);
                }
                Err(e) => {
                    auth.handle_error(&e);
                    error.set(Some(error_text(t, &e)));
                }
            }
        })
    };
    load(None);
    view! {
        <section class="card">
            <h2>{st.activity_title}</h2>
            <p class="muted">{st.activity_intro}</p>
            {move || error.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            {move || match events.get() {
                None => view! { <p class="muted">{t.loading}</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="muted">{st.activity_none}</p> }.into_any(),
                Some(list) => view! {
                    <ul class="activity" data-testid="activity">
                        {list.into_iter().map(|event| view! {
                            <li data-testid="activity-event" data-kind=kind_name(event.kind)>
                                <strong>{kind_text(st, &event)}</strong>
                                <span class="muted small">
                                    {format!("{} {} {} · {} · ", event.browser, t.sessions_on, event.os, event.ip)}
                                    <RelativeTime at=event.at/>
                                </span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            {move || next.get().map(|before| view! {
                <button class="button secondary" data-testid="activity-more" on:click=move |_| load(Some(before))>
                    {st.activity_more}
                </button>
            })}
        </section>
    }
}

/// The apps the person allowed to sign them in, each with Disconnect (which also ends the app's
/// sessions, so the app is told at once).
#[component]
fn ConnectedApps() -> impl IntoView {
    let t = texts();
    let st = security_texts();
    let auth = use_auth();
    let apps = RwSignal::new(None::<Vec<crate::proto::ConnectedApp>>);
    let error = RwSignal::new(None::<String>);
    let load = move || {
        leptos::task::spawn_local(async move {
            match crate::api::apps::list_apps().await {
                Ok(list) => apps.set(Some(list.apps)),
                Err(e) => {
                    auth.handle_error(&e);
                    error.set(Some(error_text(t, &e)));
                }
            }
        })
    };
    let disconnect = move |client_id: String| {
        leptos::task::spawn_local(async move {
            match crate::api::apps::withdraw_app(client_id).await {
                Ok(_) => load(),
                Err(e) => {
                    auth.handle_error(&e);
                    error.set(Some(error_text(t, &e)));
                }
            }
        })
    };
    load();
    view! {
        <section class="card">
            <h2>{st.apps_title}</h2>
            <p class="muted">{st.apps_intro}</p>
            {move || error.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            {move || match apps.get() {
                None => view! { <p class="muted">{t.loading}</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="muted" data-testid="apps-none">{st.apps_none}</p> }.into_any(),
                Some(list) => view! {
                    <ul class="activity" data-testid="connected-apps">
                        {list.into_iter().map(|app| {
                            let id = app.client_id.clone();
                            view! {
                                <li data-testid="connected-app" data-client=app.client_id.clone()>
                                    <strong>{app.name.clone()}</strong>
                                    <span class="muted small">{format!("{} ", st.apps_allowed)}<RelativeTime at=app.granted_at/></span>
                                    <button class="button secondary" data-testid="disconnect-app" on:click=move |_| disconnect(id.clone())>
                                        {st.apps_disconnect}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ChangePassword() -> impl IntoView {
    let t = texts();
    let st = security_texts();
    let auth = use_auth();
    let current = NodeRef::<leptos::html::Input>::new();
    let new = NodeRef::<leptos::html::Input>::new();
    let repeat = NodeRef::<leptos::html::Input>::new();
    let status = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let value = |input: NodeRef<leptos::html::Input>| {
        input
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default()
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (old_password, new_password) = (value(current), value(new));
        if new_password != value(repeat) {
            return status.set(Some(Err(st.password_mismatch.into())));
        }
        if !PASSWORD_CHARS.contains(&new_password.chars().count()) {
            return status.set(Some(Err(t.err_password_length.into())));
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match crate::api::security::change_password(old_password, new_password).await {
                Ok(revoked) => {
                    for input in [current, new, repeat] {
                        if let Some(el) = input.get_untracked() {
                            el.set_value("");
                        }
                    }
                    let text = st
                        .password_changed
                        .replace("{n}", &revoked.revoked.to_string());
                    status.set(Some(Ok(text)));
                }
                Err(e) => {
                    auth.handle_error(&e);
                    status.set(Some(Err(problem(st, &e))));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <form class="card" id="password" on:submit=submit data-testid="change-password">
            <h2>{st.password_title}</h2>
            <label>
                {st.password_current}
                <input node_ref=current type="password" name="current_password" autocomplete="current-password" required/>
            </label>
            <label>
                {st.password_new}
                <input node_ref=new type="password" name="new_password" autocomplete="new-password" required/>
                <small class="muted">{t.password_hint}</small>
            </label>
            <label>
                {st.password_repeat}
                <input node_ref=repeat type="password" name="repeat_password" autocomplete="new-password" required/>
            </label>
            {move || match status.get() {
                Some(Ok(text)) => view! { <p class="success" data-testid="password-status">{text}</p> }.into_any(),
                Some(Err(text)) => view! { <p class="error" role="alert" data-testid="password-status">{text}</p> }.into_any(),
                None => ().into_any(),
            }}
            <button class="button primary" type="submit" disabled=move || busy.get()>{st.password_save}</button>
        </form>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Closed,
    Password,
    Confirm,
}

/// Asks for the password, then asks again in plain words, then deletes and signs this browser
/// out. The password stays in this component's memory only until then.
#[component]
fn DeleteAccount(me: Me) -> impl IntoView {
    let st = security_texts();
    let auth = use_auth();
    let nav = use_nav();
    let step = RwSignal::new(Step::Closed);
    let password = NodeRef::<leptos::html::Input>::new();
    let typed = StoredValue::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let name = me.label();
    let to_confirm = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        typed.set_value(
            password
                .get_untracked()
                .map(|el| el.value())
                .unwrap_or_default(),
        );
        error.set(None);
        step.set(Step::Confirm);
    };
    let delete = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            match crate::api::security::delete_account(typed.get_value()).await {
                Ok(_) => {
                    typed.set_value(String::new());
                    auth.signed_out();
                    nav.replace("/login");
                }
                Err(e) => {
                    auth.handle_error(&e);
                    error.set(Some(problem(st, &e)));
                    step.set(Step::Password);
                }
            }
            busy.set(false);
        });
    };
    let cancel = move |_| {
        typed.set_value(String::new());
        error.set(None);
        step.set(Step::Closed);
    };
    view! {
        <section class="card danger-zone" data-testid="delete-account">
            <h2>{st.delete_title}</h2>
            <p class="muted">{st.delete_intro}</p>
            {move || error.get().map(|text| view! { <p class="error" role="alert" data-testid="delete-error">{text}</p> })}
            {move || match step.get() {
                Step::Closed => view! {
                    <button class="button secondary" data-testid="delete-start" on:click=move |_| step.set(Step::Password)>
                        {st.delete_start}
                    </button>
                }.into_any(),
                Step::Password => view! {
                    <form on:submit=to_confirm>
                        <label>
                            {st.delete_password}
                            <input node_ref=password type="password" name="password" autocomplete="current-password" required data-testid="delete-password"/>
                        </label>
                        <div class="actions">
                            <button class="button danger" type="submit" data-testid="delete-continue">{st.delete_continue}</button>
                            <button class="button secondary" type="button" on:click=cancel>{st.cancel}</button>
                        </div>
                    </form>
                }.into_any(),
                Step::Confirm => view! {
                    <p class="warning" data-testid="delete-question">{st.delete_confirm.replace("{name}", &name)}</p>
                    <div class="actions">
                        <button class="button danger" data-testid="delete-final" disabled=move || busy.get() on:click=delete>
                            {st.delete_final}
                        </button>
                        <button class="button secondary" on:click=cancel>{st.cancel}</button>
                    </div>
                }.into_any(),
            }}
        </section>
    }
}
