//! The authorization request (`GET /oauth/authorize`, RFC 6749 §4.1 with PKCE, RFC 7636, and
//! OpenID Connect's `nonce`, `prompt` and `max_age`), consent, and the single-use code.
//!
//! The person's Sesame session lives in the browser's `localStorage`, so the server cannot see it
//! when the app's link is opened: the page asks `check` after hydration (with the session's
//! token when there is one) what to do, and the person's choice goes to `decide`. Both read the
//! request exactly as the app wrote it (its query string), so the page can change nothing.

use chrono::{Duration, Utc};
use serde::Deserialize;

use super::clients::{Client, Grant};
use super::{has_scope, issuer, parse_scope};
use crate::db::{self, audit::AuditEvent, oauth_codes::NewCode};
use crate::domain::tokens::{hash_secret, random_secret};
use crate::domain::{Device, Principal, Sesame};
use crate::error::AppResult;
use crate::proto::AuthorizeStep;

/// How long a code may wait to be exchanged.
pub const CODE_LIFETIME: Duration = Duration::seconds(60);
/// `prompt=login` is satisfied by a sign-in this recent: the page's own fresh sign-in, made a
/// moment before it asks again. (The request itself is not stored between the page's calls, so
/// "after the request began" is approximated by "just now".)
const FRESH_SIGN_IN: Duration = Duration::seconds(30);

/// The parameters as the app sent them. A repeated one makes the whole request malformed
/// (RFC 6749 §3.1), which `serde_urlencoded` reports for us.
#[derive(Debug, Default, Deserialize)]
struct Params {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
}

/// A request whose client and redirect URI are known good: from here on, problems go back to the
/// app as an error redirect.
struct Valid {
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    nonce: Option<String>,
    code_challenge: String,
    prompt: Vec<String>,
    max_age: Option<i64>,
}

/// What the page should do for this request and this (possibly absent) signed-in person.
pub async fn check(
    app: &Sesame,
    query: &str,
    principal: Option<&Principal>,
) -> AppResult<AuthorizeStep> {
    let request = match validate(app, query).await? {
        Ok(valid) => valid,
        Err(step) => return Ok(step),
    };
    let Some(principal) = principal.filter(|p| fresh_enough(&request, p)) else {
        return Ok(if request.prompt.iter().any(|p| p == "none") {
            error_redirect(
                app,
                &request,
                "login_required",
                "The person is not signed in.",
            )
        } else {
            AuthorizeStep::SignIn
        });
    };
    let granted = db::oauth_consents::find(&app.db, principal.user_id, &request.client.id).await?;
    let covered = granted.is_some_and(|granted| {
        request
            .scopes
            .iter()
            .all(|scope| has_scope(&granted, scope))
    });
    if covered && !request.prompt.iter().any(|p| p == "consent") {
        return issue_code(app, &request, principal).await;
    }
    if request.prompt.iter().any(|p| p == "none") {
        return Ok(error_redirect(
            app,
            &request,
            "consent_required",
            "The person has not allowed this app yet.",
        ));
    }
    Ok(AuthorizeStep::Consent {
        client_id: request.client.id.clone(),
        app: request.client.name.clone(),
        scopes: request.scopes.clone(),
    })
}

/// The person's answer on the consent screen. Allow remembers the consent and sends the app a
/// code; Deny sends it `access_denied`. Either is audited.
pub async fn decide(
    app: &Sesame,
    query: &str,
    principal: &Principal,
    allow: bool,
    device: &Device,
) -> AppResult<AuthorizeStep> {
    let request = match validate(app, query).await? {
        Ok(valid) => valid,
        Err(step) => return Ok(step),
    };
    if !fresh_enough(&request, principal) {
        return Ok(AuthorizeStep::SignIn);
    }
    let event = AuditEvent {
        event: if allow { "app_consent" } else { "app_denied" },
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id),
        ip: &device.ip(),
        user_agent: &device.user_agent,
        detail: &request.client.id,
    };
    db::audit::record(&app.db, event).await?;
    if !allow {
        return Ok(error_redirect(
            app,
            &request,
            "access_denied",
            "The person denied the request.",
        ));
    }
    db::oauth_consents::grant(
        &app.db,
        principal.user_id,
        &request.client.id,
        &request.scopes,
    )
    .await?;
    issue_code(app, &request, principal).await
}

