//! The live "New sign-in" notice shown on every signed-in page: while a tab is signed in it
//! long-polls `/api/notices/poll`, and each sign-in of the account elsewhere appears at once,
//! with "That was me" (dismiss) and "End that session".

use leptos::prelude::*;

use crate::proto::{Notice, NoticeKind, SessionId};
use crate::ui::i18n::{error_text, security_texts};
use crate::ui::time::RelativeTime;
use crate::ui::{AuthState, texts, use_auth};

#[derive(Clone, Debug, PartialEq)]
struct Shown {
    notice: Notice,
    /// "End that session" worked (or it had already ended).
    ended: bool,
    error: Option<String>,
}

/// Where the notices appear. Their code (cards, long-poll loop) is a WASM chunk of its own that
/// loads once the tab is signed in, so the sign-in page does not download it.
#[component]
pub fn SignInNotices() -> impl IntoView {
    let auth = use_auth();
    let signed_in = Memo::new(move |_| matches!(auth.state.get(), AuthState::SignedIn(_)));
    move || signed_in.get().then(|| Suspend::new(notices()))
}

#[lazy]
fn notices() -> AnyView {
    view! { <Notices/> }.into_any()
}

#[component]
fn Notices() -> impl IntoView {
    let shown = RwSignal::new(Vec::<Shown>::new());
    #[cfg(feature = "hydrate")]
    {
        let auth = use_auth();
        // One watcher per signed-in session of this tab; it stops when the session changes.
        let watching = StoredValue::new(None::<SessionId>);
        Effect::new(move |_| {
            let session = match auth.state.get() {
                AuthState::SignedIn(me) => Some(me.session_id),
                _ => None,
            };
            if watching.get_value() == session {
                return;
            }
            watching.set_value(session);
            shown.set(Vec::new());
            if let Some(session) = session {
                leptos::task::spawn_local(browser::watch(session, watching, shown, auth));
            }
        });
    }
    let dismiss = move |id: i64| shown.update(|list| list.retain(|s| s.notice.id != id));
    view! {
        <div class="sign-in-notices" aria-live="polite">
            {move || {
                shown
                    .get()
                    .into_iter()
                    .map(|item| match (item.notice.kind, item.notice.session_id) {
                        (NoticeKind::FailedSignIns, _) => view! { <FailedSignInsCard notice=item.notice dismiss/> }.into_any(),
                        (_, Some(session)) => view! { <NoticeCard item session dismiss shown/> }.into_any(),
                        _ => ().into_any(),
                    })
                    .collect_view()
            }}
        </div>
    }
}

