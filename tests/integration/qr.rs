//! QR sign-in against the real database: every transition, every refusal, and the races.

use std::time::{Duration, Instant};

use sesame::db;
use sesame::domain::{Principal, Sesame, qr_login, sessions};
use sesame::error::ErrorCode;
use sesame::proto::{QrCreated, QrId, QrPoll, QrState, SignInMethod};

use super::{DESKTOP_UA, PHONE_UA, app, device, signed_up};

async fn poll(app: &Sesame, id: &QrId, secret: &str, seen: QrState) -> QrPoll {
    qr_login::poll(app, id, secret, Some(seen), &device(DESKTOP_UA))
        .await
        .unwrap()
}

async fn expire_now(app: &Sesame, id: &QrId) {
    sqlx::query("UPDATE qr_logins SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
}

async fn scanned_code(app: &Sesame, phone: &Principal) -> QrCreated {
    let code = qr_login::create(app, &device(DESKTOP_UA)).await.unwrap();
    qr_login::scan(app, phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    code
}

#[tokio::test]
async fn created_code_comes_drawn_so_the_browser_needs_no_qr_encoder() {
    let app = app().await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    let (path, size) = sesame::domain::qr_image::qr_path(&code.url).unwrap();
    assert_eq!(code.qr_svg_path, path);
    assert_eq!(code.qr_svg_size as usize, size);
    assert!(!code.qr_svg_path.is_empty());
}

#[tokio::test]
async fn created_code_has_a_long_random_id_a_separate_secret_and_a_url_without_the_secret() {
    let app = app().await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    assert!(
        code.id.0.len() >= 22,
        "128 bits in base64url is 22 characters"
    );
    assert!(code.secret.len() >= 43);
    assert_eq!(code.url, format!("http://127.0.0.1:3000/qr/{}", code.id));
    assert!(!code.url.contains(&code.secret));
    assert_eq!(code.expires_in, 120);
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_hash FROM qr_logins WHERE id = $1")
        .bind(&code.id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_ne!(stored, code.secret.as_bytes(), "only the hash is stored");
    assert_eq!(
        poll(&app, &code.id, &code.secret, QrState::Pending)
            .await
            .state,
        QrState::Pending
    );
}

#[tokio::test]
async fn full_flow_gives_the_desktop_a_new_session_of_its_own_exactly_once() {
    let app = app().await;
    let (phone_tokens, phone) = signed_up(&app, "qrok").await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();

    let request = qr_login::scan(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    assert_eq!(
        (
            request.browser.as_str(),
            request.os.as_str(),
            request.ip.as_str()
        ),
        ("Chrome", "Windows", "203.0.113.7")
    );
    assert_eq!(request.state, QrState::Scanned);

    let scanned = poll(&app, &code.id, &code.secret, QrState::Pending).await;
    assert_eq!(
        (
            scanned.state,
            scanned.scanned_by.as_ref().map(|h| h.as_str())
        ),
        (QrState::Scanned, Some(phone.username.as_str()))
    );
    assert!(scanned.tokens.is_none());

    qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    let approved = poll(&app, &code.id, &code.secret, QrState::Scanned).await;
    assert_eq!(approved.state, QrState::Approved);
    let tokens = approved
        .tokens
        .expect("the approval carries the desktop's tokens");
    assert_ne!(tokens.access_token, phone_tokens.access_token);
    assert_ne!(tokens.refresh_token, phone_tokens.refresh_token);
    let desktop = sessions::authenticate(&app, Some(&tokens.access_token))
        .await
        .unwrap();
    assert_eq!(desktop.user_id, phone.user_id);
    assert_ne!(desktop.session_id, phone.session_id);
    assert_eq!(desktop.method, SignInMethod::Qr);

    let again = poll(&app, &code.id, &code.secret, QrState::Approved).await;
    assert_eq!(again.state, QrState::Consumed);
    assert!(again.tokens.is_none(), "the result is delivered once");

    let list = sessions::list(&app, &phone).await.unwrap().sessions;
    let qr_session = list.iter().find(|s| s.id == desktop.session_id).unwrap();
    assert_eq!(
        (qr_session.method, qr_session.browser.as_str()),
        (SignInMethod::Qr, "Chrome")
    );

    let events = db::audit::events_for_user(&app.db, phone.user_id)
        .await
        .unwrap();
    for expected in ["qr_scan", "qr_approve", "qr_redeem"] {
        assert!(
            events.contains(&expected.to_owned()),
            "{expected} missing from {events:?}"
        );
    }
}

#[tokio::test]
async fn a_waiting_poll_wakes_as_soon_as_the_phone_approves() {
    let app = super::app_with(|s| s.qr_poll_wait = std::time::Duration::from_secs(20)).await;
    let (_, phone) = signed_up(&app, "wake").await;
    let code = scanned_code(&app, &phone).await;
    let waiter = {
        let (app, code) = (app.clone(), code.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = poll(&app, &code.id, &code.secret, QrState::Scanned).await;
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "nothing changed yet, so the poll is still waiting"
    );
    qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    let (answer, waited) = waiter.await.unwrap();
    assert_eq!(answer.state, QrState::Approved);
    assert!(answer.tokens.is_some());
    assert!(
        waited < Duration::from_secs(10),
        "woken by NOTIFY, not by the 20 s timeout ({waited:?})"
    );
}

#[tokio::test]
async fn deny_is_final() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "deny").await;
    let code = scanned_code(&app, &phone).await;
    qr_login::deny(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    assert_eq!(
        poll(&app, &code.id, &code.secret, QrState::Scanned)
            .await
            .state,
        QrState::Denied
    );
    let late = qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(late.code, ErrorCode::QrConflict);
    let events = db::audit::events_for_user(&app.db, phone.user_id)
        .await
        .unwrap();
    assert!(events.contains(&"qr_deny".to_owned()));
}

#[tokio::test]
async fn approve_needs_a_scan_first() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "order").await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    let early = qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(early.code, ErrorCode::QrConflict);
    assert_eq!(
        poll(&app, &code.id, &code.secret, QrState::Scanned)
            .await
            .state,
        QrState::Pending
    );
}

#[tokio::test]
async fn approve_after_expiry_is_refused_and_the_desktop_sees_expired() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "late").await;
    let code = scanned_code(&app, &phone).await;
    expire_now(&app, &code.id).await;
    let refused = qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::QrExpired);
    let answer = poll(&app, &code.id, &code.secret, QrState::Scanned).await;
    assert_eq!((answer.state, answer.tokens), (QrState::Expired, None));
    let rescan = qr_login::scan(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(rescan.code, ErrorCode::QrExpired);
}