/// Checks the request in the order that decides where errors may go: the client and its exact
/// redirect URI first (errors shown, never redirected, RFC 6749 §4.1.2.1), then everything else
/// (errors redirected to the app).
async fn validate(app: &Sesame, query: &str) -> AppResult<Result<Valid, AuthorizeStep>> {
    let shown = |message: &str| {
        Ok(Err(AuthorizeStep::Error {
            message: message.to_owned(),
        }))
    };
    let Ok(params) = serde_urlencoded::from_str::<Params>(query) else {
        return shown("This sign-in link is malformed (a parameter is repeated or broken).");
    };
    let Some(client_id) = params.client_id.as_deref().filter(|id| !id.is_empty()) else {
        return shown("This sign-in link does not say which app is asking.");
    };
    let Some(client) = db::oauth_clients::find(&app.db, client_id).await? else {
        return shown("This sign-in link names an app that is not registered here.");
    };
    let Some(redirect_uri) = params.redirect_uri.clone().filter(|uri| {
        client
            .redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }) else {
        return shown(
            "This sign-in link would send you to an address the app did not register. It may not come from the app.",
        );
    };
    let mut valid = Valid {
        client,
        redirect_uri,
        state: params.state.clone(),
        scopes: Vec::new(),
        nonce: params.nonce.clone().filter(|n| !n.is_empty()),
        code_challenge: String::new(),
        prompt: params
            .prompt
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        max_age: None,
    };
    let redirect = |valid: &Valid, error: &str, description: &str| {
        Ok(Err(error_redirect(app, valid, error, description)))
    };
    if !valid.client.allows(Grant::AuthorizationCode) {
        return redirect(
            &valid,
            "unauthorized_client",
            "This app may not use the authorization code flow.",
        );
    }
    if params.response_type.as_deref() != Some("code") {
        return redirect(
            &valid,
            "unsupported_response_type",
            "Only response_type=code is supported.",
        );
    }
    let Some(mut scopes) = parse_scope(params.scope.as_deref().unwrap_or("")) else {
        return redirect(&valid, "invalid_scope", "A requested scope is unknown.");
    };
    if !scopes.iter().any(|s| s == "openid") {
        return redirect(&valid, "invalid_scope", "The openid scope is required.");
    }
    // A refresh token is only for a client registered for that grant (OIDC Core §11).
    if !valid.client.allows(Grant::RefreshToken) {
        scopes.retain(|s| s != "offline_access");
    }
    valid.scopes = scopes;
    // PKCE with S256 for every client, public or not (RFC 9700 §2.1.1); `plain` would hand the
    // verifier to whoever reads the authorization request.
    let challenge = params.code_challenge.clone().unwrap_or_default();
    if params.code_challenge_method.as_deref() != Some("S256") || !is_pkce_value(&challenge) {
        return redirect(
            &valid,
            "invalid_request",
            "PKCE is required: code_challenge with code_challenge_method=S256.",
        );
    }
    valid.code_challenge = challenge;
    if valid.prompt.iter().any(|p| p == "none") && valid.prompt.len() > 1 {
        return redirect(
            &valid,
            "invalid_request",
            "prompt=none cannot be combined with other values.",
        );
    }
    if let Some(max_age) = params.max_age.as_deref().filter(|m| !m.is_empty()) {
        match max_age.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => valid.max_age = Some(seconds),
            _ => return redirect(&valid, "invalid_request", "max_age must be whole seconds."),
        }
    }
    Ok(Ok(valid))
}

/// `prompt=login` wants a sign-in made just now; `max_age` one no older than it says.
fn fresh_enough(request: &Valid, principal: &Principal) -> bool {
    let age = Utc::now() - principal.signed_in_at;
    let login_ok = !request.prompt.iter().any(|p| p == "login") || age <= FRESH_SIGN_IN;
    let max_age_ok = request
        .max_age
        .is_none_or(|max| age <= Duration::seconds(max));
    login_ok && max_age_ok
}

/// 43 to 128 of the unreserved characters (RFC 7636 §4.1/§4.2).
pub fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

async fn issue_code(
    app: &Sesame,
    request: &Valid,
    principal: &Principal,
) -> AppResult<AuthorizeStep> {
    let code = random_secret(32);
    let new = NewCode {
        hash: hash_secret(&code),
        client_id: &request.client.id,
        user_id: principal.user_id,
        approved_by: principal.session_id,
        redirect_uri: &request.redirect_uri,
        scope: request.scopes.join(" "),
        nonce: request.nonce.as_deref(),
        code_challenge: &request.code_challenge,
        auth_time: principal.signed_in_at,
        expires_at: Utc::now() + CODE_LIFETIME,
    };
    db::oauth_codes::insert(&app.db, new).await?;
    Ok(AuthorizeStep::Redirect {
        url: redirect_to(app, request, &[("code", &code)]),
    })
}

fn error_redirect(app: &Sesame, request: &Valid, error: &str, description: &str) -> AuthorizeStep {
    AuthorizeStep::Redirect {
        url: redirect_to(
            app,
            request,
            &[("error", error), ("error_description", description)],
        ),
    }
}

/// The registered redirect URI with `params`, the app's `state` and our `iss` (RFC 9207) added
/// to whatever query it already has.
fn redirect_to(app: &Sesame, request: &Valid, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&request.redirect_uri).expect("registered URIs are absolute");
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &issuer(app));
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_values_are_43_to_128_unreserved_characters() {
        assert!(is_pkce_value(&"a".repeat(43)));
        assert!(is_pkce_value(&"A-._~9".repeat(20)));
        assert!(!is_pkce_value(&"a".repeat(42)));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn a_repeated_parameter_makes_the_request_malformed() {
        assert!(serde_urlencoded::from_str::<Params>("client_id=a&client_id=b").is_err());
        let params = serde_urlencoded::from_str::<Params>("client_id=a&state=x%20y").unwrap();
        assert_eq!(params.state.as_deref(), Some("x y"));
    }
}
