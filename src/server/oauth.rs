//! The OpenID provider's HTTP endpoints, as the apps call them: discovery, JWKS, token,
//! userinfo, introspection and revocation. Thin: parse the form (RFC 6749 §3.2:
//! `application/x-www-form-urlencoded`, no parameter twice), authenticate the client, call
//! `domain::oauth`, answer JSON that is never cached or compressed. `/oauth/authorize` is a page
//! (`ui::pages::authorize`), since the person's session is only known in the browser.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tower_http::cors::{Any, CorsLayer};

use crate::domain::Sesame;
use crate::domain::oauth::clients::DEVICE_CODE_GRANT;
use crate::domain::oauth::clients::{self, ClientCredentials};
use crate::domain::oauth::{SCOPES, device, grants, inspect, issuer};
use crate::error::{AppError, AppResult};

/// The endpoints, each with the app in its closure; `S` is whatever state the outer router has.
pub fn routes<S: Clone + Send + Sync + 'static>(app: Sesame) -> Router<S> {
    // Browser apps (single-page apps with PKCE) call these from their own origin. No cookies are
    // involved anywhere, so any origin may.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    let limit = DefaultBodyLimit::max(app.settings.max_body_bytes);
    let (a, b, c, d, e, f, g, h) = (
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app,
    );
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || discovery(a.clone())).layer(cors.clone()),
        )
        .route(
            "/oauth/jwks",
            get(move || jwks(b.clone())).layer(cors.clone()),
        )
        .route(
            "/oauth/token",
            post(move |peer, headers, body| token(c.clone(), peer, headers, body))
                .layer(cors.clone()),
        )
        .route(
            "/oauth/userinfo",
            get(move |headers| userinfo(d.clone(), headers))
                .post(move |headers| userinfo(e.clone(), headers))
                .layer(cors),
        )
        .route(
            "/oauth/introspect",
            post(move |headers, body| introspect(f.clone(), headers, body)),
        )
        .route(
            "/oauth/revoke",
            post(move |headers, body| revoke(g.clone(), headers, body)),
        )
        .route(
            "/oauth/device_authorization",
            post(move |peer, headers, body| device_authorization(h.clone(), peer, headers, body)),
        )
        .layer(limit)
}

async fn discovery(app: Sesame) -> Response {
    let issuer = issuer(&app);
    let document = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "jwks_uri": format!("{issuer}/oauth/jwks"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "device_authorization_endpoint": format!("{issuer}/oauth/device_authorization"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "preferred_username", "name"],
        "subject_types_supported": ["public"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    json(StatusCode::OK, document)
}

async fn jwks(app: Sesame) -> Response {
    match app.oauth_keys.jwks().await {
        Ok(keys) => {
            let mut response = json(StatusCode::OK, keys);
            // `keys rotate` makes a new key current within seconds: a client that kept the
            // JWKS for minutes could not verify what it signs. Caches must ask again.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => error.into_oauth_response(),
    }
}

async fn token(
    app: Sesame,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let (form, client) = client_request(&app, &headers, &body).await?;
        let device = crate::api::device(&app, &headers, peer);
        let param = |name: &str| form.get(name).map(String::as_str);
        match param("grant_type") {
            Some("authorization_code") => {
                let code = param("code").ok_or_else(|| missing("code"))?;
                grants::exchange_code(
                    &app,
                    &client,
                    code,
                    param("redirect_uri"),
                    param("code_verifier"),
                    &device,
                )
                .await
            }
            Some("refresh_token") => {
                let token = param("refresh_token").ok_or_else(|| missing("refresh_token"))?;
                grants::refresh(&app, &client, token, &device).await
            }
            Some(DEVICE_CODE_GRANT) => {
                let code = param("device_code").ok_or_else(|| missing("device_code"))?;
                device::poll(&app, &client, code, &device).await
            }
            Some(_) => Err(AppError::new(
                crate::error::ErrorCode::UnsupportedGrantType,
                "This grant type is not supported.",
            )),
            None => Err(missing("grant_type")),
        }
    };
    reply(answer.await)
}

/// RFC 8628 §3.1–3.2: a code pair for a device, which then polls `/oauth/token`.
async fn device_authorization(
    app: Sesame,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let (form, client) = client_request(&app, &headers, &body).await?;
        let device = crate::api::device(&app, &headers, peer);
        device::start(
            &app,
            &client,
            form.get("scope").map(String::as_str),
            &device,
        )
        .await
    };
    reply(answer.await)
}

async fn userinfo(app: Sesame, headers: HeaderMap) -> Response {
    reply(inspect::userinfo(&app, crate::api::bearer(&headers)).await)
}

async fn introspect(app: Sesame, headers: HeaderMap, body: Bytes) -> Response {
    let answer = async {
        let (form, client) = client_request(&app, &headers, &body).await?;
        // Public clients cannot keep a secret, so they cannot prove who is asking.
        if client.is_public() {
            return Err(AppError::invalid_client());
        }
        let token = form.get("token").ok_or_else(|| missing("token"))?;
        inspect::introspect(&app, token).await
    };
    reply(answer.await)
}

async fn revoke(app: Sesame, headers: HeaderMap, body: Bytes) -> Response {
    let answer = async {
        let (form, client) = client_request(&app, &headers, &body).await?;
        let token = form.get("token").ok_or_else(|| missing("token"))?;
        inspect::revoke(&app, &client, token).await
    };
    match answer.await {
        // RFC 7009 §2.2: 200 whether or not the token was known.
        Ok(()) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        )
            .into_response(),
        Err(error) => error.into_oauth_response(),
    }
}

