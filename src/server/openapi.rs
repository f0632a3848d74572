//! The OpenAPI 3.1 document of the HTTP API, served at `GET /api/openapi.json`, built once at
//! start-up. What a type can say comes from the type: each call's path and answer from its server
//! function (`ServerFn::PATH`, `ServerFn::Output`), the body from the function's argument struct
//! and the answers from `proto`, all through `utoipa::ToSchema` derives. What no type says is in
//! the table below: who may call, and which error codes each call can answer. `scripts/test-api`
//! holds the running server to this document (schemathesis), so the two cannot drift apart.

use std::collections::BTreeMap;

use leptos::server_fn::ServerFn;
use serde_json::json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HeaderBuilder, InfoBuilder, OpenApiBuilder, PathsBuilder,
    Ref, RefOr, Required, ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use crate::api::{account, apps, device, passkeys, qr, security, sessions};
use crate::domain::oauth::device::DeviceAuthorization;
use crate::domain::oauth::grants::Tokens;
use crate::domain::oauth::inspect::{Introspection, UserInfo};
use crate::error::{AppError, ErrorCode, ErrorCode::*};

pub const PATH: &str = "/api/openapi.json";

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq)]
enum Access {
    /// No token.
    Anyone,
    /// A token is optional; one that is sent is checked like any other.
    AnyoneOrSignedIn,
    /// A valid access token (`Authorization: Bearer`).
    SignedIn,
    /// A valid access token, and the call counts against the session's and the account's write
    /// limits (429 `rate_limited` beyond them).
    Writer,
    /// An `/oauth` endpoint: the client authenticates (HTTP Basic, or its id and secret in the form).
    Client,
    /// An `/oauth` endpoint that takes an access token an app was given.
    AppToken,
}

/// Every `/api` call can answer these: a body that is not JSON for the call, too large or of
/// another type; a bug; the database unreachable.
const EVERY_API_CALL: &[ErrorCode] = &[
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
    Internal,
    Unavailable,
];
/// What a token can be refused with.
const TOKEN_REFUSED: &[ErrorCode] = &[Unauthorized, TokenExpired, SessionEnded];

/// One operation, gathered before it becomes OpenAPI's.
struct Call {
    path: String,
    method: HttpMethod,
    summary: &'static str,
    access: Access,
    /// The content type and schema of the body, if it takes one.
    request: Option<(&'static str, RefOr<Schema>)>,
    /// The schema of the 200 answer; `None` for an empty one.
    answer: Option<RefOr<Schema>>,
    errors: Vec<ErrorCode>,
}

/// The document, as JSON text.
pub fn document(public_url: &str) -> String {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    let mut paths: BTreeMap<String, PathItem> = BTreeMap::new();
    for call in calls(&mut schemas) {
        let (path, method) = (call.path.clone(), call.method.clone());
        let operation = operation(call);
        match paths.get_mut(&path) {
            Some(item) => item.merge_operations(PathItem::new(method, operation)),
            None => {
                paths.insert(path, PathItem::new(method, operation));
            }
        }
    }
    schemas.push((AppError::name().into(), AppError::schema()));
    AppError::schemas(&mut schemas);
    schemas.push(("OAuthError".into(), oauth_error_schema()));
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);

    let mut builder = PathsBuilder::new();
    for (path, item) in paths {
        builder = builder.path(path, item);
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The access token of `/api/login`, `/api/register`, `/api/refresh` or an approved QR code. It lasts 15 minutes; renew it with `/api/refresh`.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "client",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An app's client id and secret (RFC 6749 §2.3.1), each form-encoded first. Or send `client_id` and `client_secret` in the form; a public client sends `client_id` alone.",
                    ))
                    .build(),
            ),
        )
        .build();
    let document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Sesame")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Sign in with a password, a passkey or a QR code scanned by a signed-in phone; and an OpenID provider for other apps. Every `/api` call is `POST` with a JSON body (an empty body counts as `{}`), and every error is `{\"code\", \"message\"}` with the HTTP status of its code (`retry_after` and `Retry-After` when it says when to try again). Clients match on `code`; new codes and new fields may appear, and should be ignored.",
                ))
                .build(),
        )
        .servers(Some([Server::new(public_url)]))
        .paths(builder.build())
        .components(Some(components))
        .build();
    document
        .to_json()
        .expect("an OpenAPI document is plain data")
}

