//! The desktop half of QR sign-in: shows a code, long-polls it, and when the phone approves asks
//! "Sign in as Alice (@alice)?" before it keeps the tokens. Someone else's phone may have
//! approved a code they saw on this screen (or one they planted): the person at this computer
//! must not be signed in to a stranger's account without noticing. The poll secret and the
//! tokens until then live only in this component's memory.

use leptos::prelude::*;

use crate::ui::qr_code::QrCodeSvg;
use crate::ui::texts;

#[derive(Clone, Debug, PartialEq)]
// Only the browser moves the panel past `Getting`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Panel {
    Getting,
    Showing {
        qr_path: String,
        qr_size: u32,
        scanned_by: Option<String>,
    },
    Denied,
    Expired,
    /// Approved by `who`'s phone: Continue keeps these tokens, "Not me" ends their session.
    Confirm {
        who: String,
        tokens: crate::proto::TokenResponse,
    },
    Approved,
    Failed(String),
}

#[component]
pub fn QrPanel() -> impl IntoView {
    let t = texts();
    let auth = crate::ui::use_auth();
    let panel = RwSignal::new(Panel::Getting);
    let seconds_left = RwSignal::new(0i64);
    let expires_at_ms = RwSignal::new(0f64);
    // Each code gets a number; loops belonging to an older code (or an unmounted panel) stop.
    let generation = StoredValue::new(0u64);

    let new_code = move || {
        let Some(current) = generation.try_get_value() else {
            return;
        };
        generation.set_value(current + 1);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(browser::run_code(
            current + 1,
            browser::Handles {
                generation,
                panel,
                expires_at_ms,
                auth,
            },
        ));
    };
    Effect::new(move |_| new_code());
    #[cfg(feature = "hydrate")]
    browser::track_activity();
    let tick = move || {
        let left = (expires_at_ms.get_untracked() - js_sys_now()) / 1000.0;
        seconds_left.set(left.ceil().max(0.0) as i64);
    };
    // Count down from the moment a code arrives, then every half second.
    Effect::new(move |_| {
        expires_at_ms.track();
        tick();
    });
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_millis(500)) {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <section class="card qr-panel" data-testid="qr-panel">
            <h1>{t.qr_title}</h1>
            {move || match panel.get() {
                Panel::Getting => view! { <p class="muted qr-placeholder">{t.qr_getting}</p> }.into_any(),
                Panel::Showing { qr_path, qr_size, scanned_by } => view! {
                    <div class="qr-frame" class:dimmed=scanned_by.is_some()>
                        <QrCodeSvg path=qr_path size=qr_size label=t.qr_image_label/>
                    </div>
                    {match scanned_by {
                        Some(name) => view! {
                            <p class="notice" data-testid="qr-status" data-state="scanned">{t.qr_scanned_by.replace("{name}", &name)}</p>
                        }.into_any(),
                        None => view! {
                            <p class="muted">{t.qr_instructions}</p>
                            <p class="countdown" data-testid="qr-status" data-state="pending">
                                {move || t.qr_expires_in.replace("{seconds}", &seconds_left.get().to_string())}
                            </p>
                        }.into_any(),
                    }}
                }
                .into_any(),
                Panel::Confirm { who, tokens } => {
                    let kept = tokens.clone();
                    view! {
                        <p class="notice strong" data-testid="qr-status" data-state="confirm">{t.qr_confirm_as.replace("{name}", &who)}</p>
                        <p class="muted small">{t.qr_confirm_hint}</p>
                        <div class="actions">
                            <button class="button primary wide" data-testid="qr-continue" on:click=move |_| {
                                panel.set(Panel::Approved);
                                auth.signed_in(&kept);
                            }>{t.qr_continue}</button>
                            <button class="button secondary wide" data-testid="qr-not-me" on:click=move |_| {
                                end_unwanted(&tokens.access_token);
                                new_code();
                            }>{t.qr_not_me}</button>
                        </div>
                    }
                    .into_any()
                }
                Panel::Approved => view! { <p class="success" data-testid="qr-status" data-state="approved">{t.qr_approved}</p> }.into_any(),
                ended => {
                    let (text, state) = match ended {
                        Panel::Denied => (t.qr_denied.to_string(), "denied"),
                        Panel::Failed(text) => (text, "failed"),
                        _ => (t.qr_expired.to_string(), "expired"),
                    };
                    view! {
                        <p class="notice" data-testid="qr-status" data-state=state>{text}</p>
                        <button class="button primary" data-testid="qr-new-code" on:click=move |_| new_code()>{t.qr_new_code}</button>
                    }
                    .into_any()
                }
            }}
        </section>
    }
}

