//! "Confirm it is you": where the account wants approvals confirmed, an approval (a QR code, an
//! app, a device code) answers 403 `verification_required`, and the page shows this. A passkey
//! with user verification (fingerprint, face, PIN), or the password, gives a one-time proof
//! that goes with the approval when it is sent again.

use leptos::prelude::*;

use crate::error::AppError;
use crate::ui::i18n::{error_text, security_texts};
use crate::ui::{texts, use_auth};

#[component]
pub fn ConfirmIdentity(
    /// Called with the proof; it is good for one approval, within 5 minutes.
    on_proof: Callback<String>,
) -> impl IntoView {
    let t = texts();
    let st = security_texts();
    let auth = use_auth();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let passkeys = RwSignal::new(false);
    Effect::new(move |_| passkeys.set(crate::ui::webauthn::supported()));
    let password = NodeRef::<leptos::html::Input>::new();
    let failed = move |e: AppError| {
        auth.handle_error(&e);
        error.set(Some(match e.code {
            crate::error::ErrorCode::InvalidCredentials => st.err_wrong_password.into(),
            _ => error_text(t, &e),
        }));
        busy.set(false);
    };

    let with_passkey = move |_| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let ceremony = match crate::api::passkeys::verify_start().await {
                Ok(ceremony) => ceremony,
                Err(e) => return failed(e),
            };
            #[cfg(feature = "hydrate")]
            let credential = crate::ui::webauthn::get(&ceremony.public_key, None).await;
            #[cfg(not(feature = "hydrate"))]
            let credential: Result<crate::proto::WebAuthnJson, _> =
                Err(crate::ui::webauthn::Failure::Unsupported);
            let credential = match credential {
                Ok(credential) => credential,
                Err(failure) => {
                    error.set(Some(crate::ui::i18n::passkey_failure_text(t, &failure)));
                    return busy.set(false);
                }
            };
            match crate::api::passkeys::verify_finish(ceremony.ceremony, credential).await {
                Ok(proof) => on_proof.run(proof.verification),
                Err(e) => failed(e),
            }
        });
    };
    let with_password = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let typed = password
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default();
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match crate::api::passkeys::verify_password(typed).await {
                Ok(proof) => on_proof.run(proof.verification),
                Err(e) => failed(e),
            }
        });
    };
    view! {
        <div class="verify" data-testid="confirm-identity">
            <h2>{st.verify_title}</h2>
            <p class="muted">{st.verify_intro}</p>
            {move || error.get().map(|text| view! { <p class="error" role="alert" data-testid="verify-error">{text}</p> })}
            <Show when=move || passkeys.get()>
                <button class="button primary wide" data-testid="verify-passkey" disabled=move || busy.get() on:click=with_passkey>
                    <span aria-hidden="true">"🔑 "</span>{st.verify_with_passkey}
                </button>
            </Show>
            <form method="post" on:submit=with_password>
                <label>
                    {st.verify_or_password}
                    <input node_ref=password type="password" name="password" autocomplete="current-password" required data-testid="verify-password"/>
                </label>
                <button class="button secondary" type="submit" data-testid="verify-password-submit" disabled=move || busy.get()>{st.verify_confirm}</button>
            </form>
        </div>
    }
    .into_any()
}
