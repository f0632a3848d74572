//! `/oauth/authorize`: an app sent the person here to sign in with Sesame. The server cannot see
//! the person's session (it is in `localStorage`), so this page asks `/api/oauth/authorize`,
//! after hydration and with the session's token if there is one, what to do: sign in first, show
//! the consent screen, or go back to the app (with a code, or with an error). An app that is
//! unknown, or a `redirect_uri` it did not register, gets an error shown here and no redirect.

use leptos::prelude::*;

use super::confirm_identity::ConfirmIdentity;
use super::encode_path;
use crate::proto::AuthorizeStep;
use crate::ui::i18n::{error_text, security_texts};
use crate::ui::{AuthState, texts, use_auth, use_nav};

#[derive(Clone, PartialEq)]
enum Step {
    Loading,
    Consent {
        app: String,
        scopes: Vec<String>,
        who: String,
    },
    /// The account wants approvals confirmed with a passkey (or the password) first.
    Confirming,
    Leaving,
    Problem(String),
}

#[component]
pub fn Authorize() -> impl IntoView {
    let t = texts();
    let st = security_texts();
    let auth = use_auth();
    let nav = use_nav();
    let step = RwSignal::new(Step::Loading);
    let query = authorization_query();

    // The answer to act on, whichever call gave it.
    let follow = move |answer: AuthorizeStep| match answer {
        AuthorizeStep::Redirect { url } => {
            step.set(Step::Leaving);
            leave_for(&url);
        }
        AuthorizeStep::Error { message } => step.set(Step::Problem(message)),
        AuthorizeStep::SignIn => {
            let here = format!("/oauth/authorize?{}", authorization_query());
            let mut to = format!("/login?next={}", encode_path(&here));
            // Signed in, but `prompt=login` or `max_age` want a fresh sign-in: the sign-in page
            // stays until a session other than this one exists.
            if let AuthState::SignedIn(me) = auth.state.get_untracked() {
                to.push_str(&format!("&again={}", me.session_id));
            }
            nav.replace(&to);
        }
        AuthorizeStep::Consent { app, scopes, .. } => {
            let who = match auth.state.get_untracked() {
                AuthState::SignedIn(me) => me.label(),
                _ => String::new(),
            };
            step.set(Step::Consent { app, scopes, who });
        }
    };
    let failed = move |error: crate::error::AppError| {
        auth.handle_error(&error);
        step.set(Step::Problem(error_text(t, &error)));
    };

    // Ask once the session is known (restored, or known to be absent).
    Effect::new({
        let query = query.clone();
        move |asked: Option<bool>| {
            if asked == Some(true) || auth.state.get() == AuthState::Unknown {
                return asked.unwrap_or(false);
            }
            let query = query.clone();
            leptos::task::spawn_local(async move {
                match crate::api::apps::authorize(query).await {
                    Ok(answer) => follow(answer),
                    Err(error) => failed(error),
                }
            });
            true
        }
    });

    let answer = move |allow: bool, proof: Option<String>| {
        let query = query.clone();
        step.set(Step::Loading);
        leptos::task::spawn_local(async move {
            match crate::api::apps::decide(query, allow, proof).await {
                Ok(answer) => follow(answer),
                Err(error) if error.code == crate::error::ErrorCode::VerificationRequired => {
                    step.set(Step::Confirming)
                }
                Err(error) => failed(error),
            }
        });
    };
    let decide = {
        let answer = answer.clone();
        move |allow: bool| answer(allow, None)
    };
    let decide_allow = decide.clone();
    let deny_instead = decide.clone();
    let confirmed = Callback::new(move |proof| answer(true, Some(proof)));

    move || {
        match step.get() {
        Step::Loading => view! { <section class="card"><p class="muted">{t.loading}</p></section> }.into_any(),
        Step::Confirming => {
            let deny = deny_instead.clone();
            view! {
                <section class="card confirm">
                    <ConfirmIdentity on_proof=confirmed/>
                    <button class="button danger wide" data-testid="consent-deny" on:click=move |_| deny(false)>{st.consent_deny}</button>
                </section>
            }
            .into_any()
        }
        Step::Leaving => view! { <section class="card"><p class="muted" data-testid="consent-leaving">{st.consent_returning}</p></section> }.into_any(),
        Step::Problem(message) => view! {
            <section class="card">
                <h1>{st.consent_problem}</h1>
                <p class="error" role="alert" data-testid="authorize-error">{message}</p>
            </section>
        }
        .into_any(),
        Step::Consent { app, scopes, who } => {
            let (allow, deny) = (decide_allow.clone(), decide.clone());
            let has = |scope: &str| scopes.iter().any(|s| s == scope);
            view! {
                <section class="card confirm" data-testid="consent">
                    <h1 data-testid="consent-app">{st.consent_title.replace("{app}", &app)}</h1>
                    <p class="muted">{st.consent_as.replace("{name}", &who)}</p>
                    <p>{st.consent_learns.replace("{app}", &app)}</p>
                    <ul class="scopes" data-testid="consent-scopes">
                        <li>{if has("profile") { st.consent_profile } else { st.consent_identity }}</li>
                        {has("offline_access").then(|| view! { <li>{st.consent_offline}</li> })}
                    </ul>
                    <p class="muted small">{st.consent_note}</p>
                    <div class="choice">
                        <button class="button primary" data-testid="consent-allow" on:click=move |_| allow(true)>{st.consent_allow}</button>
                        <button class="button danger" data-testid="consent-deny" on:click=move |_| deny(false)>{st.consent_deny}</button>
                    </div>
                </section>
            }
            .into_any()
        }
    }
    }
}

/// The query string of this page as the app wrote it, without the `?`.
fn authorization_query() -> String {
    #[cfg(feature = "hydrate")]
    {
        window()
            .location()
            .search()
            .unwrap_or_default()
            .trim_start_matches('?')
            .to_owned()
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

/// Goes to the app. `replace`: Back should not return to a finished authorization.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn leave_for(url: &str) {
    #[cfg(feature = "hydrate")]
    let _ = window().location().replace(url);
}
