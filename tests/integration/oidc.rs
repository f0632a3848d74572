//! Sesame as an OpenID provider, driven by a real relying party: the `openidconnect` crate over
//! real HTTP against the provider's endpoints, real PostgreSQL behind them. The person's part
//! (the consent page) is played by calling what that page calls.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RevocationUrl,
    Scope, TokenIntrospectionResponse, TokenResponse, reqwest,
};
use sesame::domain::oauth::authorize;
use sesame::domain::oauth::clients::{self, NewClient};
use sesame::domain::{Principal, Sesame, account_security, sessions};
use sesame::proto::AuthorizeStep;

use super::{DESKTOP_UA, app_with, device, signed_up, unique_name};

const REDIRECT: &str = "https://notes.example/callback";

/// The provider every test here talks to: one server with one issuer, on a runtime of its own
/// that outlives each test's. (All instances of one deployment share one issuer; back-channel
/// logouts are signed by whichever instance sends them, so tests of two issuers would get each
/// other's.) Each test gets its own `Sesame` on the same database and issuer for the person's side.
pub async fn provider() -> (Sesame, String) {
    static ISSUER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let issuer = ISSUER
        .get_or_init(|| {
            let (sender, receiver) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let issuer = format!("http://{}", listener.local_addr().unwrap());
                    serve(instance(&issuer).await, listener);
                    sender.send(issuer).unwrap();
                    std::future::pending::<()>().await
                })
            });
            receiver.recv().unwrap()
        })
        .clone();
    (instance(&issuer).await, issuer)
}

pub async fn instance(issuer: &str) -> Sesame {
    let public_url = issuer.to_owned();
    app_with(move |settings| {
        settings.public_url = public_url;
        settings.allow_private_logout_targets = true;
    })
    .await
}

pub fn serve(app: Sesame, listener: tokio::net::TcpListener) {
    tokio::spawn(sesame::domain::oauth::backchannel::run(app.clone()));
    let router: axum::Router = sesame::server::oauth::routes(app);
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
}

pub fn http() -> reqwest::Client {
    reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Rp {
    client_id: String,
    secret: Option<String>,
    metadata: CoreProviderMetadata,
    issuer: String,
}

/// Registers a confidential app (optionally with a back-channel logout URI) and discovers the
/// provider as the app would.
async fn relying_party(app: &Sesame, issuer: &str, logout_uri: Option<String>) -> Rp {
    let client_id = unique_name("notes");
    let registered = clients::register(
        &app.db,
        NewClient {
            id: client_id.clone(),
            name: "Notes".into(),
            redirect_uris: vec![REDIRECT.into()],
            public: false,
            grants: Vec::new(),
            backchannel_logout_uri: logout_uri,
        },
    )
    .await
    .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.into()).unwrap(), &http())
            .await
            .expect("discovery");
    Rp {
        client_id,
        secret: registered.client_secret,
        metadata,
        issuer: issuer.into(),
    }
}

impl Rp {
    fn client(
        &self,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointSet,
        openidconnect::EndpointSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(self.client_id.clone()),
            self.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
        .set_introspection_url(
            IntrospectionUrl::new(format!("{}/oauth/introspect", self.issuer)).unwrap(),
        )
        .set_revocation_url(RevocationUrl::new(format!("{}/oauth/revoke", self.issuer)).unwrap())
    }

    /// The authorization request, up to the person allowing it: returns the redirect's query
    /// parameters, with the PKCE verifier and nonce the app kept.
    async fn authorize(
        &self,
        app: &Sesame,
        person: &Principal,
    ) -> (Vec<(String, String)>, PkceCodeVerifier, Nonce, CsrfToken) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client()
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(challenge)
            .url();
        assert!(
            url.as_str()
                .starts_with(&format!("{}/oauth/authorize?", self.issuer))
        );
        let query = url.query().unwrap();
        let step = match authorize::check(app, query, Some(person)).await.unwrap() {
            AuthorizeStep::Consent {
                app: name, scopes, ..
            } => {
                assert_eq!(name, "Notes");
                assert_eq!(scopes, ["offline_access", "openid", "profile"]);
                authorize::decide(app, query, person, true, &device(DESKTOP_UA))
                    .await
                    .unwrap()
            }
            // Allowed before: straight back with a code.
            redirect @ AuthorizeStep::Redirect { .. } => redirect,
            other => panic!("expected the consent screen, got {other:?}"),
        };
        (redirect_params(step), verifier, nonce, state)
    }

    async fn sign_in(&self, app: &Sesame, person: &Principal) -> (CoreTokenResponse, Nonce) {
        let (params, verifier, nonce, _) = self.authorize(app, person).await;
        let code = param(&params, "code");
        let tokens = self
            .client()
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http())
            .await
            .expect("code exchange");
        (tokens, nonce)
    }

    /// A new person signed in to this app: the person and the app's access token.
    async fn connected(&self, app: &Sesame, prefix: &str) -> (Principal, String) {
        let (_, person) = signed_up(app, prefix).await;
        let (tokens, _) = self.sign_in(app, &person).await;
        (person, tokens.access_token().secret().clone())
    }

    async fn active(&self, token: &str) -> bool {
        let token = AccessToken::new(token.into());
        self.client()
            .introspect(&token)
            .request_async(&http())
            .await
            .expect("introspection")
            .active()
    }
}