/// Ends the session a stranger's phone approved for this computer: `/api/logout` with its token,
/// sent by hand because the tokens were never stored (the API client sends the stored ones).
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn end_unwanted(access_token: &str) {
    #[cfg(feature = "hydrate")]
    {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        let Ok(headers) = web_sys::Headers::new() else {
            return;
        };
        let _ = headers.set("Authorization", &format!("Bearer {access_token}"));
        let _ = headers.set("Content-Type", "application/json");
        init.set_headers(&headers);
        init.set_body(&"{}".into());
        let _ = window().fetch_with_str_and_init("/api/logout", &init);
    }
}

fn js_sys_now() -> f64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now();
    #[cfg(not(feature = "hydrate"))]
    return 0.0;
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use crate::api::client::tokens::sleep_ms;
    use crate::error::ErrorCode;
    use crate::proto::{QrState, person_label};
    use crate::ui::i18n::error_text;

    fn page_hidden() -> bool {
        document().visibility_state() == web_sys::VisibilityState::Hidden
    }

    /// Expired codes are replaced by themselves only this long after someone last moved, tapped
    /// or typed on the page; after that the panel offers a button, so an abandoned tab does not
    /// create codes forever.
    const REFRESH_WHILE_IDLE_MS: f64 = 10.0 * 60_000.0;

    thread_local! {
        static LAST_ACTIVITY: std::cell::Cell<f64> = std::cell::Cell::new(js_sys::Date::now());
    }

    fn idle() -> bool {
        js_sys::Date::now() - LAST_ACTIVITY.get() > REFRESH_WHILE_IDLE_MS
    }

    /// Notes the moments someone uses the page, for as long as the panel is shown.
    pub fn track_activity() {
        let seen = |_| LAST_ACTIVITY.set(js_sys::Date::now());
        seen(());
        let listeners = [
            window_event_listener(leptos::ev::pointermove, move |_| seen(())),
            window_event_listener(leptos::ev::pointerdown, move |_| seen(())),
            window_event_listener(leptos::ev::keydown, move |_| seen(())),
        ];
        on_cleanup(move || listeners.into_iter().for_each(|l| l.remove()));
    }

    /// Creates a code, shows it and long-polls it until it reaches an end. An expired code is
    /// replaced by itself while the page is visible; polling pauses while the tab is hidden.
    /// The panel's state, handed to the task that runs outside the component.
    #[derive(Clone, Copy)]
    pub struct Handles {
        pub generation: StoredValue<u64>,
        pub panel: RwSignal<Panel>,
        pub expires_at_ms: RwSignal<f64>,
        pub auth: crate::ui::Auth,
    }

    pub async fn run_code(number: u64, handles: Handles) {
        let Handles {
            generation,
            panel,
            expires_at_ms,
            auth,
        } = handles;
        let is_current = move || generation.try_get_value() == Some(number);
        let t = auth.texts;
        panel.set(Panel::Getting);
        let code = match crate::api::qr::create_qr().await {
            Ok(code) => code,
            Err(e) => return panel.set(Panel::Failed(error_text(t, &e))),
        };
        expires_at_ms.set(js_sys::Date::now() + code.expires_in as f64 * 1000.0);
        panel.set(Panel::Showing {
            qr_path: code.qr_svg_path.clone(),
            qr_size: code.qr_svg_size,
            scanned_by: None,
        });

        let mut seen = QrState::Pending;
        while is_current() {
            if page_hidden() {
                sleep_ms(500).await;
                continue;
            }
            let answer =
                crate::api::qr::poll_qr(code.id.clone(), code.secret.clone(), Some(seen)).await;
            if !is_current() {
                return;
            }
            match answer {
                Ok(poll) => match poll.state {
                    QrState::Pending | QrState::Scanned => {
                        seen = poll.state;
                        panel.set(Panel::Showing {
                            qr_path: code.qr_svg_path.clone(),
                            qr_size: code.qr_svg_size,
                            scanned_by: poll.scanned_by.map(|handle| {
                                person_label(poll.scanned_by_name.as_deref(), handle.as_str())
                            }),
                        });
                    }
                    QrState::Approved => {
                        if let Some(tokens) = poll.tokens {
                            let who = poll
                                .scanned_by
                                .map(|handle| {
                                    person_label(poll.scanned_by_name.as_deref(), handle.as_str())
                                })
                                .unwrap_or_default();
                            panel.set(Panel::Confirm { who, tokens });
                        }
                        return;
                    }
                    QrState::Denied => return panel.set(Panel::Denied),
                    QrState::Expired | QrState::Consumed => {
                        if page_hidden() || idle() {
                            return panel.set(Panel::Expired);
                        }
                        generation.set_value(number + 1);
                        return Box::pin(run_code(number + 1, handles)).await;
                    }
                },
                Err(e) if e.code == ErrorCode::Network => sleep_ms(2000).await,
                Err(e) => return panel.set(Panel::Failed(error_text(t, &e))),
            }
        }
    }
}
