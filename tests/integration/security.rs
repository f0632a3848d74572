//! The security center against the real database: live notices (across instances, exactly once
//! per cursor), password change, account deletion, and the activity history.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use sesame::db;
use sesame::domain::{
    Principal, Sesame, account_security, accounts, activity, notices, qr_login, sessions,
};
use sesame::error::{AppResult, ErrorCode};
use sesame::proto::{ActivityKind, NoticeKind, NoticePoll, QrState, SignInMethod};

use super::{DESKTOP_UA, PHONE_UA, app, app_with, device, device_at, signed_up};

const PASSWORD: &str = "correct horse battery";

async fn sign_in(app: &Sesame, who: &Principal, ip: &str, ua: &str) -> Principal {
    let tokens = accounts::login(
        app,
        who.username.as_str(),
        PASSWORD.into(),
        &device_at(ip, ua),
    )
    .await
    .unwrap();
    sessions::authenticate(app, Some(&tokens.access_token))
        .await
        .unwrap()
}

/// A second session without the cost of a password check.
async fn session_of(app: &Sesame, who: &Principal) -> Principal {
    let tokens = sessions::start(app, who.user_id, &device(DESKTOP_UA))
        .await
        .unwrap();
    sessions::authenticate(app, Some(&tokens.access_token))
        .await
        .unwrap()
}

async fn cursor(app: &Sesame, who: &Principal) -> i64 {
    let answer = notices::poll(app, who, None, &device(PHONE_UA))
        .await
        .unwrap();
    assert!(answer.notices.is_empty(), "a client starts from now");
    answer.cursor
}

/// Starts `who`'s notice poll after `after` in the background; yields its answer and when it came.
fn poll_in_background(
    app: &Sesame,
    who: &Principal,
    after: i64,
) -> tokio::task::JoinHandle<(AppResult<NoticePoll>, Instant)> {
    let (app, who) = (app.clone(), who.clone());
    tokio::spawn(async move {
        let answer = notices::poll(&app, &who, Some(after), &device(PHONE_UA)).await;
        (answer, Instant::now())
    })
}

/// The background poll answered `session_ended` within 2 s of `since`: woken, not timed out.
async fn expect_ended_promptly(
    waiter: tokio::task::JoinHandle<(AppResult<NoticePoll>, Instant)>,
    since: Instant,
    what: &str,
) {
    let (answer, answered) = waiter.await.unwrap();
    assert_eq!(answer.unwrap_err().code, ErrorCode::SessionEnded, "{what}");
    let late = answered.saturating_duration_since(since);
    assert!(
        late < Duration::from_secs(2),
        "{what}: woken, not timed out ({late:?})"
    );
}

#[tokio::test]
async fn a_sign_in_reaches_every_other_session_of_the_user_and_no_one_else() {
    let app = app().await;
    let (_, first) = signed_up(&app, "ntc").await;
    let second = session_of(&app, &first).await;
    let (_, stranger) = signed_up(&app, "ntcx").await;
    let (c1, c2, cs) = (
        cursor(&app, &first).await,
        cursor(&app, &second).await,
        cursor(&app, &stranger).await,
    );

    let newcomer = sign_in(&app, &first, "203.0.113.5", DESKTOP_UA).await;
    for (reader, after) in [(&first, c1), (&second, c2)] {
        let answer = notices::poll(&app, reader, Some(after), &device(PHONE_UA))
            .await
            .unwrap();
        assert_eq!(answer.notices.len(), 1, "{answer:?}");
        let notice = &answer.notices[0];
        assert_eq!(notice.kind, NoticeKind::NewSignIn);
        assert_eq!(notice.session_id, Some(newcomer.session_id));
        assert_eq!(notice.method, SignInMethod::Password);
        assert_eq!(
            (
                notice.browser.as_str(),
                notice.os.as_str(),
                notice.ip.as_str()
            ),
            ("Chrome", "Windows", "203.0.113.5")
        );
        assert_eq!(answer.cursor, notice.id);
    }
    // Its own sign-in is no news to the new session, and other users hear nothing (they wait
    // out the test app's 2 s poll).
    let own = notices::poll(&app, &newcomer, Some(c1), &device(DESKTOP_UA))
        .await
        .unwrap();
    assert!(own.notices.is_empty(), "{own:?}");
    let theirs = notices::poll(&app, &stranger, Some(cs), &device(PHONE_UA))
        .await
        .unwrap();
    assert!(theirs.notices.is_empty());
    assert_eq!(theirs.cursor, cs);
}

