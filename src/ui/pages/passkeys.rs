//! The passkeys part of `/security`: add one (the browser's dialog), list, rename and remove
//! them, and "Confirm approvals with a passkey".

use leptos::prelude::*;

use super::confirm_identity::ConfirmIdentity;
use crate::error::AppError;
use crate::proto::{PasskeyId, PasskeyInfo};
use crate::ui::i18n::{error_text, passkey_failure_text, security_texts};
use crate::ui::time::RelativeTime;
use crate::ui::{texts, use_auth};

#[component]
pub fn Passkeys() -> impl IntoView {
    let t = texts();
    let st = security_texts();
    let auth = use_auth();
    let list = RwSignal::new(None::<Vec<PasskeyInfo>>);
    let confirm_approvals = RwSignal::new(false);
    let status = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let supported = RwSignal::new(false);
    Effect::new(move |_| supported.set(crate::ui::webauthn::supported()));
    // Turning the setting off asks for a fresh proof first.
    let proving = RwSignal::new(false);
    let name = NodeRef::<leptos::html::Input>::new();

    let failed = move |e: AppError| {
        auth.handle_error(&e);
        status.set(Some(Err(error_text(t, &e))));
        busy.set(false);
    };
    let load = move || {
        leptos::task::spawn_local(async move {
            match crate::api::passkeys::list_passkeys().await {
                Ok(answer) => {
                    confirm_approvals.set(answer.approvals_need_verification);
                    list.set(Some(answer.passkeys));
                }
                Err(e) => failed(e),
            }
        })
    };
    load();

    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let typed = name
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default();
        let typed = Some(typed).filter(|n| !n.trim().is_empty());
        busy.set(true);
        status.set(None);
        leptos::task::spawn_local(async move {
            let ceremony = match crate::api::passkeys::register_start().await {
                Ok(ceremony) => ceremony,
                Err(e) => return failed(e),
            };
            let credential = match crate::ui::webauthn::create(&ceremony.public_key).await {
                Ok(credential) => credential,
                Err(failure) => {
                    status.set(Some(Err(passkey_failure_text(t, &failure))));
                    return busy.set(false);
                }
            };
            match crate::api::passkeys::register_finish(ceremony.ceremony, credential, typed).await
            {
                Ok(_) => {
                    if let Some(el) = name.get_untracked() {
                        el.set_value("");
                    }
                    status.set(Some(Ok(st.passkey_added.into())));
                    busy.set(false);
                    load();
                }
                Err(e) => failed(e),
            }
        });
    };
    let remove = move |id: PasskeyId| {
        leptos::task::spawn_local(async move {
            match crate::api::passkeys::delete_passkey(id).await {
                Ok(_) => {
                    status.set(None);
                    load();
                }
                Err(e) => failed(e),
            }
        })
    };
    let rename = move |id: PasskeyId, new_name: String| {
        leptos::task::spawn_local(async move {
            match crate::api::passkeys::rename_passkey(id, new_name).await {
                Ok(_) => {
                    status.set(None);
                    load();
                }
                Err(e) => failed(e),
            }
        })
    };
    let set_confirming = move |on: bool, proof: Option<String>| {
        leptos::task::spawn_local(async move {
            match crate::api::passkeys::set_verification(on, proof).await {
                Ok(setting) => {
                    proving.set(false);
                    confirm_approvals.set(setting.approvals_need_verification);
                }
                Err(e) if e.code == crate::error::ErrorCode::VerificationRequired => {
                    // Still on until proven: put the box back, and ask.
                    confirm_approvals.set(true);
                    proving.set(true);
                }
                Err(e) => failed(e),
            }
        })
    };
    let has_passkeys = move || list.get().is_some_and(|l| !l.is_empty());

    view! {
        <section class="card" data-testid="passkeys">
            <h2>{st.passkeys_title}</h2>
            <p class="muted">{st.passkeys_intro}</p>
            {move || match status.get() {
                Some(Ok(text)) => view! { <p class="success" data-testid="passkey-status">{text}</p> }.into_any(),
                Some(Err(text)) => view! { <p class="error" role="alert" data-testid="passkey-status">{text}</p> }.into_any(),
                None => ().into_any(),
            }}
            {move || match list.get() {
                None => view! { <p class="muted">{t.loading}</p> }.into_any(),
                Some(keys) if keys.is_empty() => view! { <p class="muted" data-testid="passkeys-none">{st.passkeys_none}</p> }.into_any(),
                Some(keys) => view! {
                    <ul class="activity" data-testid="passkey-list">
                        {keys.into_iter().map(|key| view! { <PasskeyRow passkey=key remove rename/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <Show
                when=move || supported.get()
                fallback=move || view! { <p class="muted small" data-testid="passkeys-unsupported">{st.passkeys_unsupported}</p> }
            >
                <form method="post" on:submit=add data-testid="passkey-add">
                    <label>
                        {st.passkey_name}
                        <input node_ref=name name="passkey_name" maxlength="64" autocomplete="off" data-testid="passkey-name"/>
                        <small class="muted">{st.passkey_name_hint}</small>
                    </label>
                    <button class="button primary" type="submit" data-testid="passkey-add-button" disabled=move || busy.get()>
                        <span aria-hidden="true">"🔑 "</span>{st.passkey_add}
                    </button>
                </form>
            </Show>
            <Show when=has_passkeys>
                <label class="toggle">
                    <input
                        type="checkbox"
                        data-testid="confirm-approvals"
                        prop:checked=move || confirm_approvals.get()
                        on:change=move |event| set_confirming(event_target_checked(&event), None)
                    />
                    {st.verify_setting}
                </label>
                <p class="muted small">{st.verify_setting_hint}</p>
                <Show when=move || proving.get()>
                    <ConfirmIdentity on_proof=Callback::new(move |proof| set_confirming(false, Some(proof)))/>
                </Show>
            </Show>
        </section>
    }
    .into_any()
}

#[component]
fn PasskeyRow(
    passkey: PasskeyInfo,
    remove: impl Fn(PasskeyId) + Copy + Send + Sync + 'static,
    rename: impl Fn(PasskeyId, String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let st = security_texts();
    let editing = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    let PasskeyInfo {
        id,
        name,
        created_at,
        last_used_at,
    } = passkey;
    let shown = name.clone();
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let typed = input
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default();
        editing.set(false);
        rename(id, typed);
    };
    view! {
        <li data-testid="passkey" data-id=id.to_string()>
            <Show
                when=move || editing.get()
                fallback=move || view! { <strong data-testid="passkey-name-shown">{shown.clone()}</strong> }
            >
                <form method="post" on:submit=save class="inline">
                    <input node_ref=input value=name.clone() maxlength="64" required data-testid="passkey-rename-input"/>
                    <button class="button secondary" type="submit" data-testid="passkey-rename-save">{st.passkey_save}</button>
                </form>
            </Show>
            <span class="muted small">
                {format!("{} ", st.passkey_added_at)}<RelativeTime at=created_at/>
                {" · "}
                {match last_used_at {
                    Some(at) => view! { {format!("{} ", st.passkey_last_used)}<RelativeTime at/> }.into_any(),
                    None => view! { {st.passkey_never_used} }.into_any(),
                }}
            </span>
            <span class="actions">
                <button class="button secondary" data-testid="passkey-rename" on:click=move |_| editing.set(true)>{st.passkey_rename}</button>
                <button class="button danger" data-testid="passkey-remove" on:click=move |_| remove(id)>{st.passkey_remove}</button>
            </span>
        </li>
    }
}