fn missing(name: &str) -> AppError {
    AppError::invalid_request(format!("The {name} parameter is missing."))
}

/// The form body: `application/x-www-form-urlencoded`, each parameter at most once; a parameter
/// sent without a value counts as not sent (RFC 6749 §3.1).
fn form(headers: &HeaderMap, body: &[u8]) -> AppResult<HashMap<String, String>> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(AppError::invalid_request(
            "Send the parameters as application/x-www-form-urlencoded.",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::invalid_request("The form body is malformed."))?;
    let mut form = HashMap::new();
    for (name, value) in pairs {
        if value.is_empty() {
            continue;
        }
        if form.insert(name.clone(), value).is_some() {
            return Err(AppError::invalid_request(format!(
                "The {name} parameter is repeated."
            )));
        }
    }
    Ok(form)
}

/// The form of a request made by a client, and that client, authenticated.
async fn client_request(
    app: &Sesame,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<(HashMap<String, String>, clients::Client)> {
    let form = form(headers, body)?;
    let client = client_of(app, headers, &form).await?;
    Ok((form, client))
}

/// Authenticates the client: HTTP Basic (`client_secret_basic`, id and secret form-encoded
/// first, RFC 6749 §2.3.1), or `client_id` and `client_secret` in the body (`client_secret_post`),
/// or `client_id` alone for a public client. Using two methods at once is refused.
async fn client_of(
    app: &Sesame,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> AppResult<clients::Client> {
    let mut credentials = ClientCredentials {
        id: form.get("client_id").cloned(),
        secret: form.get("client_secret").cloned(),
    };
    if let Some(basic) = basic_credentials(headers)? {
        if credentials.secret.is_some() {
            return Err(AppError::invalid_request(
                "Use one client authentication method, not two.",
            ));
        }
        if credentials.id.as_ref().is_some_and(|id| *id != basic.0) {
            return Err(AppError::invalid_client());
        }
        credentials = ClientCredentials {
            id: Some(basic.0),
            secret: Some(basic.1),
        };
    }
    clients::authenticate(&app.db, &credentials).await
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, if sent.
fn basic_credentials(headers: &HeaderMap) -> AppResult<Option<(String, String)>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AppError::invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(AppError::invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AppError::invalid_client());
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(AppError::invalid_client)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(AppError::invalid_client)?;
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .ok_or_else(AppError::invalid_client)
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// The answer of an endpoint: its JSON, or the error as RFC 6749 §5.2 says it.
fn reply(result: AppResult<impl serde::Serialize>) -> Response {
    match result {
        Ok(body) => json(StatusCode::OK, body),
        Err(error) => error.into_oauth_response(),
    }
}

/// A JSON answer that no cache may keep (RFC 6749 §5.1).
fn json(status: StatusCode, body: impl serde::Serialize) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    // RFC 6749 §5.1 asks for it too, for HTTP/1.0 caches.
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), HeaderValue::from_str(value).unwrap()))
            .collect()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        // "my client" : "s:e%cret" as RFC 6749 §2.3.1 encodes them.
        let encoded = STANDARD.encode("my+client:s%3Ae%25cret");
        let got = basic_credentials(&headers(&[(
            header::AUTHORIZATION,
            &format!("Basic {encoded}"),
        )]))
        .unwrap();
        assert_eq!(got, Some(("my client".into(), "s:e%cret".into())));
    }

    #[test]
    fn a_repeated_parameter_or_another_encoding_is_invalid_request() {
        let form_type = [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")];
        let repeated = form(&headers(&form_type), b"code=a&code=b").unwrap_err();
        assert_eq!(repeated.code, crate::error::ErrorCode::InvalidRequest);
        let json_body = form(
            &headers(&[(header::CONTENT_TYPE, "application/json")]),
            b"{}",
        );
        assert!(json_body.is_err());
        let ok = form(&headers(&form_type), b"code=a&state=").unwrap();
        assert_eq!(ok.get("code").map(String::as_str), Some("a"));
        assert!(
            !ok.contains_key("state"),
            "an empty parameter counts as absent"
        );
    }
}