#[tokio::test]
async fn a_waiting_poll_wakes_at_once_for_a_sign_in_on_another_instance() {
    let waiting_app = app_with(|s| s.qr_poll_wait = std::time::Duration::from_secs(20)).await;
    let other_app = app().await;
    let (_, phone) = signed_up(&waiting_app, "ntcw").await;
    let after = cursor(&waiting_app, &phone).await;
    let waiter = poll_in_background(&waiting_app, &phone, after);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "nothing happened yet");
    assert_eq!(waiting_app.notice_events.waiting(), 1);
    let started = Instant::now();
    let desktop = session_of(&other_app, &phone).await;
    let (answer, woke) = waiter.await.unwrap();
    let answer = answer.unwrap();
    assert_eq!(answer.notices.len(), 1);
    assert_eq!(answer.notices[0].session_id, Some(desktop.session_id));
    let waited = woke - started;
    assert!(
        waited < Duration::from_secs(2),
        "woken by NOTIFY ({waited:?})"
    );
    assert_eq!(waiting_app.notice_events.waiting(), 0);
}

#[tokio::test]
async fn the_cursor_never_loses_or_repeats_a_notice() {
    let (one, two) = (app().await, app().await);
    let (_, reader) = signed_up(&one, "ntcc").await;
    let mut after = cursor(&one, &reader).await;
    // Forty sign-ins from two instances at once, while the reader polls with its cursor.
    let signing = {
        let (one, two, reader) = (one.clone(), two.clone(), reader.clone());
        tokio::spawn(async move {
            let starts = (0..40).map(|n| {
                let app = if n % 2 == 0 { one.clone() } else { two.clone() };
                let user = reader.user_id;
                async move {
                    sessions::start(&app, user, &device(DESKTOP_UA))
                        .await
                        .unwrap()
                }
            });
            futures::future::join_all(starts).await.len()
        })
    };
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 40 && Instant::now() < deadline {
        let answer = notices::poll(&one, &reader, Some(after), &device(PHONE_UA))
            .await
            .unwrap();
        for notice in &answer.notices {
            assert!(notice.id > after, "never a notice at or below the cursor");
        }
        seen.extend(answer.notices.iter().map(|n| n.id));
        after = answer.cursor;
    }
    assert_eq!(signing.await.unwrap(), 40);
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no notice twice");
    assert_eq!(seen.len(), 40, "every sign-in announced once");
    // And nothing more arrives later.
    let later = notices::poll(&one, &reader, Some(after), &device(PHONE_UA))
        .await
        .unwrap();
    assert!(later.notices.is_empty());
}