fn redirect_params(step: AuthorizeStep) -> Vec<(String, String)> {
    let AuthorizeStep::Redirect { url } = step else {
        panic!("expected a redirect, got {step:?}");
    };
    assert!(url.starts_with(REDIRECT), "{url}");
    url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(params: &[(String, String)], name: &str) -> String {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} in {params:?}"))
}

pub async fn raw_token_request(
    issuer: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, serde_json::Value, Option<String>) {
    let mut request = http().post(format!("{issuer}/oauth/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), challenge)
}

#[tokio::test]
async fn an_app_signs_a_person_in_with_code_and_pkce_and_verifies_the_id_token_from_the_jwks() {
    let (app, issuer) = provider().await;
    let rp = relying_party(&app, &issuer, None).await;
    assert_eq!(rp.metadata.issuer().as_str(), issuer);
    let (_, person) = signed_up(&app, "rp").await;

    let (params, verifier, nonce, state) = rp.authorize(&app, &person).await;
    assert_eq!(param(&params, "state"), *state.secret());
    assert_eq!(param(&params, "iss"), issuer, "RFC 9207");
    let tokens = rp
        .client()
        .exchange_code(AuthorizationCode::new(param(&params, "code")))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .expect("code exchange");

    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&rp.client().id_token_verifier(), &nonce)
        .expect("signature from the JWKS, iss, aud, exp and nonce all check out");
    assert_eq!(claims.subject().as_str(), person.user_id.to_string());
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str().to_owned()),
        Some(person.username.to_string())
    );
    assert!(claims.auth_time().is_some());
    assert!(
        tokens.refresh_token().is_some(),
        "offline_access was granted"
    );
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(15 * 60)));

    let info: openidconnect::core::CoreUserInfoClaims = rp
        .client()
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http())
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), person.user_id.to_string());

    // The app session is a session of the person's, named after the app, approved from the
    // session that allowed it.
    let list = sessions::list(&app, &person).await.unwrap();
    let app_session = list
        .sessions
        .iter()
        .find(|s| s.app.as_deref() == Some("Notes"))
        .expect("the app session is listed");
    assert_eq!(app_session.method.as_str(), "oidc");
    assert!(app_session.approved_from.is_some());

    // Consent is remembered: the next request goes straight back with a code.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = rp
        .client()
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let again = authorize::check(&app, url.query().unwrap(), Some(&person))
        .await
        .unwrap();
    assert!(
        matches!(again, AuthorizeStep::Redirect { ref url } if url.contains("code=")),
        "{again:?}"
    );
}