#[tokio::test]
async fn an_approved_code_not_collected_in_time_expires_without_a_session() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "uncol").await;
    let code = scanned_code(&app, &phone).await;
    qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    expire_now(&app, &code.id).await;
    let answer = poll(&app, &code.id, &code.secret, QrState::Scanned).await;
    assert_eq!((answer.state, answer.tokens), (QrState::Expired, None));
}

#[tokio::test]
async fn only_the_user_who_scanned_may_approve_or_deny() {
    let app = app().await;
    let (_, owner) = signed_up(&app, "owner").await;
    let (_, intruder) = signed_up(&app, "intr").await;
    let code = scanned_code(&app, &owner).await;
    for result in [
        qr_login::approve(&app, &intruder, &code.id, &device(PHONE_UA)).await,
        qr_login::deny(&app, &intruder, &code.id, &device(PHONE_UA)).await,
    ] {
        assert_eq!(result.unwrap_err().code, ErrorCode::QrConflict);
    }
    let rescan = qr_login::scan(&app, &intruder, &code.id, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(rescan.code, ErrorCode::QrConflict);
    // The owner is unaffected.
    qr_login::scan(&app, &owner, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    qr_login::approve(&app, &owner, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
}

#[tokio::test]
async fn fifty_concurrent_approvals_have_exactly_one_winner() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "race").await;
    let code = scanned_code(&app, &phone).await;
    let attempts = (0..50).map(|_| {
        let (app, phone, id) = (app.clone(), phone.clone(), code.id.clone());
        tokio::spawn(async move { qr_login::approve(&app, &phone, &id, &device(PHONE_UA)).await })
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert_eq!(winners, 1);
    for result in results
        .into_iter()
        .map(Result::unwrap)
        .filter(Result::is_err)
    {
        assert_eq!(result.unwrap_err().code, ErrorCode::QrConflict);
    }
}

#[tokio::test]
async fn two_concurrent_redeems_yield_one_session() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "redeem").await;
    let code = scanned_code(&app, &phone).await;
    qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        poll(&app, &code.id, &code.secret, QrState::Scanned),
        poll(&app, &code.id, &code.secret, QrState::Scanned),
    );
    let with_tokens = [&a, &b].iter().filter(|p| p.tokens.is_some()).count();
    assert_eq!(with_tokens, 1, "{a:?} {b:?}");
    let qr_sessions = sessions::list(&app, &phone)
        .await
        .unwrap()
        .sessions
        .iter()
        .filter(|s| s.method == SignInMethod::Qr)
        .count();
    assert_eq!(qr_sessions, 1);
}

