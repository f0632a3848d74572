//! Middleware: security headers on every response, and the `/api` conventions (body size limit,
//! JSON errors with the right HTTP status).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;

use crate::error::{AppError, ErrorCode};

/// Pages set their own Content-Security-Policy (with a per-response script nonce, in `ui::shell`);
/// everything else gets one that allows nothing. No response may be framed by another site.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
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

/// For `/api/*`: refuses oversized bodies with 413, treats an empty body as `{}` (so
/// `curl -X POST -H 'Authorization: …' /api/me` works), and gives every error its HTTP status
/// from its code, with `Retry-After` when rate limited.
pub async fn api_guard(State(max_body): State<usize>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > max_body) {
        return error_response(AppError::payload_too_large());
    }
    let (mut parts, body) = request.into_parts();
    let body = if declared == Some(0)
        || (declared.is_none() && !parts.headers.contains_key(header::TRANSFER_ENCODING))
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("2"));
        Body::from("{}")
    } else {
        Body::new(Limited::new(body, max_body))
    };
    parts
        .headers
        .entry(header::CONTENT_TYPE)
        .or_insert(HeaderValue::from_static("application/json"));

    let response = next.run(Request::from_parts(parts, body)).await;
    let mut response = if response.headers().contains_key("serverfnerror") {
        with_status_from_code(response).await
    } else if response.status() == StatusCode::NOT_FOUND {
        error_response(AppError::new(ErrorCode::NotFound, "No such API call."))
    } else {
        response
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Server functions answer every error with 500; the JSON body knows better.
async fn with_status_from_code(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, 64 * 1024).await {
        Ok(bytes) => bytes,
        Err(error) => return error_response(AppError::internal(error)),
    };
    match serde_json::from_slice::<AppError>(&bytes) {
        Ok(error) => error_response(error),
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

pub fn error_response(error: AppError) -> Response {
    let status =
        StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let retry_after = error.retry_after;
    let mut response = (status, axum::Json(error)).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
