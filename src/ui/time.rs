//! Times as people say them ("2 minutes ago", "2 分钟前"), with the exact time on hover (the
//! `title`) or on a tap, for touch screens that have no hover. Rendered only in the browser,
//! after the session is restored, like `local_time`.

use leptos::prelude::*;

use crate::proto::Timestamp;
use crate::ui::i18n::{SecurityTexts, security_texts};
use crate::ui::local_time;

fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now();
    #[cfg(not(feature = "hydrate"))]
    return chrono::Utc::now().timestamp_millis() as f64;
}

/// "just now", "5 minutes ago", "3 hours ago", "yesterday", "4 days ago"; older: the date.
pub fn relative(t: &SecurityTexts, at: &Timestamp, now_ms: f64) -> String {
    let seconds = ((now_ms - at.timestamp_millis() as f64) / 1000.0).max(0.0);
    let minutes = (seconds / 60.0).round() as i64;
    let hours = (seconds / 3600.0).round() as i64;
    let days = (seconds / 86_400.0).round() as i64;
    let count = |one: &str, many: &str, n: i64| {
        if n == 1 {
            one.to_owned()
        } else {
            many.replace("{n}", &n.to_string())
        }
    };
    if seconds < 45.0 {
        t.time_just_now.into()
    } else if seconds < 45.0 * 60.0 {
        count(t.time_minute_ago, t.time_minutes_ago, minutes.max(1))
    } else if seconds < 22.0 * 3600.0 {
        count(t.time_hour_ago, t.time_hours_ago, hours.max(1))
    } else if days <= 30 {
        count(t.time_day_ago, t.time_days_ago, days.max(1))
    } else {
        local_time(at)
    }
}

/// A `<time>` that says how long ago, keeps itself current, and shows the exact time on hover
/// or when tapped.
#[component]
pub fn RelativeTime(at: Timestamp) -> impl IntoView {
    let t = security_texts();
    let exact = local_time(&at);
    let datetime = at.to_rfc3339();
    let now = RwSignal::new(now_ms());
    let show_exact = RwSignal::new(false);
    Effect::new(move |_| {
        let tick = move || now.set(now_ms());
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(20)) {
            on_cleanup(move || handle.clear());
        }
    });
    let shown = {
        let exact = exact.clone();
        move || {
            if show_exact.get() {
                exact.clone()
            } else {
                relative(t, &at, now.get())
            }
        }
    };
    view! {
        <time
            datetime=datetime
            title=exact
            class="relative-time"
            data-testid="relative-time"
            on:click=move |_| show_exact.update(|shown| *shown = !*shown)
        >
            {shown}
        </time>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::{EN_SECURITY, ZH_SECURITY};

    #[test]
    fn times_are_said_the_way_people_say_them() {
        let now = chrono::Utc::now();
        let ago = |seconds: i64| now - chrono::Duration::seconds(seconds);
        let ms = now.timestamp_millis() as f64;
        let en = |seconds| relative(&EN_SECURITY, &ago(seconds), ms);
        assert_eq!(en(3), "just now");
        assert_eq!(en(-5), "just now", "a clock a little ahead is still now");
        assert_eq!(en(70), "1 minute ago");
        assert_eq!(en(120), "2 minutes ago");
        assert_eq!(en(3 * 3600), "3 hours ago");
        assert_eq!(en(26 * 3600), "yesterday");
        assert_eq!(en(4 * 86_400), "4 days ago");
        assert_eq!(relative(&ZH_SECURITY, &ago(120), ms), "2 分钟前");
        assert_eq!(relative(&ZH_SECURITY, &ago(10), ms), "刚刚");
    }
}