/// The table: every call, who may make it, and the error codes beyond `EVERY_API_CALL` (and a
/// refused token, for calls that need one) that it can answer.
fn calls(schemas: &mut Vec<(String, RefOr<Schema>)>) -> Vec<Call> {
    use Access::*;
    let mut calls = vec![
        // Accounts and tokens
        api::<account::Register>(
            schemas,
            "Create an account and sign in",
            Anyone,
            &[UsernameTaken, RateLimited, Busy],
        ),
        api::<account::Login>(
            schemas,
            "Sign in with a username and password",
            Anyone,
            &[InvalidCredentials, RateLimited, Busy],
        ),
        api::<account::Refresh>(
            schemas,
            "Renew the tokens with the refresh token",
            Anyone,
            &[Unauthorized, SessionEnded, RefreshRace, RateLimited],
        ),
        // Served by a plain handler that reads no body (`http::current_account`).
        Call {
            request: None,
            ..api::<account::CurrentAccount>(schemas, "Who the token belongs to", SignedIn, &[])
        },
        api::<account::SetDisplayName>(schemas, "Set or clear the display name", Writer, &[]),
        api::<account::Logout>(schemas, "Sign out this session", SignedIn, &[NotFound]),
        api::<security::ChangePassword>(
            schemas,
            "Change the password (ends every other session)",
            Writer,
            &[InvalidCredentials, RateLimited, Busy],
        ),
        api::<security::DeleteAccount>(
            schemas,
            "Delete the account",
            Writer,
            &[InvalidCredentials, RateLimited, Busy],
        ),
        // Sessions and activity
        api::<sessions::ListSessions>(schemas, "The account's signed-in sessions", SignedIn, &[]),
        api::<sessions::RevokeSession>(schemas, "End one session", Writer, &[NotFound]),
        api::<sessions::RevokeOtherSessions>(schemas, "End every other session", Writer, &[]),
        api::<security::PollNotices>(
            schemas,
            "Wait for new sign-ins to the account (long poll)",
            SignedIn,
            &[RateLimited],
        ),
        api::<security::Activity>(
            schemas,
            "The account's recent security activity",
            SignedIn,
            &[],
        ),
        // QR sign-in
        api::<qr::CreateQr>(
            schemas,
            "Create a QR sign-in code (desktop)",
            Anyone,
            &[RateLimited],
        ),
        api::<qr::PollQr>(
            schemas,
            "Wait for the QR code's next state (desktop long poll)",
            Anyone,
            &[NotFound, RateLimited],
        ),
        api::<qr::ScanQr>(
            schemas,
            "See who asks to sign in with this code (phone)",
            Writer,
            &[NotFound, QrConflict, QrExpired],
        ),
        api::<qr::ApproveQr>(
            schemas,
            "Approve the QR sign-in (phone)",
            Writer,
            &[VerificationRequired, NotFound, QrConflict, QrExpired],
        ),
        api::<qr::DenyQr>(
            schemas,
            "Deny the QR sign-in (phone)",
            Writer,
            &[NotFound, QrConflict, QrExpired],
        ),
        // Passkeys
        api::<passkeys::RegisterStart>(schemas, "Start adding a passkey", Writer, &[NotFound]),
        api::<passkeys::RegisterFinish>(
            schemas,
            "Finish adding a passkey",
            Writer,
            &[PasskeyRejected, NotFound, CeremonyExpired],
        ),
        api::<passkeys::ListPasskeys>(schemas, "The account's passkeys", SignedIn, &[]),
        api::<passkeys::RenamePasskey>(schemas, "Rename a passkey", Writer, &[NotFound]),
        api::<passkeys::DeletePasskey>(schemas, "Remove a passkey", Writer, &[NotFound]),
        api::<passkeys::LoginStart>(
            schemas,
            "Start signing in with a passkey",
            Anyone,
            &[NotFound, RateLimited],
        ),
        api::<passkeys::LoginFinish>(
            schemas,
            "Finish signing in with a passkey",
            Anyone,
            &[PasskeyRejected, NotFound, CeremonyExpired],
        ),
        api::<passkeys::VerifyStart>(
            schemas,
            "Start confirming an approval with a passkey",
            Writer,
            &[NotFound],
        ),
        api::<passkeys::VerifyFinish>(
            schemas,
            "Finish confirming with a passkey: a proof for one approval",
            Writer,
            &[PasskeyRejected, NotFound, CeremonyExpired],
        ),
        api::<passkeys::VerifyPassword>(
            schemas,
            "Confirm with the password instead: a proof for one approval",
            Writer,
            &[InvalidCredentials, RateLimited, Busy],
        ),
        api::<passkeys::SetVerification>(
            schemas,
            "Turn \"approvals confirmed with a passkey\" on or off",
            Writer,
            &[VerificationRequired],
        ),
        // Apps (OpenID Connect) and devices
        api::<apps::Authorize>(
            schemas,
            "Check an app's sign-in request (the consent page)",
            AnyoneOrSignedIn,
            &[],
        ),
        api::<apps::Decide>(
            schemas,
            "Allow or deny an app's sign-in request",
            Writer,
            &[VerificationRequired],
        ),
        api::<apps::ListApps>(schemas, "The apps the account has allowed", SignedIn, &[]),
        api::<apps::WithdrawApp>(schemas, "Withdraw an app's access", Writer, &[NotFound]),
        api::<device::LookupDevice>(
            schemas,
            "See which device asks, by its user code",
            SignedIn,
            &[NotFound, RateLimited],
        ),
        api::<device::ApproveDevice>(
            schemas,
            "Approve a device's sign-in",
            Writer,
            &[VerificationRequired, NotFound],
        ),
        api::<device::DenyDevice>(schemas, "Deny a device's sign-in", Writer, &[NotFound]),
    ];
    calls.extend(oauth_calls(schemas));
    calls
}

