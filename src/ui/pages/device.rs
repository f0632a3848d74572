//! `/device`: approving a TV or terminal's sign-in by the code it shows. `/device?code=…` (the
//! link in the device's QR code) skips the typing. The confirm screen is the QR confirm screen's:
//! the code in large letters to compare with the device's screen, who is asking, the
//! other-network warning, and Approve and Deny equally prominent.

use leptos::prelude::*;

use super::confirm_identity::ConfirmIdentity;
use super::{RequireAuth, query_param};
use crate::proto::DeviceRequest;
use crate::ui::i18n::{error_text, security_texts};
use crate::ui::{local_time, texts, use_auth};

#[derive(Clone, PartialEq)]
enum Step {
    Typing,
    Loading,
    Asking(DeviceRequest),
    /// The account wants approvals confirmed with a passkey (or the password) first.
    Confirming,
    Approved,
    Denied,
}

#[component]
pub fn DeviceApprove() -> impl IntoView {
    view! { <RequireAuth children=|_| view! { <Approve/> }/> }
}

#[component]
fn Approve() -> impl IntoView {
    let t = texts();
    let st = security_texts();
    let auth = use_auth();
    let step = RwSignal::new(Step::Typing);
    let error = RwSignal::new(None::<String>);
    let input = NodeRef::<leptos::html::Input>::new();
    let typed = RwSignal::new(String::new());

    let look_up = move |code: String| {
        typed.set(code.clone());
        error.set(None);
        step.set(Step::Loading);
        leptos::task::spawn_local(async move {
            match crate::api::device::lookup_device(code).await {
                Ok(request) => step.set(Step::Asking(request)),
                Err(e) => {
                    auth.handle_error(&e);
                    error.set(Some(error_text(t, &e)));
                    step.set(Step::Typing);
                }
            }
        });
    };
    // From the device's QR code: straight to the confirm screen.
    if let Some(code) = query_param("code").filter(|c| !c.is_empty()) {
        look_up(code);
    }
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let code = input
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default();
        look_up(code);
    };
    let answer = move |approve: bool, proof: Option<String>| {
        let code = typed.get_untracked();
        step.set(Step::Loading);
        leptos::task::spawn_local(async move {
            let result = if approve {
                crate::api::device::approve_device(code, proof).await
            } else {
                crate::api::device::deny_device(code).await
            };
            match result {
                Ok(_) if approve => step.set(Step::Approved),
                Ok(_) => step.set(Step::Denied),
                Err(e) if e.code == crate::error::ErrorCode::VerificationRequired => {
                    step.set(Step::Confirming)
                }
                Err(e) => {
                    auth.handle_error(&e);
                    error.set(Some(error_text(t, &e)));
                    step.set(Step::Typing);
                }
            }
        });
    };

    let decide = move |approve: bool| answer(approve, None);
    let confirmed = Callback::new(move |proof| answer(true, Some(proof)));

    view! {
        <section class="card confirm">
            <h1>{st.device_title}</h1>
            {move || error.get().map(|text| view! { <p class="error" role="alert" data-testid="device-error">{text}</p> })}
            {move || match step.get() {
                Step::Typing => view! {
                    <form on:submit=submit>
                        <p>{st.device_prompt}</p>
                        <label>
                            {st.device_code_label}
                            <input node_ref=input name="code" data-testid="device-code-input" autocomplete="off"
                                autocapitalize="characters" spellcheck="false" required/>
                        </label>
                        <button class="button primary wide" type="submit" data-testid="device-continue">{st.device_continue}</button>
                    </form>
                }
                .into_any(),
                Step::Loading => view! { <p class="muted">{t.loading}</p> }.into_any(),
                Step::Asking(request) => view! {
                    <p data-testid="device-app">{st.device_asking.replace("{app}", &request.app)}</p>
                    <p class="user-code" data-testid="device-user-code">{request.user_code.clone()}</p>
                    <p class="muted">{st.device_check}</p>
                    <dl class="facts" data-testid="device-request">
                        <dt>{t.qr_phone_browser}</dt>
                        <dd data-testid="device-client">{format!("{} {} {}", request.browser, t.sessions_on, request.os)}</dd>
                        <dt>{t.qr_phone_ip}</dt>
                        <dd data-testid="device-ip">{request.ip.clone()}</dd>
                        <dt>{t.qr_phone_when}</dt>
                        <dd>{local_time(&request.created_at)}</dd>
                    </dl>
                    {(!request.same_network).then(|| view! {
                        <p class="warning strong" role="alert" data-testid="device-other-network">{st.device_other_network}</p>
                    })}
                    <p class="warning" role="note">{st.device_warning}</p>
                    <div class="choice">
                        <button class="button primary" data-testid="device-approve" on:click=move |_| decide(true)>{st.device_approve}</button>
                        <button class="button danger" data-testid="device-deny" on:click=move |_| decide(false)>{st.device_deny}</button>
                    </div>
                }
                .into_any(),
                Step::Confirming => view! {
                    <ConfirmIdentity on_proof=confirmed/>
                    <button class="button danger wide" data-testid="device-deny" on:click=move |_| decide(false)>{st.device_deny}</button>
                }
                .into_any(),
                Step::Approved => view! { <p class="success" data-testid="device-result">{st.device_approved}</p> }.into_any(),
                Step::Denied => view! { <p class="notice" data-testid="device-result">{st.device_denied}</p> }.into_any(),
            }}
        </section>
    }
}
