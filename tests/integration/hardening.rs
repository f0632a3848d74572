//! What a deliberate attacker tries: replayed refresh tokens, concurrent guessing, look-alike
//! names, sessions minted from a stolen token, piled-up long polls.

use std::time::Duration;

use sesame::db;
use sesame::domain::{Sesame, accounts, qr_login, sessions};
use sesame::error::ErrorCode;
use sesame::proto::{QrCreated, QrPoll, QrState, TokenResponse};

use super::{DESKTOP_UA, PHONE_UA, app, app_with, device, device_at, signed_up, unique_name};

async fn code_of(app: &Sesame, token: &str) -> Option<ErrorCode> {
    sessions::authenticate(app, Some(token))
        .await
        .err()
        .map(|e| e.code)
}

async fn refresh_code(app: &Sesame, refresh_token: &str) -> Option<ErrorCode> {
    sessions::refresh(app, refresh_token, &device(PHONE_UA))
        .await
        .err()
        .map(|e| e.code)
}

/// A code the phone scanned and approved, waiting for the desktop to collect it.
async fn approved_code(app: &Sesame, phone: &sesame::domain::Principal) -> QrCreated {
    let code = qr_login::create(app, &device(DESKTOP_UA)).await.unwrap();
    qr_login::scan(app, phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    qr_login::approve(app, phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap();
    code
}

/// The desktop's poll, having shown "scanned".
async fn desktop_poll(app: &Sesame, code: &QrCreated) -> QrPoll {
    qr_login::poll(
        app,
        &code.id,
        &code.secret,
        Some(QrState::Scanned),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_spent_refresh_token_ends_the_session_however_many_rotations_ago_it_was_spent() {
    let app = app_with(|s| s.refresh_grace = std::time::Duration::from_secs_f64(0.2)).await;
    for rotations in [1, 2, 5] {
        let (first, principal) = signed_up(&app, "chain").await;
        let mut latest: TokenResponse = first.clone();
        for _ in 0..rotations {
            latest = sessions::refresh(&app, &latest.refresh_token, &device(PHONE_UA))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await; // past the grace
        assert_eq!(
            refresh_code(&app, &first.refresh_token).await,
            Some(ErrorCode::SessionEnded),
            "replay after {rotations} rotations"
        );
        // Every token of the session is dead now, the thief's newest ones included.
        assert_eq!(
            code_of(&app, &latest.access_token).await,
            Some(ErrorCode::SessionEnded)
        );
        assert_eq!(
            refresh_code(&app, &latest.refresh_token).await,
            Some(ErrorCode::SessionEnded)
        );
        assert_eq!(
            code_of(&app, &first.access_token).await,
            Some(ErrorCode::SessionEnded)
        );
        let events = db::audit::events_for_user(&app.db, principal.user_id)
            .await
            .unwrap();
        assert_eq!(
            events.iter().filter(|e| *e == "refresh_reuse").count(),
            1,
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn a_loop_of_replays_inside_the_grace_cannot_fill_the_audit_trail() {
    let app = app_with(|s| {
        s.refresh_grace = std::time::Duration::from_secs(60);
        s.writes_per_session_per_minute = 5;
    })
    .await;
    let (first, person) = signed_up(&app, "raceloop").await;
    sessions::refresh(&app, &first.refresh_token, &device(PHONE_UA))
        .await
        .unwrap();
    let mut codes = Vec::new();
    for _ in 0..12 {
        let replay = sessions::refresh(&app, &first.refresh_token, &device(DESKTOP_UA)).await;
        codes.push(replay.unwrap_err().code);
    }
    let raced = codes
        .iter()
        .filter(|c| **c == ErrorCode::RefreshRace)
        .count();
    let limited = codes
        .iter()
        .filter(|c| **c == ErrorCode::RateLimited)
        .count();
    assert_eq!((raced, limited), (5, 7), "{codes:?}");
    let events = db::audit::events_for_user(&app.db, person.user_id)
        .await
        .unwrap();
    let audited = events.iter().filter(|e| *e == "refresh_race").count();
    assert_eq!(audited, 5);
}

#[tokio::test]
async fn a_replay_inside_the_grace_gets_no_tokens_and_the_session_lives_on() {
    let app = app_with(|s| s.refresh_grace = std::time::Duration::from_secs_f64(30.0)).await;
    let (first, person) = signed_up(&app, "grace").await;
    let second = sessions::refresh(&app, &first.refresh_token, &device(PHONE_UA))
        .await
        .unwrap();
    let replay = sessions::refresh(&app, &first.refresh_token, &device(DESKTOP_UA)).await;
    assert_eq!(replay.unwrap_err().code, ErrorCode::RefreshRace);
    let events = db::audit::events_for_user(&app.db, person.user_id)
        .await
        .unwrap();
    assert_eq!(events[0], "refresh_race", "the race is audited");
    assert_eq!(code_of(&app, &second.access_token).await, None);
    sessions::refresh(&app, &second.refresh_token, &device(PHONE_UA))
        .await
        .unwrap();
}

#[tokio::test]
async fn thirty_concurrent_guesses_get_at_most_the_failure_limit_judged() {
    let app = app_with(|s| s.login_failures_per_account = 5).await;
    let (_, victim) = signed_up(&app, "burst").await;
    let attacker = device_at("198.51.100.44", DESKTOP_UA);
    let guesses = (0..30).map(|n| {
        // Every spelling of the handle counts against the one account.
        let name = if n % 2 == 0 {
            victim.username.as_str().to_uppercase()
        } else {
            format!("  {} ", victim.username)
        };
        let (app, attacker) = (app.clone(), attacker.clone());
        async move { accounts::login(&app, &name, format!("guess {n}"), &attacker).await }
    });
    let results = futures::future::join_all(guesses).await;
    let judged = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code == ErrorCode::InvalidCredentials))
        .count();
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code == ErrorCode::RateLimited))
        .count();
    assert_eq!((judged, limited), (5, 25));
}

#[tokio::test]
async fn a_full_hashing_queue_answers_busy_at_once_and_counts_nothing_against_the_person() {
    let app = app_with(|s| {
        s.password_hash_concurrency = 1;
        s.password_hash_queue = 2;
        s.login_failures_per_account = 5;
    })
    .await;
    let (_, victim) = signed_up(&app, "flooded").await;
    let flood = device_at("198.51.100.45", DESKTOP_UA);
    let started = std::time::Instant::now();
    let guesses = (0..20).map(|n| {
        let (app, flood, name) = (app.clone(), flood.clone(), victim.username.to_string());
        async move { accounts::login(&app, &name, format!("guess {n}"), &flood).await }
    });
    let results = futures::future::join_all(guesses).await;
    let busy: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err().filter(|e| e.code == ErrorCode::Busy))
        .collect();
    assert!(busy.len() >= 15, "{} busy of 20", busy.len());
    assert!(busy.iter().all(|e| e.retry_after == Some(1)));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "answered at once"
    );
    // The busy answers were not counted: the person still signs in from that network.
    accounts::login(
        &app,
        victim.username.as_str(),
        "correct horse battery".into(),
        &flood,
    )
    .await
    .expect("not locked out by answers that were never judged");
}

#[tokio::test]
async fn a_success_forgives_earlier_failures() {
    let app = app_with(|s| s.login_failures_per_account = 3).await;
    let (_, user) = signed_up(&app, "forgive").await;
    let here = device(DESKTOP_UA);
    for round in 0..3 {
        for _ in 0..2 {
            let e = accounts::login(&app, user.username.as_str(), "typo typo".into(), &here)
                .await
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidCredentials, "round {round}");
        }
        accounts::login(
            &app,
            user.username.as_str(),
            "correct horse battery".into(),
            &here,
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn limits_are_shared_by_every_instance_on_the_database() {
    let settings = |s: &mut sesame::settings::Settings| s.login_failures_per_account = 4;
    let (one, two) = (app_with(settings).await, app_with(settings).await);
    let (_, victim) = signed_up(&one, "fleet").await;
    let attacker = device_at("198.51.100.45", DESKTOP_UA);
    let mut judged = 0;
    for n in 0..12 {
        let instance = if n % 2 == 0 { &one } else { &two };
        let result = accounts::login(
            instance,
            victim.username.as_str(),
            "guess".into(),
            &attacker,
        )
        .await;
        if result.unwrap_err().code == ErrorCode::InvalidCredentials {
            judged += 1;
        }
    }
    assert_eq!(judged, 4);
}

#[tokio::test]
async fn sign_in_refuses_a_name_that_is_not_a_handle_before_any_work() {
    let app = app().await;
    for name in ["\u{430}lice", "ab", "<script>", "_alice", &"a".repeat(5000)] {
        let e = accounts::login(&app, name, "whatever pw".into(), &device(PHONE_UA))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{name}");
    }
}

#[tokio::test]
async fn a_look_alike_of_an_existing_name_cannot_register() {
    let app = app().await;
    let (_, alice) = signed_up(&app, "alice").await;
    let latin = alice.username.as_str();
    let look_alike = latin.replacen('a', "\u{430}", 1);
    let e = accounts::register(
        &app,
        &look_alike,
        "long enough".into(),
        None,
        &device(PHONE_UA),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("a-z"), "{}", e.message);
}

#[tokio::test]
async fn a_display_name_is_normalized_stored_and_changeable() {
    let app = app().await;
    let name = unique_name("shown");
    let tokens = accounts::register(
        &app,
        &name,
        "correct horse battery".into(),
        Some(" Rene\u{301} 张 "),
        &device(PHONE_UA),
    )
    .await
    .unwrap();
    let me = sessions::authenticate(&app, Some(&tokens.access_token))
        .await
        .unwrap();
    assert_eq!(me.display_name.as_deref(), Some("Ren\u{e9} 张"));
    let bad = accounts::set_display_name(&app, &me, Some("x\u{202e}y")).await;
    assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidInput);
    accounts::set_display_name(&app, &me, None).await.unwrap();
    let me = sessions::authenticate(&app, Some(&tokens.access_token))
        .await
        .unwrap();
    assert_eq!(me.display_name, None);
}

#[tokio::test]
async fn a_qr_session_never_outlives_the_session_that_approved_it() {
    let app = app().await;
    let (phone_tokens, phone) = signed_up(&app, "bound").await;
    // The phone's session ends in an hour (say, a stolen one about to be revoked).
    sqlx::query("UPDATE sessions SET expires_at = now() + interval '1 hour' WHERE id = $1")
        .bind(phone.session_id)
        .execute(&app.db)
        .await
        .unwrap();
    let phone = sessions::authenticate(&app, Some(&phone_tokens.access_token))
        .await
        .unwrap();
    let code = approved_code(&app, &phone).await;
    let poll = desktop_poll(&app, &code).await;
    let desktop_tokens = poll.tokens.unwrap();
    let desktop = sessions::authenticate(&app, Some(&desktop_tokens.access_token))
        .await
        .unwrap();
    let left = desktop.session_expires_at - chrono::Utc::now();
    assert!(left <= chrono::Duration::hours(1), "{left:?}");

    // The sessions list says where it was approved from.
    let list = sessions::list(&app, &desktop).await.unwrap().sessions;
    let mine = list.iter().find(|s| s.current).unwrap();
    assert_eq!(mine.approved_from.as_deref(), Some("Safari / iOS"));

    // Signing the phone out does not sign the laptop out.
    sessions::revoke(&app, &phone, phone.session_id, &device(PHONE_UA))
        .await
        .unwrap();
    assert_eq!(code_of(&app, &desktop_tokens.access_token).await, None);
}

#[tokio::test]
async fn an_approval_whose_approving_session_ended_yields_no_session() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "dead").await;
    let code = approved_code(&app, &phone).await;
    sessions::revoke(&app, &phone, phone.session_id, &device(PHONE_UA))
        .await
        .unwrap();
    let poll = desktop_poll(&app, &code).await;
    assert_eq!(poll.state, QrState::Expired);
    assert!(poll.tokens.is_none());
}

#[tokio::test]
async fn approving_a_code_nobody_scanned_says_to_scan_it_first() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "noscan").await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    let e = qr_login::approve(&app, &phone, &code.id, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::QrConflict);
    assert!(e.message.contains("Scan"), "{}", e.message);
}