#[tokio::test]
async fn id_tokens_verify_from_the_jwks_after_a_key_rotation_and_old_keys_stay_published() {
    let (app, issuer) = provider().await;
    let rp = relying_party(&app, &issuer, None).await;
    let (_, person) = signed_up(&app, "rot").await;
    let (before, _) = rp.sign_in(&app, &person).await;
    let old_kid = jsonwebtoken::decode_header(before.id_token().unwrap().to_string())
        .unwrap()
        .kid
        .unwrap();

    let new_kid = sesame::domain::oauth::keys::create_key(&app.db)
        .await
        .unwrap();
    // A relying party that discovered the keys after the rotation.
    let fresh = Rp {
        metadata: CoreProviderMetadata::discover_async(
            IssuerUrl::new(issuer.clone()).unwrap(),
            &http(),
        )
        .await
        .unwrap(),
        client_id: rp.client_id.clone(),
        secret: rp.secret.clone(),
        issuer: issuer.clone(),
    };
    let kids: Vec<String> = fresh
        .metadata
        .jwks()
        .keys()
        .iter()
        .filter_map(|k| openidconnect::JsonWebKey::key_id(k).map(|id| id.as_str().to_owned()))
        .collect();
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );

    // Instances re-read the keys within seconds; the JWKS has the new key from the start.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let (after, nonce) = fresh.sign_in(&app, &person).await;
    let header = jsonwebtoken::decode_header(after.id_token().unwrap().to_string()).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    after
        .id_token()
        .unwrap()
        .claims(&fresh.client().id_token_verifier(), &nonce)
        .expect("the new key verifies from the JWKS alone");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_ends_the_app_session() {
    let (app, issuer) = provider().await;
    let rp = relying_party(&app, &issuer, None).await;
    let (_, person) = signed_up(&app, "rrot").await;
    let (tokens, _) = rp.sign_in(&app, &person).await;
    let first = tokens.refresh_token().unwrap().clone();

    let renewed = rp
        .client()
        .exchange_refresh_token(&first)
        .unwrap()
        .request_async(&http())
        .await
        .expect("refresh");
    let second = renewed.refresh_token().unwrap().clone();
    assert_ne!(second.secret(), first.secret(), "rotated");
    assert!(renewed.id_token().is_some());
    assert!(rp.active(renewed.access_token().secret()).await);

    // Past the grace for a lost answer, the spent token comes back: a stolen copy.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body, _) = raw_token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first.secret()),
        ],
        Some((&rp.client_id, rp.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        !rp.active(renewed.access_token().secret()).await,
        "the session ended"
    );
    assert!(
        !rp.active(second.secret()).await,
        "the thief's newest token died with it"
    );
}