#[component]
fn NoticeCard<D>(
    item: Shown,
    session: SessionId,
    dismiss: D,
    shown: RwSignal<Vec<Shown>>,
) -> impl IntoView
where
    D: Fn(i64) + Copy + Send + Sync + 'static,
{
    let t = texts();
    let st = security_texts();
    let auth = use_auth();
    let Shown {
        notice,
        ended,
        error,
    } = item;
    let id = notice.id;
    let end = move |_| {
        leptos::task::spawn_local(async move {
            let result = crate::api::sessions::revoke_session(session).await;
            let (ended, error) = match result {
                Ok(_) => (true, None),
                Err(e) if e.code == crate::error::ErrorCode::NotFound => (true, None),
                Err(e) => {
                    auth.handle_error(&e);
                    (false, Some(error_text(t, &e)))
                }
            };
            shown.update(|list| {
                if let Some(item) = list.iter_mut().find(|s| s.notice.id == id) {
                    item.ended = ended;
                    item.error = error;
                }
            });
        });
    };
    view! {
        <section class="card sign-in-notice" role="alert" data-testid="sign-in-notice" data-session=session.to_string()>
            <p>
                <strong>{st.notice_new_sign_in}</strong>" "
                <span data-testid="notice-device">{match &notice.app {
                    Some(app) => t.sessions_app.replace("{app}", app),
                    None => format!("{} {} {}", notice.browser, t.sessions_on, notice.os),
                }}</span>
                " · "<span data-testid="notice-ip">{notice.ip.clone()}</span>" · "
                <RelativeTime at=notice.at/>
            </p>
            {error.map(|text| view! { <p class="error" role="alert">{text}</p> })}
            {if ended {
                view! {
                    <div class="actions">
                        <span class="success" data-testid="notice-ended">{st.notice_ended}</span>
                        <button class="link" data-testid="notice-dismiss" on:click=move |_| dismiss(id)>"×"</button>
                    </div>
                }.into_any()
            } else {
                view! {
                    <div class="actions">
                        <button class="button secondary" data-testid="notice-dismiss" on:click=move |_| dismiss(id)>{st.notice_that_was_me}</button>
                        <button class="button danger" data-testid="notice-end" on:click=end>{st.notice_end_session}</button>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// "12 failed attempts to sign in to your account in the last hour", with where the latest came
/// from, and the way to a new password.
#[component]
fn FailedSignInsCard<D>(notice: Notice, dismiss: D) -> impl IntoView
where
    D: Fn(i64) + Copy + Send + Sync + 'static,
{
    let t = texts();
    let st = security_texts();
    let id = notice.id;
    let attempts = notice.failed_attempts.unwrap_or_default();
    view! {
        <section class="card sign-in-notice" role="alert" data-testid="failed-sign-ins-notice">
            <p>
                <strong data-testid="failed-sign-ins-count">{st.notice_failed_sign_ins.replace("{n}", &attempts.to_string())}</strong>" "
                {st.notice_latest_attempt}" "
                <span data-testid="notice-device">{format!("{} {} {}", notice.browser, t.sessions_on, notice.os)}</span>
                " · "<span data-testid="notice-ip">{notice.ip.clone()}</span>" · "
                <RelativeTime at=notice.at/>
            </p>
            <p class="muted small">{st.notice_failed_sign_ins_hint}</p>
            <div class="actions">
                <button class="button secondary" data-testid="notice-dismiss" on:click=move |_| dismiss(id)>{st.notice_dismiss}</button>
                <a class="button primary" href="/security#password" data-testid="notice-change-password">{st.notice_change_password}</a>
            </div>
        </section>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use crate::api::client::tokens::sleep_ms;
    use crate::ui::Auth;

    const DISPLACED_WITHIN_MS: f64 = 2_000.0;
    const DISPLACED_PAUSE_MS: u32 = 20_000;

    /// Long-polls for notices as long as this tab shows `session`: first for the cursor of
    /// "now", then for anything newer. An ended session signs the tab out; other failures wait
    /// a little (or as long as a 429 says) and try again.
    pub async fn watch(
        session: SessionId,
        watching: StoredValue<Option<SessionId>>,
        shown: RwSignal<Vec<Shown>>,
        auth: Auth,
    ) {
        let current = move || watching.try_get_value().flatten() == Some(session);
        let mut cursor = None;
        while current() {
            let sent_at = js_sys::Date::now();
            let waited = cursor.is_some();
            let answer = crate::api::security::poll_notices(cursor).await;
            if !current() {
                return;
            }
            match answer {
                Ok(answer) => {
                    // An empty answer at once means a newer poll of this session took this one's
                    // place (the server keeps two per session): more tabs share the session than
                    // it lets wait. Wait a while instead of displacing a sibling tab in a loop;
                    // the cursor catches up on anything missed meanwhile.
                    let displaced = waited
                        && answer.notices.is_empty()
                        && js_sys::Date::now() - sent_at < DISPLACED_WITHIN_MS;
                    cursor = Some(answer.cursor);
                    let known = |n: &Notice| match n.kind {
                        NoticeKind::NewSignIn => n.session_id.is_some(),
                        NoticeKind::FailedSignIns => n.failed_attempts.is_some(),
                        NoticeKind::Unknown => false,
                    };
                    let fresh = answer
                        .notices
                        .into_iter()
                        .filter(known)
                        .map(|notice| Shown {
                            notice,
                            ended: false,
                            error: None,
                        });
                    shown.try_update(|list| list.extend(fresh));
                    if displaced {
                        sleep_ms(DISPLACED_PAUSE_MS + (js_sys::Math::random() * 10_000.0) as u32)
                            .await;
                    }
                }
                Err(error) if error.code.ends_session() => return auth.handle_error(&error),
                Err(error) => {
                    let seconds = error.retry_after.unwrap_or(2).clamp(1, 60);
                    sleep_ms(seconds as u32 * 1000).await;
                }
            }
        }
    }
}
