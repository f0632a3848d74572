//! The yardstick for `scripts/bench`: a bare axum + sqlx handler doing the same work as Sesame's
//! `POST /api/me` (verify an HS256 token, one query joining the session and its user, answer JSON)
//! and nothing else: no middleware, no logging, no metrics. Reads DATABASE_URL, BARE_ADDR and the
//! JWT key from SESAME_JWT_SECRET or the file named by SESAME_JWT_SECRET_FILE.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Deserialize)]
struct Claims {
    sub: Uuid,
    jti: Uuid,
}

#[derive(Clone)]
struct Bare {
    db: PgPool,
    key: DecodingKey,
    validation: Validation,
}

async fn me(
    State(bare): State<Bare>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let claims = jsonwebtoken::decode::<Claims>(token, &bare.key, &bare.validation)
        .map_err(|_| StatusCode::UNAUTHORIZED)?
        .claims;
    let row: Option<(Uuid, String, chrono::DateTime<chrono::Utc>, Uuid, String)> = sqlx::query_as(
        "SELECT u.id, u.username, u.created_at, s.id, s.method
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()",
    )
    .bind(claims.jti)
    .bind(claims.sub)
    .fetch_optional(&bare.db)
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let (id, username, created_at, session_id, method) = row.ok_or(StatusCode::UNAUTHORIZED)?;
    Ok(Json(serde_json::json!({
        "id": id, "username": username, "created_at": created_at,
        "session_id": session_id, "method": method,
    })))
}

#[tokio::main]
async fn main() {
    let secret = std::env::var("SESAME_JWT_SECRET").unwrap_or_else(|_| {
        let file = std::env::var("SESAME_JWT_SECRET_FILE").expect("SESAME_JWT_SECRET_FILE");
        std::fs::read_to_string(file)
            .expect("read the JWT key")
            .trim()
            .to_owned()
    });
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["sesame"]);
    validation.set_issuer(&["sesame"]);
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&std::env::var("DATABASE_URL").expect("DATABASE_URL"))
        .await
        .expect("connect");
    let bare = Bare {
        db,
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    };
    let app = axum::Router::new()
        .route("/api/me", axum::routing::post(me))
        .with_state(bare);
    let addr = std::env::var("BARE_ADDR").unwrap_or_else(|_| "127.0.0.1:3201".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
