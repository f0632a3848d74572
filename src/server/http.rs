//! Middleware: security headers on every response, and the `/api` conventions (body size limit,
//! JSON errors with the right HTTP status, never compressed).

use std::net::SocketAddr;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::qr::PollQr;
use crate::api::security::PollNotices;
use crate::domain::Sesame;
use crate::error::{AppError, ErrorCode};

/// Pages set their own Content-Security-Policy (with a per-response script nonce, in `ui::shell`);
/// everything else gets one that allows nothing. No response may be framed by another site.
pub fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // QR pages carry the code's id in their path: never leak it to other sites.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    response
}

/// For `/api/*`, before any work is done or counted:
/// - a body must be JSON (`Content-Type: application/json`), else 415: a form or `text/plain`
///   POST from another site needs no CORS preflight, and must not reach sign-in at all;
/// - a body over the limit is 413, whether announced by Content-Length or sent chunked;
/// - an empty body counts as `{}` (so `curl -X POST -H 'Authorization: …' /api/me` works), and
///   any other must be a JSON object;
///
/// Afterwards every error gets its HTTP status from its code, `Retry-After` when it says when to
/// retry, and `WWW-Authenticate` with every 401 (RFC 6750 §3).
pub async fn api_guard(
    State(max_body): State<usize>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if carries_tokens(path) {
        // The OpenID endpoints are form-encoded (RFC 6749) and answer for themselves; they only
        // share the rule that what carries tokens is never compressed.
        request.headers_mut().remove(header::ACCEPT_ENCODING);
        return next.run(request).await;
    }
    // The API's description is a public document, fetched with GET from anywhere.
    if !path.starts_with("/api/") || path == super::openapi::PATH {
        return next.run(request).await;
    }
    let sent_token = request.headers().contains_key(header::AUTHORIZATION);
    let error = |error: AppError| error.into_http_response(sent_token);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let has_body = declared.map_or(
        request.headers().contains_key(header::TRANSFER_ENCODING),
        |length| length > 0,
    );
    // An empty body counts as `{}` for API clients (`curl -X POST`), but not for a request that
    // names another type, nor for a browser's request from another site: `fetch(…, {method:
    // "POST", mode: "no-cors"})` without a body needs no preflight, and would otherwise create
    // QR codes (and count limits) from a visitor's address.
    let needs_json = has_body
        || request.headers().contains_key(header::CONTENT_TYPE)
        || from_another_site(request.headers());
    if needs_json && !is_json(request.headers()) {
        return error(AppError::unsupported_media_type());
    }
    if declared.is_some_and(|length| length > max_body) {
        return error(AppError::payload_too_large());
    }
    let (mut parts, body) = request.into_parts();
    // API answers carry tokens: compressing them next to attacker-chosen input would let the
    // lengths leak the secrets (BREACH). Without this header nothing compresses them.
    parts.headers.remove(header::ACCEPT_ENCODING);
    let body = if has_body {
        match to_bytes(body, max_body).await {
            Ok(bytes) if bytes.is_empty() => axum::body::Bytes::from_static(b"{}"),
            Ok(bytes) => bytes,
            Err(_) => return error(AppError::payload_too_large()),
        }
    } else {
        axum::body::Bytes::from_static(b"{}")
    };
    // Every call takes a JSON object. serde would also read a struct from an array of its fields
    // in order (`["alice", "secret"]`, or `[]` for a call without arguments): not the documented
    // API, so refused here, once for all calls (found by schemathesis).
    if !body.trim_ascii_start().starts_with(b"{") {
        return error(AppError::invalid_input(
            "The request body must be a JSON object.",
        ));
    }
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // An API client asking for HTML would get a redirect to its Referer (leptos' form support).
    parts
        .headers
        .insert(header::ACCEPT, HeaderValue::from_static("application/json"));

    let mut response = next.run(Request::from_parts(parts, Body::from(body))).await;
    // Errors of calls already carry their status and are JSON (`AppError::ser`, or a plain
    // handler's `into_http_response`); what is left is an unknown path, which would otherwise get
    // the page router's HTML 404.
    if response.status() == StatusCode::NOT_FOUND && !is_json(response.headers()) {
        response = error(AppError::new(ErrorCode::NotFound, "No such API call."));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The OpenID provider's endpoints, whose answers carry tokens (the authorize page does not).
fn carries_tokens(path: &str) -> bool {
    path.starts_with("/oauth/") && path != "/oauth/authorize"
}

/// A browser's request made by a page of another site: its `Sec-Fetch-Site` says so, or (older
/// browsers) its `Origin` names another host than the one it was sent to.
fn from_another_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return true;
    }
    let origin_host = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|origin| origin.split_once("://").map_or(origin, |(_, host)| host));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    matches!((origin_host, host), (Some(origin), Some(host)) if !origin.eq_ignore_ascii_case(host))
}

