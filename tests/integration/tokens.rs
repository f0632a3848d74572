//! Access-token verification: every way a token can be wrong is refused, and the session row is
//! checked on every request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sesame::domain::sessions;
use sesame::domain::tokens::AccessClaims;
use sesame::error::ErrorCode;
use uuid::Uuid;

use super::{PHONE_UA, app, device, signed_up};

fn claims_of(app: &sesame::domain::Sesame, token: &str) -> AccessClaims {
    app.tokens.verify_access(token).unwrap()
}

async fn refused(app: &sesame::domain::Sesame, token: &str) -> ErrorCode {
    sessions::authenticate(app, Some(token))
        .await
        .unwrap_err()
        .code
}

#[tokio::test]
async fn issued_token_authenticates_as_its_user_and_session() {
    let app = app().await;
    let (tokens, principal) = signed_up(&app, "tok").await;
    let claims = claims_of(&app, &tokens.access_token);
    assert_eq!(
        (claims.sub, claims.jti),
        (principal.user_id, principal.session_id)
    );
    assert_eq!(
        (
            claims.iss.as_str(),
            claims.aud.as_str(),
            claims.typ.as_str()
        ),
        ("sesame", "sesame", "access")
    );
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 15 * 60);
}

#[tokio::test]
async fn missing_or_garbage_tokens_are_unauthorized() {
    let app = app().await;
    assert_eq!(
        sessions::authenticate(&app, None).await.unwrap_err().code,
        ErrorCode::Unauthorized
    );
    assert_eq!(refused(&app, "not.a.jwt").await, ErrorCode::Unauthorized);
    assert_eq!(refused(&app, "").await, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn tampered_signature_is_rejected() {
    let app = app().await;
    let (tokens, _) = signed_up(&app, "sig").await;
    let mut forged = tokens.access_token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(refused(&app, &forged).await, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn token_signed_with_another_key_is_rejected() {
    let app = app().await;
    let (tokens, _) = signed_up(&app, "key").await;
    let claims = claims_of(&app, &tokens.access_token);
    let other = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&[1u8; 32]),
    )
    .unwrap();
    assert_eq!(refused(&app, &other).await, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn algorithms_other_than_hs256_are_rejected_even_with_the_right_key() {
    let app = app().await;
    let (tokens, _) = signed_up(&app, "alg").await;
    let claims = claims_of(&app, &tokens.access_token);
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(&[42u8; 32]),
    )
    .unwrap();
    assert_eq!(refused(&app, &hs512).await, ErrorCode::Unauthorized);

    // alg "none": a valid payload with no signature at all.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    assert_eq!(
        refused(&app, &format!("{header}.{payload}.")).await,
        ErrorCode::Unauthorized
    );
}

#[tokio::test]
async fn expired_token_is_rejected_as_expired() {
    let app = app().await;
    let (tokens, _) = signed_up(&app, "exp").await;
    let mut claims = claims_of(&app, &tokens.access_token);
    claims.iat = Utc::now().timestamp() - 1000;
    claims.exp = Utc::now().timestamp() - 1;
    assert_eq!(
        refused(&app, &app.tokens.sign(&claims).unwrap()).await,
        ErrorCode::TokenExpired
    );
}

#[tokio::test]
async fn wrong_audience_issuer_or_type_is_rejected() {
    let app = app().await;
    let (tokens, _) = signed_up(&app, "aud").await;
    let good = claims_of(&app, &tokens.access_token);
    let variants: [fn(&mut AccessClaims); 3] = [
        |c| c.aud = "another-app".into(),
        |c| c.iss = "someone-else".into(),
        |c| c.typ = "refresh".into(),
    ];
    for change in variants {
        let mut claims = good.clone();
        change(&mut claims);
        assert_eq!(
            refused(&app, &app.tokens.sign(&claims).unwrap()).await,
            ErrorCode::Unauthorized
        );
    }
    // The untouched claims, re-signed, still pass: the failures above come from the changes.
    sessions::authenticate(&app, Some(&app.tokens.sign(&good).unwrap()))
        .await
        .unwrap();
}

#[tokio::test]
async fn token_naming_an_unknown_session_is_rejected() {
    let app = app().await;
    let (tokens, _) = signed_up(&app, "unk").await;
    let mut claims = claims_of(&app, &tokens.access_token);
    claims.jti = sesame::proto::SessionId(Uuid::new_v4());
    assert_eq!(
        refused(&app, &app.tokens.sign(&claims).unwrap()).await,
        ErrorCode::SessionEnded
    );
}

#[tokio::test]
async fn token_of_a_revoked_session_is_rejected_at_once() {
    let app = app().await;
    let (tokens, principal) = signed_up(&app, "rev").await;
    sessions::revoke(&app, &principal, principal.session_id, &device(PHONE_UA))
        .await
        .unwrap();
    assert_eq!(
        refused(&app, &tokens.access_token).await,
        ErrorCode::SessionEnded
    );
}

#[tokio::test]
async fn token_of_a_session_past_its_absolute_lifetime_is_rejected() {
    let app = app().await;
    let (tokens, principal) = signed_up(&app, "old").await;
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(principal.session_id)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        refused(&app, &tokens.access_token).await,
        ErrorCode::SessionEnded
    );
    let refreshed = sessions::refresh(&app, &tokens.refresh_token, &device(PHONE_UA)).await;
    assert_eq!(refreshed.unwrap_err().code, ErrorCode::SessionEnded);
}

#[tokio::test]
async fn refresh_and_access_tokens_cannot_stand_in_for_each_other() {
    let app = app().await;
    let (tokens, _) = signed_up(&app, "swap").await;
    assert_eq!(
        refused(&app, &tokens.refresh_token).await,
        ErrorCode::Unauthorized
    );
    let as_refresh = sessions::refresh(&app, &tokens.access_token, &device(PHONE_UA)).await;
    assert_eq!(as_refresh.unwrap_err().code, ErrorCode::Unauthorized);
}