/// A waiting notice poll costs one query per cycle: its read checks the session and records it
/// as seen, as the usual check would have (`notices::poll_for_token`).
#[tokio::test]
async fn a_poll_by_token_checks_the_session_in_its_one_read() {
    let app = app().await;
    let (tokens, reader) = signed_up(&app, "polltoken").await;
    let token = Some(tokens.access_token.as_str());
    let after = notices::poll_for_token(&app, token, None, &device(PHONE_UA))
        .await
        .unwrap()
        .cursor;
    sqlx::query("UPDATE sessions SET last_seen_at = now() - interval '2 minutes' WHERE id = $1")
        .bind(reader.session_id)
        .execute(&app.db)
        .await
        .unwrap();
    let answer = notices::poll_for_token(&app, token, Some(after), &device(PHONE_UA))
        .await
        .unwrap();
    assert!(answer.notices.is_empty());
    let recent: bool = sqlx::query_scalar(
        "SELECT last_seen_at > now() - interval '10 seconds' FROM sessions WHERE id = $1",
    )
    .bind(reader.session_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(recent, "the poll records the session as seen");

    sessions::revoke(&app, &reader, reader.session_id, &device(PHONE_UA))
        .await
        .unwrap();
    let ended = notices::poll_for_token(&app, token, Some(after), &device(PHONE_UA)).await;
    assert_eq!(ended.unwrap_err().code, ErrorCode::SessionEnded);
    let forged =
        notices::poll_for_token(&app, Some("not.a.token"), Some(after), &device(PHONE_UA)).await;
    assert_eq!(forged.unwrap_err().code, ErrorCode::Unauthorized);
    let none = notices::poll_for_token(&app, None, Some(after), &device(PHONE_UA)).await;
    assert_eq!(none.unwrap_err().code, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn a_poll_of_an_ended_session_says_so_at_once() {
    let app = app_with(|s| s.qr_poll_wait = std::time::Duration::from_secs(120)).await;
    let (_, first) = signed_up(&app, "ntce").await;
    let second = session_of(&app, &first).await;
    let after = cursor(&app, &second).await;
    let waiter = poll_in_background(&app, &second, after);
    tokio::time::sleep(Duration::from_millis(300)).await;
    account_security::change_password(
        &app,
        &first,
        PASSWORD.into(),
        "a brand new passphrase".into(),
        &device(PHONE_UA),
    )
    .await
    .unwrap();
    expect_ended_promptly(waiter, Instant::now(), "password changed").await;
}

/// "End that session" (from a notice or the sessions page) and "end all other sessions", on one
/// instance, reach the ended sessions' polls waiting on another at once: their tabs sign out.
#[tokio::test]
async fn ending_a_session_answers_its_waiting_poll_at_once_on_any_instance() {
    let waiting_app = app_with(|s| s.qr_poll_wait = std::time::Duration::from_secs(120)).await;
    let ending_app = app().await;
    let (_, first) = signed_up(&waiting_app, "ntcx").await;
    for end_all_others in [false, true] {
        let second = session_of(&waiting_app, &first).await;
        let after = cursor(&waiting_app, &second).await;
        let waiter = poll_in_background(&waiting_app, &second, after);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiter.is_finished(), "nothing happened yet");
        if end_all_others {
            sessions::revoke_others(&ending_app, &first, &device(PHONE_UA))
                .await
                .unwrap();
        } else {
            sessions::revoke(&ending_app, &first, second.session_id, &device(PHONE_UA))
                .await
                .unwrap();
        }
        let what = format!("end all others: {end_all_others}");
        expect_ended_promptly(waiter, Instant::now(), &what).await;
    }
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = app().await;
    let (_, me) = signed_up(&app, "pwd").await;
    let other = session_of(&app, &me).await;
    let third = session_of(&app, &me).await;

    let short = account_security::change_password(
        &app,
        &me,
        PASSWORD.into(),
        "short".into(),
        &device(PHONE_UA),
    )
    .await
    .unwrap_err();
    assert_eq!(short.code, ErrorCode::InvalidInput);
    let wrong = account_security::change_password(
        &app,
        &me,
        "not my password".into(),
        "a brand new passphrase".into(),
        &device(PHONE_UA),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (wrong.code, wrong.code.status()),
        (ErrorCode::InvalidCredentials, 401)
    );

    let revoked = account_security::change_password(
        &app,
        &me,
        PASSWORD.into(),
        "a brand new passphrase".into(),
        &device(PHONE_UA),
    )
    .await
    .unwrap();
    assert_eq!(revoked, 2);
    for ended in [&other, &third] {
        let still = db::sessions::find_live(&app.db, ended.session_id, ended.user_id, None)
            .await
            .unwrap();
        assert!(still.is_none(), "other sessions end");
    }
    assert!(
        db::sessions::find_live(&app.db, me.session_id, me.user_id, None)
            .await
            .unwrap()
            .is_some(),
        "this one stays"
    );
    let old = accounts::login(
        &app,
        me.username.as_str(),
        PASSWORD.into(),
        &device(PHONE_UA),
    )
    .await
    .unwrap_err();
    assert_eq!(old.code, ErrorCode::InvalidCredentials);
    accounts::login(
        &app,
        me.username.as_str(),
        "a brand new passphrase".into(),
        &device(PHONE_UA),
    )
    .await
    .unwrap();
    let history = activity::page(&app, &me, None).await.unwrap().events;
    let kinds: Vec<ActivityKind> = history.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&ActivityKind::PasswordChanged), "{kinds:?}");
    assert!(kinds.contains(&ActivityKind::SignInFailed), "{kinds:?}");
}

