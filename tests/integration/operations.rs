//! What operators rely on: an unreachable database is an outage (503 `unavailable`), never a
//! bug (500) or a signal to sign people out (401).

use std::time::Duration;

use sesame::domain::{Sesame, accounts, qr_login, sessions};
use sesame::error::ErrorCode;
use sesame::settings::Settings;

use super::{DESKTOP_UA, PHONE_UA, app, device, signed_up};

/// An app whose database is a port nobody listens on, as during a restart.
fn app_without_database() -> Sesame {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/gone")
        .unwrap();
    Sesame::new(pool, Settings::default(), &[42u8; 32]).unwrap()
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_not_internal_and_not_unauthorized() {
    // A token that was good a moment ago, from the real database.
    let (tokens, _) = signed_up(&app().await, "outage").await;
    let down = app_without_database();
    let me = sessions::authenticate(&down, Some(&tokens.access_token))
        .await
        .unwrap_err();
    assert_eq!(me.code, ErrorCode::Unavailable);
    assert_eq!(me.retry_after, Some(1));
    let refresh = sessions::refresh(&down, &tokens.refresh_token, &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(refresh.code, ErrorCode::Unavailable);
    let login = accounts::login(&down, "someone", "password1".into(), &device(PHONE_UA))
        .await
        .unwrap_err();
    assert_eq!(login.code, ErrorCode::Unavailable);
    let qr = qr_login::create(&down, &device(DESKTOP_UA))
        .await
        .unwrap_err();
    assert_eq!(qr.code, ErrorCode::Unavailable);
    assert_eq!(ErrorCode::Unavailable.status(), 503);
}
