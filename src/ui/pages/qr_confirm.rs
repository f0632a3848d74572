//! `/qr/:id`, opened on the phone by scanning: shows who is asking, then Approve or Deny.

use leptos::prelude::*;

use super::RequireAuth;
use super::confirm_identity::ConfirmIdentity;
use crate::error::ErrorCode;
use crate::proto::{QrId, QrRequest};
use crate::ui::i18n::error_text;
use crate::ui::{Page, local_time, texts, use_auth, use_nav};

#[derive(Clone, PartialEq)]
enum Step {
    Loading,
    Asking(QrRequest),
    /// The account wants approvals confirmed with a passkey (or the password) first.
    Confirming,
    Approved,
    Denied,
    Failed(String),
}

#[component]
pub fn QrConfirm() -> impl IntoView {
    view! { <RequireAuth children=|me| view! { <Confirm who=me.label()/> }/> }
}

#[component]
fn Confirm(who: String) -> impl IntoView {
    let t = texts();
    let auth = use_auth();
    let id = match use_nav().page.get_untracked() {
        Page::QrConfirm(id) => id,
        _ => QrId(String::new()),
    };
    let step = RwSignal::new(Step::Loading);
    let fail = move |e: crate::error::AppError| {
        auth.handle_error(&e);
        let text = if e.code == ErrorCode::QrExpired {
            t.qr_phone_expired.into()
        } else {
            error_text(t, &e)
        };
        step.set(Step::Failed(text));
    };
    {
        let id = id.clone();
        leptos::task::spawn_local(async move {
            match crate::api::qr::scan_qr(id).await {
                Ok(request) => step.set(Step::Asking(request)),
                Err(e) => fail(e),
            }
        });
    }
    let answer = move |approve: bool, proof: Option<String>| {
        let id = id.clone();
        step.set(Step::Loading);
        leptos::task::spawn_local(async move {
            let result = if approve {
                crate::api::qr::approve_qr(id, proof).await
            } else {
                crate::api::qr::deny_qr(id).await
            };
            match result {
                Ok(_) if approve => step.set(Step::Approved),
                Ok(_) => step.set(Step::Denied),
                Err(e) if e.code == ErrorCode::VerificationRequired => step.set(Step::Confirming),
                Err(e) => fail(e),
            }
        });
    };
    let decide = {
        let answer = answer.clone();
        move |approve: bool| answer(approve, None)
    };
    let decide_approve = decide.clone();
    let deny_instead = decide.clone();
    let confirmed = Callback::new(move |proof| answer(true, Some(proof)));
    view! {
        <section class="card confirm">
            <h1>{t.qr_phone_title}</h1>
            <p class="muted">{t.qr_phone_as.replace("{name}", &who)}</p>
            {move || match step.get() {
                Step::Loading => view! { <p class="muted">{t.loading}</p> }.into_any(),
                Step::Asking(request) => {
                    let (approve, deny) = (decide_approve.clone(), decide.clone());
                    view! {
                        <p>{t.qr_phone_intro}</p>
                        <dl class="facts" data-testid="qr-request">
                            <dt>{t.qr_phone_browser}</dt>
                            <dd data-testid="qr-device">{format!("{} {} {}", request.browser, t.sessions_on, request.os)}</dd>
                            <dt>{t.qr_phone_ip}</dt>
                            <dd data-testid="qr-ip">{request.ip.clone()}</dd>
                            <dt>{t.qr_phone_when}</dt>
                            <dd>{local_time(&request.created_at)}</dd>
                        </dl>
                        {(!request.same_network).then(|| view! {
                            <p class="warning strong" role="alert" data-testid="qr-other-network">{t.qr_phone_other_network}</p>
                        })}
                        <p class="warning" role="note">{t.qr_phone_warning}</p>
                        <div class="choice">
                            <button class="button primary" data-testid="qr-approve" on:click=move |_| approve(true)>{t.qr_approve}</button>
                            <button class="button danger" data-testid="qr-deny" on:click=move |_| deny(false)>{t.qr_deny}</button>
                        </div>
                    }
                    .into_any()
                }
                Step::Confirming => {
                    let deny = deny_instead.clone();
                    view! {
                        <ConfirmIdentity on_proof=confirmed/>
                        <button class="button danger wide" data-testid="qr-deny" on:click=move |_| deny(false)>{t.qr_deny}</button>
                    }
                    .into_any()
                }
                Step::Approved => view! { <p class="success" data-testid="qr-result">{t.qr_phone_approved}</p> }.into_any(),
                Step::Denied => view! { <p class="notice" data-testid="qr-result">{t.qr_phone_denied}</p> }.into_any(),
                Step::Failed(text) => view! { <p class="error" role="alert" data-testid="qr-result">{text}</p> }.into_any(),
            }}
        </section>
    }
}