/// `application/json`, with any parameters (`; charset=utf-8`), in any case.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// `POST /api/me` as a plain axum handler: the token check every page load makes, and what
/// `scripts/bench` measures against a bare handler. It answers exactly as the server function
/// `api::account::current_account` would (same JSON, statuses and headers; `api_guard` still
/// applies), minus leptos' per-call reactive owner and context setup.
pub async fn current_account(app: Sesame, headers: HeaderMap) -> Response {
    let sent_token = headers.contains_key(header::AUTHORIZATION);
    let principal = crate::domain::sessions::authenticate(&app, crate::api::bearer(&headers)).await;
    json_answer(principal.map(crate::api::account::me), sent_token)
}

/// `POST /api/qr/poll` as a plain axum handler, answering exactly as the server function
/// `api::qr::poll_qr` would (same JSON in and out, statuses and headers). A waiting desktop holds
/// its request for up to 25 s, thousands at a time, so it should hold little: no leptos owner,
/// contexts or copy of the request head, and neither headers nor body once read (README,
/// "What a waiting poll costs").
pub async fn poll_qr(
    app: Sesame,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sent_token = headers.contains_key(header::AUTHORIZATION);
    let client = crate::api::device(&app, &headers, peer);
    drop(headers);
    let answer = async {
        let PollQr { id, secret, seen } = arguments(body)?;
        crate::domain::qr_login::poll(&app, &id, &secret, seen, &client).await
    };
    json_answer(answer.await, sent_token)
}

/// `POST /api/notices/poll` as a plain axum handler, answering exactly as the server function
/// `api::security::poll_notices` would (see `poll_qr`).
pub async fn poll_notices(
    app: Sesame,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sent_token = headers.contains_key(header::AUTHORIZATION);
    let client = crate::api::device(&app, &headers, peer);
    let bearer = crate::api::bearer(&headers).map(str::to_owned);
    drop(headers);
    let answer = async {
        let PollNotices { after } = arguments(body)?;
        crate::domain::notices::poll_for_token(&app, bearer.as_deref(), after, &client).await
    };
    json_answer(answer.await, sent_token)
}

/// A server function's arguments read from the body, with the error leptos would give.
fn arguments<T: serde::de::DeserializeOwned>(body: Bytes) -> Result<T, AppError> {
    serde_json::from_slice(&body).map_err(|error| {
        AppError::invalid_input(format!(
            "The request body is not valid JSON for this call: {error}"
        ))
    })
}

fn json_answer(answer: Result<impl serde::Serialize, AppError>, sent_token: bool) -> Response {
    match answer {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(error) => error.into_http_response(sent_token),
    }
}

/// `/readyz`: 200 when the database answers within a second and has every migration this build
/// knows; 503 otherwise, and from the moment a shutdown begins (so balancers stop sending work).
pub async fn readiness(app: Sesame) -> (StatusCode, &'static str) {
    if app.qr_events.is_closing() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let check = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&app.db);
    match tokio::time::timeout(std::time::Duration::from_secs(1), check).await {
        Ok(Ok(applied)) if applied as usize >= crate::db::MIGRATOR.iter().count() => {
            (StatusCode::OK, "ready")
        }
        Ok(Ok(_)) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable"),
    }
}

/// `GET /api/openapi.json`: the document built at start-up (`openapi::document`), readable from
/// any origin (tools such as Swagger UI fetch it from their own).
pub async fn openapi_document(document: axum::body::Bytes) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        document,
    )
        .into_response()
}