#[tokio::test]
async fn introspection_turns_inactive_at_once_however_the_session_ends() {
    let (app, issuer) = provider().await;
    let rp = relying_party(&app, &issuer, None).await;

    // Signing out the Sesame session that approved the app.
    let (_, person) = signed_up(&app, "intro").await;
    let (app_tokens, _) = rp.sign_in(&app, &person).await;
    let access = app_tokens.access_token().secret().clone();
    let refresh = app_tokens.refresh_token().unwrap().secret().clone();
    assert!(rp.active(&access).await && rp.active(&refresh).await);
    sessions::revoke(&app, &person, person.session_id, &device(DESKTOP_UA))
        .await
        .unwrap();
    assert!(
        !rp.active(&access).await,
        "sign-out ends the app sessions it approved"
    );
    assert!(!rp.active(&refresh).await);

    // Ending the app session itself from the sessions page.
    let (person, access) = rp.connected(&app, "intro2").await;
    let app_session = sessions::list(&app, &person)
        .await
        .unwrap()
        .sessions
        .into_iter()
        .find(|s| s.app.is_some())
        .unwrap();
    sessions::revoke(&app, &person, app_session.id, &device(DESKTOP_UA))
        .await
        .unwrap();
    assert!(!rp.active(&access).await);

    // A password change (which ends the other sessions).
    let (person, access) = rp.connected(&app, "intro3").await;
    account_security::change_password(
        &app,
        &person,
        "correct horse battery".into(),
        "another fine password".into(),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap();
    assert!(!rp.active(&access).await);

    // Account deletion.
    let (person, access) = rp.connected(&app, "intro4").await;
    account_security::delete_account(
        &app,
        &person,
        "correct horse battery".into(),
        &device(DESKTOP_UA),
    )
    .await
    .unwrap();
    assert!(!rp.active(&access).await);

    // Withdrawing consent.
    let (person, access) = rp.connected(&app, "intro5").await;
    sesame::domain::oauth::consents::withdraw(&app, &person, &rp.client_id, &device(DESKTOP_UA))
        .await
        .unwrap();
    assert!(!rp.active(&access).await);
    assert!(
        sesame::domain::oauth::consents::list(&app, &person)
            .await
            .unwrap()
            .apps
            .is_empty()
    );
}

#[tokio::test]
async fn revoking_the_refresh_token_ends_the_app_session() {
    let (app, issuer) = provider().await;
    let rp = relying_party(&app, &issuer, None).await;
    let (_, person) = signed_up(&app, "revk").await;
    let (tokens, _) = rp.sign_in(&app, &person).await;
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    // openidconnect insists on https for revocation, so this one request is made by hand.
    let revoke = |token: String| {
        http()
            .post(format!("{issuer}/oauth/revoke"))
            .basic_auth(&rp.client_id, rp.secret.as_deref())
            .form(&[
                ("token", token),
                ("token_type_hint", "refresh_token".into()),
            ])
            .send()
    };
    assert_eq!(revoke(refresh).await.unwrap().status(), 200);
    assert!(!rp.active(tokens.access_token().secret()).await);
    // Unknown tokens are fine too (RFC 7009 §2.2).
    assert_eq!(revoke("no such token".into()).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_code_used_twice_is_refused_and_ends_what_its_first_use_issued() {
    let (app, issuer) = provider().await;
    let rp = relying_party(&app, &issuer, None).await;
    let (_, person) = signed_up(&app, "replay").await;
    let (params, verifier, _, _) = rp.authorize(&app, &person).await;
    let code = param(&params, "code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.secret().as_str()),
    ];
    let basic = Some((rp.client_id.as_str(), rp.secret.as_deref().unwrap()));
    let (status, first, _) = raw_token_request(&issuer, &form, basic).await;
    assert_eq!(status, 200, "{first}");
    let access = first["access_token"].as_str().unwrap();
    assert!(rp.active(access).await);
    let (status, second, _) = raw_token_request(&issuer, &form, basic).await;
    assert_eq!(
        (status, second["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(!rp.active(access).await, "the first use's session is ended");
}

#[tokio::test]
async fn bad_requests_are_refused_as_the_rfcs_say() {
    let (app, issuer) = provider().await;
    let rp = relying_party(&app, &issuer, None).await;
    let (_, person) = signed_up(&app, "bad").await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let pkce = format!(
        "code_challenge={}&code_challenge_method=S256",
        challenge.as_str()
    );
    let base = format!(
        "response_type=code&client_id={}&scope=openid&state=s1",
        rp.client_id
    );

    // A redirect_uri that was not registered, or an unknown app: an error page, never a redirect.
    let wrong = format!("{base}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&{pkce}");
    assert!(matches!(
        authorize::check(&app, &wrong, Some(&person)).await.unwrap(),
        AuthorizeStep::Error { .. }
    ));
    let unknown =
        format!("response_type=code&client_id=nobody&redirect_uri={REDIRECT}&scope=openid&{pkce}");
    assert!(matches!(
        authorize::check(&app, &unknown, Some(&person))
            .await
            .unwrap(),
        AuthorizeStep::Error { .. }
    ));

    // No PKCE, or `plain`: the app gets invalid_request (with its state and our iss), no code.
    let redirect = format!(
        "&redirect_uri={}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    for query in [
        format!("{base}{redirect}"),
        format!(
            "{base}{redirect}&code_challenge={}&code_challenge_method=plain",
            challenge.as_str()
        ),
    ] {
        let params = redirect_params(authorize::check(&app, &query, Some(&person)).await.unwrap());
        assert_eq!(param(&params, "error"), "invalid_request");
        assert_eq!(param(&params, "state"), "s1");
        assert_eq!(param(&params, "iss"), issuer);
        assert!(!params.iter().any(|(k, _)| k == "code"));
    }

    // prompt=none without a session, or without consent, answers instead of asking.
    let ok = format!("{base}{redirect}&{pkce}&prompt=none");
    let params = redirect_params(authorize::check(&app, &ok, None).await.unwrap());
    assert_eq!(param(&params, "error"), "login_required");
    let params = redirect_params(authorize::check(&app, &ok, Some(&person)).await.unwrap());
    assert_eq!(param(&params, "error"), "consent_required");

    // Deny sends access_denied.
    let ask = format!("{base}{redirect}&{pkce}");
    let params = redirect_params(
        authorize::decide(&app, &ask, &person, false, &device(DESKTOP_UA))
            .await
            .unwrap(),
    );
    assert_eq!(param(&params, "error"), "access_denied");

    // A wrong client secret: 401 invalid_client with a Basic challenge.
    let (status, body, challenge) = raw_token_request(
        &issuer,
        &[("grant_type", "authorization_code"), ("code", "x")],
        Some((&rp.client_id, "not the secret")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(challenge.unwrap().starts_with("Basic"));

    // A wrong verifier burns the code.
    let (params, _, _, _) = rp.authorize(&app, &person).await;
    let wrong_verifier = PkceCodeVerifier::new("x".repeat(50));
    let result = rp
        .client()
        .exchange_code(AuthorizationCode::new(param(&params, "code")))
        .unwrap()
        .set_pkce_verifier(wrong_verifier)
        .request_async(&http())
        .await;
    assert!(result.is_err());

    // An unknown grant type.
    let (status, body, _) = raw_token_request(
        &issuer,
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
        Some((&rp.client_id, rp.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

/// A tiny app-side listener for back-channel logout: records each logout token it receives,
/// answering 500 to the first `fail_first` calls.
async fn logout_listener(fail_first: usize) -> (String, Arc<Mutex<Vec<(Instant, String)>>>) {
    let received: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let calls = Arc::new(Mutex::new(0usize));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let seen = received.clone();
    let router = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(
            move |form: axum::Form<std::collections::HashMap<String, String>>| {
                let (seen, calls) = (seen.clone(), calls.clone());
                async move {
                    let mut count = calls.lock().unwrap();
                    *count += 1;
                    if *count <= fail_first {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    seen.lock().unwrap().push((
                        Instant::now(),
                        form.get("logout_token").cloned().unwrap_or_default(),
                    ));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (uri, received)
}

async fn wait_for_logouts(
    received: &Arc<Mutex<Vec<(Instant, String)>>>,
    n: usize,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    while received.lock().unwrap().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn ending_an_app_session_sends_a_signed_back_channel_logout_within_a_second() {
    let (app, issuer) = provider().await;
    let (uri, received) = logout_listener(0).await;
    let rp = relying_party(&app, &issuer, Some(uri)).await;
    let (_, person) = signed_up(&app, "bcl").await;
    rp.sign_in(&app, &person).await;

    let ended_at = Instant::now();
    sessions::revoke(&app, &person, person.session_id, &device(DESKTOP_UA))
        .await
        .unwrap();
    wait_for_logouts(&received, 1, Duration::from_secs(3)).await;
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one logout call");
    assert!(
        got[0].0 - ended_at < Duration::from_secs(1),
        "within a second: {:?}",
        got[0].0 - ended_at
    );

    // The logout token verifies with the published key and says what the spec requires.
    let token = &got[0].1;
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(format!("{issuer}/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("signed by a published key");
    for key in &jwks.keys {
        let text = serde_json::to_string(key).unwrap();
        assert!(!text.contains("\"d\""), "no private part in the JWKS");
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[&rp.client_id]);
    validation.set_issuer(&[&issuer]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("the logout token verifies")
    .claims;
    assert_eq!(claims["sub"], person.user_id.to_string());
    assert!(claims["sid"].is_string() && claims["jti"].is_string());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
}

#[tokio::test]
async fn a_back_channel_logout_that_failed_is_retried() {
    let (app, issuer) = provider().await;
    let (uri, received) = logout_listener(1).await;
    let rp = relying_party(&app, &issuer, Some(uri)).await;
    let (_, person) = signed_up(&app, "bclr").await;
    rp.sign_in(&app, &person).await;
    sessions::revoke(&app, &person, person.session_id, &device(DESKTOP_UA))
        .await
        .unwrap();
    wait_for_logouts(&received, 1, Duration::from_secs(5)).await;
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "delivered on the retry, once"
    );
}

#[tokio::test]
async fn two_instances_authorize_on_one_exchange_on_the_other_and_send_one_logout() {
    let (first, issuer) = provider().await;
    // A second instance of the same provider: its own hubs, key cache and sender, one database.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second_url = format!("http://{}", listener.local_addr().unwrap());
    let second = instance(&issuer).await;
    serve(second.clone(), listener);

    let (uri, received) = logout_listener(0).await;
    let rp = relying_party(&first, &issuer, Some(uri)).await;
    let (_, person) = signed_up(&first, "two").await;
    let (params, verifier, _, _) = rp.authorize(&first, &person).await;
    let code = param(&params, "code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.secret().as_str()),
    ];
    let (status, body, _) = raw_token_request(
        &second_url,
        &form,
        Some((&rp.client_id, rp.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    sessions::revoke(&second, &person, person.session_id, &device(DESKTOP_UA))
        .await
        .unwrap();
    wait_for_logouts(&received, 1, Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "sent once, by one instance"
    );
}