#[tokio::test]
async fn a_third_poll_of_one_code_makes_the_oldest_answer_at_once() {
    let app = app_with(|s| s.qr_poll_wait = std::time::Duration::from_secs(20)).await;
    let code = qr_login::create(&app, &device(DESKTOP_UA)).await.unwrap();
    let start = std::time::Instant::now();
    let waiting = |app: Sesame, code: sesame::proto::QrCreated| async move {
        qr_login::poll(&app, &code.id, &code.secret, None, &device(DESKTOP_UA)).await
    };
    let first = tokio::spawn(waiting(app.clone(), code.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = tokio::spawn(waiting(app.clone(), code.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _third = tokio::spawn(waiting(app.clone(), code.clone()));
    let answer = tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("the oldest poll answers at once")
        .unwrap()
        .unwrap();
    assert_eq!(answer.state, QrState::Pending);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!second.is_finished(), "the second poll keeps waiting");
}

#[tokio::test]
async fn the_phone_is_told_whether_the_desktop_is_on_its_network() {
    let app = app().await;
    let (_, phone) = signed_up(&app, "net").await;
    for (desktop_ip, expected) in [("192.0.2.10", true), ("198.51.100.7", false)] {
        let code = qr_login::create(&app, &device_at(desktop_ip, DESKTOP_UA))
            .await
            .unwrap();
        let request = qr_login::scan(&app, &phone, &code.id, &device_at("192.0.2.99", PHONE_UA))
            .await
            .unwrap();
        assert_eq!(request.same_network, expected, "{desktop_ip}");
    }
}

#[tokio::test]
async fn old_usernames_become_handles_and_a_clash_stops_the_migration_with_a_clear_message() {
    use sqlx::{Connection, Executor, PgConnection};
    let url = std::env::var("DATABASE_URL").unwrap();
    let mut admin = PgConnection::connect(&url).await.unwrap();
    let scratch = unique_name("migr");
    admin
        .execute(format!("CREATE DATABASE \"{scratch}\"").as_str())
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    let mut db = PgConnection::connect(&format!("{base}/{scratch}"))
        .await
        .unwrap();
    let migrations: Vec<_> = db::MIGRATOR.iter().collect();
    let (old, new) = migrations.split_at(2);
    for migration in old {
        db.execute(sqlx::raw_sql(&migration.sql)).await.unwrap();
    }
    db.execute(
        "INSERT INTO users (id, username, password_hash) VALUES
             (gen_random_uuid(), 'Alice', 'x'), (gen_random_uuid(), '张三丰', 'x')",
    )
    .await
    .unwrap();
    let mut copy = PgConnection::connect(&format!("{base}/{scratch}"))
        .await
        .unwrap();
    copy.execute("BEGIN").await.unwrap();
    // Rows from before the case-insensitive index existed could clash.
    copy.execute("DROP INDEX users_username_lower_key; INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'ALICE', 'x')")
        .await
        .unwrap();
    let clash = copy
        .execute(sqlx::raw_sql(&new[0].sql))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        clash.contains("alice") && clash.contains("two accounts"),
        "{clash}"
    );
    copy.execute("ROLLBACK").await.unwrap();

    db.execute(sqlx::raw_sql(&new[0].sql)).await.unwrap();
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT username, display_name FROM users ORDER BY display_name NULLS FIRST",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(rows[0], ("alice".to_owned(), None));
    assert!(rows[1].0.starts_with("user-"), "{rows:?}");
    assert_eq!(rows[1].1.as_deref(), Some("张三丰"));
    drop((db, copy));
    admin
        .execute(format!("DROP DATABASE \"{scratch}\" WITH (FORCE)").as_str())
        .await
        .unwrap();
}

/// A limit is a sliding window: the attempts of the window before still count (weighted by how
/// much of it the last window's length covers), so a boundary is no fresh budget.
#[tokio::test]
async fn a_window_boundary_is_no_fresh_budget() {
    use sesame::domain::rate_limit::{Limit, count};
    let app = app().await;
    let day = Duration::from_secs(86_400);
    let limit = Limit {
        name: "boundary_test",
        max: 10,
        window: day,
    };
    let key = unique_name("net");
    // The previous day's window was spent a million times over: at any moment of today but its
    // last second, that still weighs more than the limit.
    sqlx::query(
        "INSERT INTO rate_limits (key, window_start, window_end, count)
         SELECT $1, s - interval '1 day', s, 1000000
         FROM (SELECT to_timestamp(floor(extract(epoch FROM now()) / 86400) * 86400) AS s) t",
    )
    .bind(limit.key(&key))
    .execute(&app.db)
    .await
    .unwrap();
    let refused = count(&app.db, &[(&limit, &key)]).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::RateLimited);
    // Another key has its whole budget.
    let fresh = unique_name("net");
    for _ in 0..10 {
        count(&app.db, &[(&limit, &fresh)]).await.unwrap();
    }
    assert_eq!(
        count(&app.db, &[(&limit, &fresh)]).await.unwrap_err().code,
        ErrorCode::RateLimited
    );
}

#[tokio::test]
async fn guesses_from_many_networks_slow_the_account_down_and_its_owner_is_told() {
    let app = app_with(|s| {
        s.sign_ins_per_account_per_hour = 8;
        s.sign_ins_per_known_browser_per_hour = 2;
        s.slow_sign_in_interval = Duration::from_secs(30);
    })
    .await;
    let (registered, victim) = signed_up(&app, "spread").await;
    let cursor = sesame::domain::notices::poll(&app, &victim, None, &device(PHONE_UA))
        .await
        .unwrap()
        .cursor;
    // Every guess from a network of its own, each far under its network's limits.
    let guess = |n: u32| {
        let app = app.clone();
        let name = victim.username.to_string();
        async move {
            let network = device_at(&format!("198.18.7.{n}"), DESKTOP_UA);
            accounts::login(&app, &name, format!("guess {n}"), &network).await
        }
    };
    for n in 1..=8 {
        let refused = guess(n).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidCredentials, "guess {n}");
    }

    // The owner's devices hear of it once the hour's failures reach 5 (and 5 more later).
    let told = sesame::domain::notices::poll(&app, &victim, Some(cursor), &device(PHONE_UA))
        .await
        .unwrap();
    let counts: Vec<_> = told.notices.iter().map(|n| n.failed_attempts).collect();
    assert_eq!(counts, [Some(5)], "{told:?}");
    let latest = &told.notices[0];
    assert_eq!(latest.kind, sesame::proto::NoticeKind::FailedSignIns);
    assert_eq!(
        (latest.session_id, latest.ip.as_str()),
        (None, "198.18.7.5")
    );

    // Over the budget the account slows down instead of locking: one attempt per interval,
    // from any network, the owner's included.
    assert_eq!(
        guess(9).await.unwrap_err().code,
        ErrorCode::InvalidCredentials
    );
    let slowed = guess(10).await.unwrap_err();
    assert_eq!(slowed.code, ErrorCode::RateLimited);
    assert!(
        slowed.retry_after.is_some_and(|s| (1..=30).contains(&s)),
        "{slowed:?}"
    );
    let mut owner = device_at("192.0.2.7", PHONE_UA);
    let password = || "correct horse battery".to_string();
    let owner_try = accounts::login(&app, victim.username.as_str(), password(), &owner).await;
    assert_eq!(owner_try.unwrap_err().code, ErrorCode::RateLimited);
    // Unless the owner's browser is known to the account (it signed in there before): then it is
    // neither slowed nor counted, and gets a fresh token for next time.
    owner.known_browser = registered.known_browser.clone();
    assert!(
        owner.known_browser.is_some(),
        "registering makes the browser known"
    );
    let tokens = accounts::login(&app, victim.username.as_str(), password(), &owner)
        .await
        .expect("a known browser is not slowed");
    assert!(tokens.known_browser.is_some());
    // Its own budget (2 here) spent, even a known browser slows down: a stolen token buys little.
    accounts::login(&app, victim.username.as_str(), password(), &owner)
        .await
        .expect("the second sign-in of the known browser's budget");
    let spent = accounts::login(&app, victim.username.as_str(), password(), &owner).await;
    assert_eq!(spent.unwrap_err().code, ErrorCode::RateLimited);
    // Another account's token does not count.
    let (other, _) = signed_up(&app, "otheracct").await;
    let mut pretender = device_at("192.0.2.8", PHONE_UA);
    pretender.known_browser = other.known_browser;
    let refused = accounts::login(&app, victim.username.as_str(), "a guess".into(), &pretender);
    assert_eq!(refused.await.unwrap_err().code, ErrorCode::RateLimited);
    // Other accounts are not slowed by it.
    let (_, bystander) = signed_up(&app, "bystander").await;
    accounts::login(
        &app,
        bystander.username.as_str(),
        "correct horse battery".into(),
        &owner,
    )
    .await
    .expect("another account signs in as ever");
}

#[tokio::test]
async fn a_network_over_its_limit_writes_no_further_counters() {
    let app = app_with(|s| s.login_attempts_per_ip_per_minute = 3).await;
    let network = device_at("198.51.100.77", DESKTOP_UA);
    for n in 0..3 {
        let name = unique_name("nobody");
        let e = accounts::login(&app, &name, format!("guess {n}"), &network).await;
        assert_eq!(e.unwrap_err().code, ErrorCode::InvalidCredentials);
    }
    // Refused by the network's limit: names never seen before leave no counter behind.
    let names: Vec<String> = (0..5).map(|_| unique_name("nobody")).collect();
    for name in &names {
        let e = accounts::login(&app, name, "guess".into(), &network).await;
        assert_eq!(e.unwrap_err().code, ErrorCode::RateLimited);
    }
    let patterns: Vec<String> = names.iter().map(|n| format!("%{n}%")).collect();
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM rate_limits WHERE key LIKE ANY($1)")
        .bind(&patterns)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(kept, 0);
}