#[tokio::test]
async fn a_wrong_current_password_counts_toward_the_sign_in_failure_limit() {
    let app = app_with(|s| s.login_failures_per_account = 3).await;
    let (_, me) = signed_up(&app, "pwdl").await;
    let here = device(DESKTOP_UA);
    accounts::login(&app, me.username.as_str(), "guess one".into(), &here)
        .await
        .unwrap_err();
    for _ in 0..2 {
        let e = account_security::change_password(
            &app,
            &me,
            "guess guess".into(),
            "a brand new passphrase".into(),
            &here,
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidCredentials);
    }
    let limited = account_security::delete_account(&app, &me, PASSWORD.into(), &here)
        .await
        .unwrap_err();
    assert_eq!(limited.code, ErrorCode::RateLimited);
    let limited = accounts::login(&app, me.username.as_str(), PASSWORD.into(), &here)
        .await
        .unwrap_err();
    assert_eq!(limited.code, ErrorCode::RateLimited);
}

#[tokio::test]
async fn deleting_the_account_cascades_and_frees_the_name() {
    let app = app().await;
    let (tokens, me) = signed_up(&app, "del").await;
    let other = session_of(&app, &me).await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    qr_login::scan(&app, &me, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    accounts::login(
        &app,
        me.username.as_str(),
        "a wrong guess".into(),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap_err();

    let wrong =
        account_security::delete_account(&app, &me, "nope nope nope".into(), &device(PHONE_UA))
            .await
            .unwrap_err();
    assert_eq!(wrong.code, ErrorCode::InvalidCredentials);
    account_security::delete_account(&app, &me, PASSWORD.into(), &device(PHONE_UA))
        .await
        .unwrap();

    let e = sessions::authenticate(&app, Some(&tokens.access_token))
        .await
        .unwrap_err();
    assert!(e.code.ends_session(), "{:?}", e.code);
    for session in [&me, &other] {
        let live = db::sessions::find_live(&app.db, session.session_id, session.user_id, None)
            .await
            .unwrap();
        assert!(live.is_none(), "every session ends at once");
    }
    let e = sessions::refresh(&app, &tokens.refresh_token, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert!(e.code.ends_session());
    let desktop = qr_login::poll(
        &app,
        &code.id,
        &code.secret,
        Some(QrState::Scanned),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap();
    assert_eq!(
        desktop.state,
        QrState::Denied,
        "the scanned code is cancelled"
    );
    let count = |sql: &'static str| {
        let app = app.clone();
        let user = me.user_id;
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(user)
                .fetch_one(&app.db)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT count(*) FROM sessions WHERE user_id = $1").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM notices WHERE user_id = $1").await,
        0
    );
    assert_eq!(count("SELECT count(*) FROM users WHERE id = $1").await, 0);
    assert!(
        count("SELECT count(*) FROM audit_events WHERE user_id = $1").await > 0,
        "history stays"
    );
    assert_eq!(
        count("SELECT count(*) FROM audit_events WHERE user_id = $1 AND (user_agent <> '' OR detail <> '')").await,
        0,
        "no user agent or username of a deleted account"
    );
    let named: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE detail LIKE '%' || $1 || '%'")
            .bind(me.username.as_str())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(named, 0);

    let again = accounts::register(
        &app,
        me.username.as_str(),
        PASSWORD.into(),
        None,
        &device(PHONE_UA),
    )
    .await
    .expect("the name is free again");
    let newcomer = sessions::authenticate(&app, Some(&again.access_token))
        .await
        .unwrap();
    assert_ne!(newcomer.user_id, me.user_id);
    let history = activity::page(&app, &newcomer, None).await.unwrap().events;
    assert_eq!(
        history.len(),
        1,
        "the new account sees none of the old one's history"
    );
}

#[tokio::test]
async fn activity_pages_are_complete_and_newest_first() {
    let app = app().await;
    let (_, me) = signed_up(&app, "act").await;
    for _ in 0..60 {
        session_of(&app, &me).await;
    }
    accounts::login(
        &app,
        me.username.as_str(),
        "a wrong guess".into(),
        &device_at("198.51.100.7", PHONE_UA),
    )
    .await
    .unwrap_err();
    let extra = session_of(&app, &me).await;
    sessions::revoke(&app, &me, extra.session_id, &device(PHONE_UA))
        .await
        .unwrap();
    // Events of no interest (QR creation) or of another user never show.
    qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    signed_up(&app, "actx").await;

    let mut events = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = activity::page(&app, &me, before).await.unwrap();
        assert!(page.events.len() <= activity::PAGE);
        pages += 1;
        events.extend(page.events);
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    // Register (1) + 61 sessions = 62 sign-ins, 1 failure, 1 ended session.
    assert_eq!(events.len(), 64);
    assert!(events.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert!(events.windows(2).all(|w| w[0].at >= w[1].at));
    let count = |kind| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(ActivityKind::SignIn), 62);
    assert_eq!(count(ActivityKind::SignInFailed), 1);
    assert_eq!(count(ActivityKind::SessionEnded), 1);
    assert_eq!(events[0].kind, ActivityKind::SessionEnded);
    assert_eq!(events[0].session_id, Some(extra.session_id));
    let failed = events
        .iter()
        .find(|e| e.kind == ActivityKind::SignInFailed)
        .unwrap();
    assert_eq!(
        (
            failed.ip.as_str(),
            failed.browser.as_str(),
            failed.os.as_str()
        ),
        ("198.51.100.7", "Safari", "iOS")
    );
    let first = events.last().unwrap();
    assert_eq!(
        (first.kind, first.method),
        (ActivityKind::SignIn, Some(SignInMethod::Password))
    );
    assert!(
        events
            .iter()
            .filter(|e| e.kind != ActivityKind::SignIn)
            .all(|e| e.method.is_none())
    );
}

#[tokio::test]
async fn a_qr_sign_in_is_announced_to_the_phone_that_approved_it() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "ntcq").await;
    let after = cursor(&app, &phone).await;
    let code = qr_login::create(&app, &device_at("198.51.100.20", DESKTOP_UA))
        .await
        .unwrap();
    qr_login::scan(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    let desktop = qr_login::poll(
        &app,
        &code.id,
        &code.secret,
        Some(QrState::Scanned),
        &device_at("198.51.100.20", DESKTOP_UA),
    )
    .await
    .unwrap();
    let tokens = desktop.tokens.expect("approved");
    let desktop = sessions::authenticate(&app, Some(&tokens.access_token))
        .await
        .unwrap();
    let answer = notices::poll(&app, &phone, Some(after), &device(PHONE_UA))
        .await
        .unwrap();
    assert_eq!(answer.notices.len(), 1);
    assert_eq!(answer.notices[0].method, SignInMethod::Qr);
    assert_eq!(answer.notices[0].session_id, Some(desktop.session_id));
    assert_eq!(answer.notices[0].ip, "198.51.100.20");
    let history = activity::page(&app, &phone, None).await.unwrap().events;
    assert_eq!(history[0].kind, ActivityKind::SignIn);
    assert_eq!(history[0].method, Some(SignInMethod::Qr));
    assert_eq!(history[1].kind, ActivityKind::QrApproved);
}

#[tokio::test]
async fn a_sessions_third_waiting_notice_poll_makes_its_oldest_answer_at_once() {
    // Polls that would otherwise time out while the test looks at them.
    let app = app_with(|s| s.qr_poll_wait = Duration::from_secs(30)).await;
    let (_, alice) = signed_up(&app, "npcap").await;
    let other_tab_session = session_of(&app, &alice).await;
    let after = cursor(&app, &alice).await;
    let oldest = poll_in_background(&app, &alice, after);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = poll_in_background(&app, &alice, after);
    let other_session = poll_in_background(&app, &other_tab_session, after);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!oldest.is_finished(), "two polls of a session may wait");

    let started = Instant::now();
    let third = poll_in_background(&app, &alice, after);
    let (answer, answered) = oldest.await.unwrap();
    let answer = answer.unwrap();
    assert!(answer.notices.is_empty(), "{answer:?}");
    assert_eq!(
        answer.cursor, after,
        "a displaced poll gives the same cursor back"
    );
    assert!(answered.duration_since(started) < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished() && !other_session.is_finished());

    // The polls that kept their places still hear of the next sign-in.
    let newcomer = session_of(&app, &alice).await;
    for waiter in [second, third, other_session] {
        let (answer, _) = waiter.await.unwrap();
        let notices = answer.unwrap().notices;
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].session_id, Some(newcomer.session_id));
    }
}