/// A server function as an operation: `POST` with its arguments as a JSON object.
fn api<F>(
    schemas: &mut Vec<(String, RefOr<Schema>)>,
    summary: &'static str,
    access: Access,
    errors: &[ErrorCode],
) -> Call
where
    F: ServerFn + ToSchema,
    F::Output: ToSchema,
{
    F::schemas(schemas);
    F::Output::schemas(schemas);
    schemas.push((F::Output::name().into(), F::Output::schema()));
    let mut all = EVERY_API_CALL.to_vec();
    if matches!(
        access,
        Access::SignedIn | Access::Writer | Access::AnyoneOrSignedIn
    ) {
        all.extend_from_slice(TOKEN_REFUSED);
    }
    if access == Access::Writer {
        all.push(RateLimited);
    }
    all.extend_from_slice(errors);
    Call {
        path: F::PATH.to_owned(),
        method: HttpMethod::Post,
        summary,
        access,
        request: Some(("application/json", F::schema())),
        answer: Some(Ref::from_schema_name(F::Output::name()).into()),
        errors: all,
    }
}

/// The OpenID provider's endpoints (RFC 6749, 7009, 7662, 8628; OpenID Connect Core and
/// Discovery). Their bodies are forms, and their errors `{"error", "error_description"}`.
fn oauth_calls(schemas: &mut Vec<(String, RefOr<Schema>)>) -> Vec<Call> {
    use Access::*;
    for (name, schema) in [
        (Tokens::name(), Tokens::schema()),
        (UserInfo::name(), UserInfo::schema()),
        (Introspection::name(), Introspection::schema()),
        (DeviceAuthorization::name(), DeviceAuthorization::schema()),
    ] {
        schemas.push((name.into(), schema));
    }
    Introspection::schemas(schemas);
    let reference = |name: &str| -> RefOr<Schema> { Ref::from_schema_name(name).into() };
    let form = |fields: &[(&str, bool, &str)]| -> Option<(&'static str, RefOr<Schema>)> {
        let mut object = ObjectBuilder::new().schema_type(Type::Object);
        for (name, required, description) in fields {
            object = object.property(
                *name,
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(*description)),
            );
            if *required {
                object = object.required(*name);
            }
        }
        Some(("application/x-www-form-urlencoded", object.into()))
    };
    let client = [
        (
            "client_id",
            false,
            "With client_secret_post, or a public client.",
        ),
        ("client_secret", false, "With client_secret_post."),
    ];
    let with_client = |fields: &[(&'static str, bool, &'static str)]| {
        let mut all = fields.to_vec();
        all.extend_from_slice(&client);
        form(&all)
    };
    let outage = [Internal, Unavailable];
    let client_refused = [InvalidRequest, InvalidClient];
    let call =
        |path: &str, method, summary, access, request, answer, errors: Vec<ErrorCode>| Call {
            path: path.to_owned(),
            method,
            summary,
            access,
            request,
            answer,
            errors,
        };
    vec![
        call(
            "/.well-known/openid-configuration",
            HttpMethod::Get,
            "OpenID Connect Discovery: where the endpoints are and what they support",
            Anyone,
            None,
            Some(discovery_schema()),
            vec![],
        ),
        call(
            "/oauth/jwks",
            HttpMethod::Get,
            "The public keys ID tokens are signed with (JWK Set)",
            Anyone,
            None,
            Some(jwks_schema()),
            outage.to_vec(),
        ),
        call(
            "/oauth/token",
            HttpMethod::Post,
            "Exchange a code, refresh token or device code for tokens",
            Client,
            with_client(&[
                (
                    "grant_type",
                    true,
                    "`authorization_code`, `refresh_token` or `urn:ietf:params:oauth:grant-type:device_code`.",
                ),
                ("code", false, "With authorization_code."),
                (
                    "redirect_uri",
                    false,
                    "With authorization_code: the one the code was asked with.",
                ),
                (
                    "code_verifier",
                    false,
                    "With authorization_code: PKCE (RFC 7636).",
                ),
                ("refresh_token", false, "With refresh_token."),
                ("device_code", false, "With the device grant."),
            ]),
            Some(reference("Tokens")),
            [
                &client_refused[..],
                &[
                    InvalidGrant,
                    UnauthorizedClient,
                    UnsupportedGrantType,
                    AuthorizationPending,
                    SlowDown,
                    AccessDenied,
                    ExpiredToken,
                ],
                &outage,
            ]
            .concat(),
        ),
        call(
            "/oauth/userinfo",
            HttpMethod::Get,
            "Who the app's access token belongs to",
            AppToken,
            None,
            Some(reference("UserInfo")),
            [&[Unauthorized][..], &outage].concat(),
        ),
        call(
            "/oauth/userinfo",
            HttpMethod::Post,
            "Who the app's access token belongs to",
            AppToken,
            None,
            Some(reference("UserInfo")),
            [&[Unauthorized][..], &outage].concat(),
        ),
        call(
            "/oauth/introspect",
            HttpMethod::Post,
            "Whether an access token is active, and whose (RFC 7662; confidential clients)",
            Client,
            with_client(&[
                ("token", true, "The access token."),
                ("token_type_hint", false, "Ignored."),
            ]),
            Some(reference("Introspection")),
            [&client_refused[..], &outage].concat(),
        ),
        call(
            "/oauth/revoke",
            HttpMethod::Post,
            "Revoke a refresh or access token (RFC 7009): 200 whether or not it was known",
            Client,
            with_client(&[
                ("token", true, "The token."),
                (
                    "token_type_hint",
                    false,
                    "`refresh_token` or `access_token`.",
                ),
            ]),
            None,
            [&client_refused[..], &outage].concat(),
        ),
        call(
            "/oauth/device_authorization",
            HttpMethod::Post,
            "Start a device sign-in: a code for the person, one for the device to poll with (RFC 8628)",
            Client,
            with_client(&[(
                "scope",
                false,
                "Space-separated: `openid`, `profile`, `offline_access`.",
            )]),
            Some(reference("DeviceAuthorization")),
            [
                &client_refused[..],
                &[UnauthorizedClient, InvalidScope, RateLimited],
                &outage,
            ]
            .concat(),
        ),
    ]
}

