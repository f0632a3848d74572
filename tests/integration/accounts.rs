//! Registration, sign-in, refresh rotation with reuse detection, sessions, the audit trail.

use sesame::db;
use sesame::domain::{accounts, sessions};
use sesame::error::ErrorCode;

use super::{DESKTOP_UA, PHONE_UA, app, app_with, device, device_at, signed_up, unique_name};

#[tokio::test]
async fn usernames_are_unique_regardless_of_case() {
    let app = app().await;
    let name = unique_name("Case");
    accounts::register(&app, &name, "password one".into(), None, &device(PHONE_UA))
        .await
        .unwrap();
    let again = accounts::register(
        &app,
        &name.to_uppercase(),
        "password two".into(),
        None,
        &device(PHONE_UA),
    )
    .await;
    assert_eq!(again.unwrap_err().code, ErrorCode::UsernameTaken);
    // And sign-in finds the account whatever the case typed.
    accounts::login(
        &app,
        &name.to_lowercase(),
        "password one".into(),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn password_and_username_rules_are_enforced_on_register() {
    let app = app().await;
    let short = accounts::register(
        &app,
        &unique_name("pw"),
        "7 chars".into(),
        None,
        &device(PHONE_UA),
    )
    .await;
    assert_eq!(short.unwrap_err().code, ErrorCode::InvalidInput);
    let long = accounts::register(
        &app,
        &unique_name("pw"),
        "x".repeat(129),
        None,
        &device(PHONE_UA),
    )
    .await;
    assert_eq!(long.unwrap_err().code, ErrorCode::InvalidInput);
    let longest = accounts::register(
        &app,
        &unique_name("pw"),
        "x".repeat(128),
        None,
        &device(PHONE_UA),
    )
    .await;
    assert!(longest.is_ok());
    let bad_name =
        accounts::register(&app, "a b", "long enough".into(), None, &device(PHONE_UA)).await;
    assert_eq!(bad_name.unwrap_err().code, ErrorCode::InvalidInput);
}

#[tokio::test]
async fn the_whole_128_character_password_counts() {
    let app = app().await;
    let name = unique_name("full");
    let password = format!("{}a", "x".repeat(127));
    accounts::register(&app, &name, password.clone(), None, &device(PHONE_UA))
        .await
        .unwrap();
    let almost = format!("{}b", "x".repeat(127));
    let wrong = accounts::login(&app, &name, almost, &device(PHONE_UA)).await;
    assert_eq!(wrong.unwrap_err().code, ErrorCode::InvalidCredentials);
    accounts::login(&app, &name, password, &device(PHONE_UA))
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_error() {
    let app = app().await;
    let (_, principal) = signed_up(&app, "same").await;
    let wrong = accounts::login(
        &app,
        principal.username.as_str(),
        "wrong password".into(),
        &device(PHONE_UA),
    )
    .await
    .unwrap_err();
    let unknown = accounts::login(
        &app,
        &unique_name("ghost"),
        "wrong password".into(),
        &device(PHONE_UA),
    )
    .await
    .unwrap_err();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.code, ErrorCode::InvalidCredentials);
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_account_and_network_without_locking_out_other_networks() {
    let app = app_with(|s| s.login_failures_per_account = 3).await;
    let (_, principal) = signed_up(&app, "limit").await;
    let attacker = device(DESKTOP_UA);
    for _ in 0..3 {
        let e = accounts::login(
            &app,
            principal.username.as_str(),
            "guess guess".into(),
            &attacker,
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidCredentials);
    }
    let limited = accounts::login(
        &app,
        principal.username.as_str(),
        "correct horse battery".into(),
        &attacker,
    )
    .await
    .unwrap_err();
    assert_eq!(limited.code, ErrorCode::RateLimited);
    assert!(limited.retry_after.unwrap() > 0);
    // The real user, elsewhere, still gets in.
    let home = device_at("198.51.100.9", PHONE_UA);
    accounts::login(
        &app,
        principal.username.as_str(),
        "correct horse battery".into(),
        &home,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn refresh_rotates_the_token_and_keeps_the_session() {
    let app = app().await;
    let (first, principal) = signed_up(&app, "rot").await;
    let second = sessions::refresh(&app, &first.refresh_token, &device(PHONE_UA))
        .await
        .unwrap();
    assert_ne!(first.refresh_token, second.refresh_token);
    let renewed = sessions::authenticate(&app, Some(&second.access_token))
        .await
        .unwrap();
    assert_eq!(renewed.session_id, principal.session_id);
    let third = sessions::refresh(&app, &second.refresh_token, &device(PHONE_UA))
        .await
        .unwrap();
    sessions::authenticate(&app, Some(&third.access_token))
        .await
        .unwrap();
}

#[tokio::test]
async fn reusing_a_rotated_out_refresh_token_revokes_the_session() {
    let app = app_with(|s| s.refresh_grace = std::time::Duration::from_secs_f64(0.0)).await;
    let (first, principal) = signed_up(&app, "reuse").await;
    let second = sessions::refresh(&app, &first.refresh_token, &device(PHONE_UA))
        .await
        .unwrap();
    let replay = sessions::refresh(&app, &first.refresh_token, &device(DESKTOP_UA))
        .await
        .unwrap_err();
    assert_eq!(replay.code, ErrorCode::SessionEnded);
    // The thief's replay ends the session for the legitimate holder too.
    let legit = sessions::refresh(&app, &second.refresh_token, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(legit.code, ErrorCode::SessionEnded);
    assert_eq!(
        sessions::authenticate(&app, Some(&second.access_token))
            .await
            .unwrap_err()
            .code,
        ErrorCode::SessionEnded
    );
    let events = db::audit::events_for_user(&app.db, principal.user_id)
        .await
        .unwrap();
    assert!(events.contains(&"refresh_reuse".to_owned()), "{events:?}");
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_do_not_sign_the_user_out() {
    let app = app().await;
    let (first, _) = signed_up(&app, "tabs").await;
    let phone = device(PHONE_UA);
    let (a, b) = tokio::join!(
        sessions::refresh(&app, &first.refresh_token, &phone),
        sessions::refresh(&app, &first.refresh_token, &phone),
    );
    let (winner, loser) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("expected exactly one winner, got {other:?}"),
    };
    assert_eq!(loser.code, ErrorCode::RefreshRace);
    // The session survives: the winner's tokens (which the other tab reads from storage) work.
    sessions::authenticate(&app, Some(&winner.access_token))
        .await
        .unwrap();
    sessions::refresh(&app, &winner.refresh_token, &device(PHONE_UA))
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_are_listed_with_their_device_and_can_be_ended() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "list").await;
    let desktop_tokens = accounts::login(
        &app,
        phone.username.as_str(),
        "correct horse battery".into(),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap();
    let desktop = sessions::authenticate(&app, Some(&desktop_tokens.access_token))
        .await
        .unwrap();

    let list = sessions::list(&app, &phone).await.unwrap().sessions;
    assert_eq!(list.len(), 2);
    let mine = list.iter().find(|s| s.current).unwrap();
    assert_eq!(
        (mine.id, mine.browser.as_str(), mine.os.as_str()),
        (phone.session_id, "Safari", "iOS")
    );
    let other = list.iter().find(|s| !s.current).unwrap();
    assert_eq!(
        (other.browser.as_str(), other.os.as_str(), other.ip.as_str()),
        ("Chrome", "Windows", "203.0.113.7")
    );

    // Another user cannot end it; its owner can.
    let (_, stranger) = signed_up(&app, "strg").await;
    let foreign = sessions::revoke(&app, &stranger, desktop.session_id, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(foreign.code, ErrorCode::NotFound);
    assert_eq!(
        sessions::revoke_others(&app, &phone, &device(PHONE_UA))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        sessions::authenticate(&app, Some(&desktop_tokens.access_token))
            .await
            .unwrap_err()
            .code,
        ErrorCode::SessionEnded
    );
    assert_eq!(
        sessions::list(&app, &phone).await.unwrap().sessions.len(),
        1
    );

    let events = db::audit::events_for_user(&app.db, phone.user_id)
        .await
        .unwrap();
    for expected in ["register", "login", "revoke_others"] {
        assert!(
            events.contains(&expected.to_owned()),
            "{expected} missing from {events:?}"
        );
    }
}

#[tokio::test]
async fn failed_sign_ins_are_audited() {
    let app = app().await;
    let (_, principal) = signed_up(&app, "audit").await;
    let _ = accounts::login(
        &app,
        principal.username.as_str(),
        "not it at all".into(),
        &device(DESKTOP_UA),
    )
    .await;
    let events = db::audit::events_for_user(&app.db, principal.user_id)
        .await
        .unwrap();
    assert_eq!(events.first().map(String::as_str), Some("login_failed"));
}

#[tokio::test]
async fn a_name_typed_for_no_account_is_not_kept_in_the_audit_trail() {
    let app = app().await;
    // Often a password typed into the name field.
    let typed = unique_name("mypassword");
    let _ = accounts::login(&app, &typed, "whatever it was".into(), &device(DESKTOP_UA)).await;
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE detail LIKE '%' || $1 || '%'")
            .bind(&typed)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn cleanup_deletes_long_ended_sessions_and_keeps_live_ones() {
    let app = app().await;
    let (_, ended) = signed_up(&app, "gone").await;
    let (_, live) = signed_up(&app, "live").await;
    sessions::revoke(&app, &ended, ended.session_id, &device(PHONE_UA))
        .await
        .unwrap();
    sqlx::query("UPDATE sessions SET revoked_at = now() - interval '31 days' WHERE id = $1")
        .bind(ended.session_id)
        .execute(&app.db)
        .await
        .unwrap();
    let cutoff = chrono::Utc::now() - chrono::Duration::days(30);
    assert!(
        db::sessions::delete_ended_before(&app.db, cutoff)
            .await
            .unwrap()
            >= 1
    );
    let remaining: Vec<sesame::proto::SessionId> =
        sqlx::query_scalar("SELECT id FROM sessions WHERE id = ANY($1)")
            .bind(vec![ended.session_id, live.session_id])
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(remaining, vec![live.session_id]);
}

#[tokio::test]
async fn old_audit_events_and_long_spent_refresh_chains_are_trimmed_in_batches() {
    let app = app().await;
    let (tokens, user) = signed_up(&app, "retain").await;
    sqlx::query(
        "INSERT INTO audit_events (event, user_id, at) SELECT 'login', $1, now() - interval '500 days' FROM generate_series(1, 7)",
    )
    .bind(user.user_id)
    .execute(&app.db)
    .await
    .unwrap();
    let mut refresh = tokens.refresh_token;
    for _ in 0..105 {
        refresh = sessions::refresh(&app, &refresh, &device(DESKTOP_UA))
            .await
            .unwrap()
            .refresh_token;
    }
    let cutoff = chrono::Utc::now() - chrono::Duration::days(400);
    let mut deleted = 0;
    loop {
        let batch = db::audit::delete_before(&app.db, cutoff, 3).await.unwrap();
        deleted += batch;
        if batch < 3 {
            break;
        }
    }
    assert!(deleted >= 7, "the old events went ({deleted})");
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE user_id = $1 AND at < now() - interval '400 days'",
    )
    .bind(user.user_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(left, 0);

    while db::sessions::trim_spent_refresh_tokens(&app.db, 100, 2)
        .await
        .unwrap()
        == 2
    {}
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM spent_refresh_tokens WHERE session_id = $1")
            .bind(user.session_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(kept, 100);
    // The newest chain still works, and a recently spent token is still recognised.
    sessions::refresh(&app, &refresh, &device(DESKTOP_UA))
        .await
        .unwrap();
}