#[tokio::test]
async fn photographed_qr_id_without_the_secret_learns_nothing_and_gets_no_token() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "photo").await;
    let code = scanned_code(&app, &phone).await;
    qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();

    let attacker = device("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0");
    let wrong_secret = qr_login::poll(&app, &code.id, "guessed-secret", None, &attacker)
        .await
        .unwrap_err();
    let unknown_id = qr_login::poll(
        &app,
        &QrId("no-such-code-id-at-all".into()),
        "guessed-secret",
        None,
        &attacker,
    )
    .await
    .unwrap_err();
    assert_eq!(
        wrong_secret, unknown_id,
        "a wrong secret and an unknown id look the same"
    );
    assert_eq!(wrong_secret.code, ErrorCode::NotFound);
    let secret_of_another = qr_login::create(&app, &attacker).await.unwrap().secret;
    let borrowed = qr_login::poll(&app, &code.id, &secret_of_another, None, &attacker)
        .await
        .unwrap_err();
    assert_eq!(borrowed.code, ErrorCode::NotFound);

    // The approval is still waiting for the real desktop, which gets it.
    let answer = poll(&app, &code.id, &code.secret, QrState::Scanned).await;
    assert!(answer.tokens.is_some());
}

#[tokio::test]
async fn poll_times_out_with_the_same_state_when_nothing_happens() {
    let app = super::app_with(|s| s.qr_poll_wait = std::time::Duration::from_secs(1)).await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    let started = Instant::now();
    let answer = poll(&app, &code.id, &code.secret, QrState::Pending).await;
    assert_eq!(answer.state, QrState::Pending);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the poll waited before answering"
    );
}

#[tokio::test]
async fn stopping_the_server_releases_waiting_polls_at_once() {
    let app = super::app_with(|s| s.qr_poll_wait = std::time::Duration::from_secs(20)).await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    let waiter = {
        let (app, code) = (app.clone(), code.clone());
        tokio::spawn(async move { poll(&app, &code.id, &code.secret, QrState::Pending).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    app.qr_events.close();
    let answer = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("released")
        .unwrap();
    assert_eq!(answer.state, QrState::Pending);
}

#[tokio::test]
async fn a_replayed_refresh_token_also_ends_the_sessions_its_session_approved_by_qr() {
    let app = super::app_with(|s| s.refresh_grace = Duration::ZERO).await;
    let (phone_tokens, phone) = signed_up(&app, "qrreuse").await;
    let code = scanned_code(&app, &phone).await;
    qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    let desktop = poll(&app, &code.id, &code.secret, QrState::Scanned)
        .await
        .tokens
        .expect("the desktop's tokens");
    sessions::refresh(&app, &phone_tokens.refresh_token, &device(PHONE_UA))
        .await
        .unwrap();
    let replay = sessions::refresh(&app, &phone_tokens.refresh_token, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(replay.code, ErrorCode::SessionEnded);
    let desktop_now = sessions::authenticate(&app, Some(&desktop.access_token))
        .await
        .unwrap_err();
    assert_eq!(desktop_now.code, ErrorCode::SessionEnded);
}