fn operation(call: Call) -> utoipa::openapi::path::Operation {
    // The OpenID provider's endpoints answer errors as RFC 6749 says, not as `/api` does.
    let oauth = !call.path.starts_with("/api/");
    // `/api/qr/poll` → "qr"; the OpenID endpoints together.
    let tag = match call.path.strip_prefix("/api/") {
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None => "oauth",
    };
    let mut operation = OperationBuilder::new()
        .tag(tag)
        .summary(Some(call.summary))
        .operation_id(Some(operation_id(&call.path, &call.method)));
    if let Some((content_type, schema)) = call.request {
        let example = (content_type == "application/json")
            .then(|| example_for(&call.path))
            .flatten();
        // A call whose fields are all optional takes an empty body too (it counts as `{}`).
        let has_required_field = serde_json::to_value(&schema)
            .is_ok_and(|schema| schema["required"].as_array().is_some_and(|r| !r.is_empty()));
        let required = if has_required_field {
            Required::True
        } else {
            Required::False
        };
        operation = operation.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(required))
                .content(
                    content_type,
                    ContentBuilder::new()
                        .schema(Some(schema))
                        .example(example)
                        .build(),
                )
                .build(),
        ));
    }
    operation = match call.access {
        Access::Anyone => operation,
        Access::AnyoneOrSignedIn => operation
            .security(SecurityRequirement::default())
            .security(SecurityRequirement::new("bearer", Vec::<String>::new())),
        Access::SignedIn | Access::Writer | Access::AppToken => {
            operation.security(SecurityRequirement::new("bearer", Vec::<String>::new()))
        }
        Access::Client => operation
            .security(SecurityRequirement::new("client", Vec::<String>::new()))
            .security(SecurityRequirement::default()),
    };
    let ok = ResponseBuilder::new().description("Done.");
    let ok = match call.answer {
        Some(schema) => ok.content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        ),
        None => ok,
    };
    operation = operation.response("200", ok.build());
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in call.errors {
        let codes = by_status.entry(code.status()).or_default();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    for (status, codes) in by_status {
        operation = operation.response(status.to_string(), error_response(status, &codes, oauth));
    }
    operation.build()
}

/// An error answer: the error object with `code` (or OAuth's `error`) narrowed to the codes this
/// operation can answer with this status, and the headers that come with the status.
fn error_response(status: u16, codes: &[ErrorCode], oauth: bool) -> utoipa::openapi::Response {
    let names: Vec<String> = codes
        .iter()
        .map(|code| {
            if oauth {
                code.oauth_name().to_owned()
            } else {
                serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            }
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (base, field) = if oauth {
        ("OAuthError", "error")
    } else {
        ("AppError", "code")
    };
    let schema = AllOfBuilder::new().item(Ref::from_schema_name(base)).item(
        ObjectBuilder::new().schema_type(Type::Object).property(
            field,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names.clone())),
        ),
    );
    let example = if oauth {
        json!({"error": names[0], "error_description": "What went wrong, for a person."})
    } else {
        json!({"code": names[0], "message": "What went wrong, fit to show a person."})
    };
    let mut response = ResponseBuilder::new()
        .description(format!("`{}`", names.join("`, `")))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(schema))
                .example(Some(example))
                .build(),
        );
    if status == 401 {
        response = response.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(String::schema())
                .description(Some(
                    "`Bearer` (RFC 6750 §3), or `Basic` for a refused app client.",
                ))
                .build(),
        );
    }
    if status == 429 || status == 503 {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(u64::schema())
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    response.build()
}

/// `/api/qr/poll` + POST → `qr_poll_post`.
fn operation_id(path: &str, method: &HttpMethod) -> String {
    let name: String = path
        .trim_start_matches("/api/")
        .trim_start_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match method {
        HttpMethod::Get => format!("{name}_get"),
        _ => name,
    }
}

/// Examples for the calls people try first.
fn example_for(path: &str) -> Option<serde_json::Value> {
    Some(match path {
        "/api/register" => {
            json!({"username": "alice", "password": "correct horse battery staple", "display_name": "Alice Liddell"})
        }
        "/api/login" => json!({"username": "alice", "password": "correct horse battery staple"}),
        "/api/refresh" => json!({"refresh_token": "eyJhbGciOiJIUzI1NiJ9…"}),
        "/api/qr/poll" => {
            json!({"id": "k3J9xQ2mVb", "secret": "the secret /api/qr/create answered", "seen": "pending"})
        }
        "/api/qr/approve" => json!({"id": "k3J9xQ2mVb"}),
        "/api/notices/poll" => json!({"after": 41}),
        _ => return None,
    })
}

fn oauth_error_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("An `/oauth` error (RFC 6749 §5.2)."))
        .property("error", String::schema())
        .required("error")
        .property("error_description", String::schema())
        .into()
}

fn discovery_schema() -> RefOr<Schema> {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for name in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
        "device_authorization_endpoint",
    ] {
        object = object.property(name, String::schema()).required(name);
    }
    object.into()
}

fn jwks_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "keys",
            utoipa::openapi::schema::ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::Object)),
        )
        .required("keys")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed() -> serde_json::Value {
        serde_json::from_str(&document("https://sesame.example")).unwrap()
    }

    #[test]
    fn every_server_function_is_an_operation() {
        let document = parsed();
        let mut missing = Vec::new();
        for (path, _) in leptos::server_fn::axum::server_fn_paths() {
            if document["paths"][path]["post"].is_null() {
                missing.push(path);
            }
        }
        assert!(
            missing.is_empty(),
            "not in the OpenAPI document: {missing:?}"
        );
        assert_eq!(document["openapi"], "3.1.0");
        assert!(document["paths"]["/oauth/token"]["post"].is_object());
    }

    #[test]
    fn every_reference_names_a_schema_in_the_document() {
        let document = parsed();
        let text = document.to_string();
        let schemas = &document["components"]["schemas"];
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &reference[..reference.find('"').unwrap()];
            assert!(schemas[name].is_object(), "no schema {name}");
        }
    }

    /// Found by schemathesis: a waiting poll answers `{"state":"pending"}`, with no token fields.
    #[test]
    fn a_qr_poll_needs_only_its_state() {
        let document = parsed();
        assert_eq!(
            document["components"]["schemas"]["QrPoll"]["required"],
            json!(["state"])
        );
    }

    /// Found by schemathesis: an empty body counts as `{}`, so a call whose fields are all
    /// optional does not require one; `/api/me` reads none at all.
    #[test]
    fn only_calls_with_a_required_field_require_a_body() {
        let document = parsed();
        let body = |path: &str| document["paths"][path]["post"]["requestBody"].clone();
        assert_eq!(body("/api/login")["required"], true);
        assert_eq!(body("/api/qr/create")["required"], false);
        assert_eq!(body("/api/notices/poll")["required"], false);
        assert!(body("/api/me").is_null());
    }

    #[test]
    fn errors_are_listed_under_their_own_status_with_their_headers() {
        let document = parsed();
        let approve = &document["paths"]["/api/qr/approve"]["post"]["responses"];
        let codes = |status: &str| {
            approve[status]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"].clone()
        };
        assert_eq!(codes("403"), json!(["verification_required"]));
        assert_eq!(
            codes("401"),
            json!(["session_ended", "token_expired", "unauthorized"])
        );
        assert!(approve["401"]["headers"]["WWW-Authenticate"].is_object());
        assert!(approve["429"]["headers"]["Retry-After"].is_object());
        // `/oauth` errors are RFC 6749's names, on every OpenID endpoint.
        let jwks = &document["paths"]["/oauth/jwks"]["get"]["responses"];
        assert!(
            jwks["503"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]
                .is_object()
        );
        let token = &document["paths"]["/oauth/token"]["post"]["responses"];
        assert!(token["400"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("authorization_pending")));
    }
}
