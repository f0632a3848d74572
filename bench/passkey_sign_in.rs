//! Passkey sign-in, timed on the server: `CONCURRENCY` software authenticators (the integration
//! tests' passkey-rs one) sign in over real HTTP for `SECONDS`, each sign-in being
//! `/api/passkeys/login/start`, the authenticator's signature, and `/api/passkeys/login/finish`.
//! Prints sign-ins per second and the latency of the two server calls together (the signature,
//! made in this process, is left out). Run by `scripts/bench` against its release server.
//!
//! Usage: passkey_sign_in BASE_URL (e.g. http://127.0.0.1:3200); passkeys are used at
//! http://localhost:PORT, which is where the server's relying party is for a loopback address.

#[path = "../tests/integration/soft_authenticator.rs"]
mod soft_authenticator;

use std::time::{Duration, Instant};

use passkey_client::DefaultClientData;
use passkey_types::webauthn::{
    CredentialCreationOptions, CredentialRequestOptions, PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
};
use serde_json::{Value, json};
use soft_authenticator::SoftAuthenticator;
use url::Url;

const CONCURRENCY: usize = 8;
const SECONDS: u64 = 10;

async fn post(http: &reqwest::Client, url: String, bearer: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.expect("the server answers");
    let status = answer.status();
    let body: Value = answer.json().await.expect("a JSON answer");
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// A fresh account with one passkey in `key`.
async fn enrol(http: &reqwest::Client, base: &str, origin: &Url, n: usize) -> SoftAuthenticator {
    let mut key = soft_authenticator::authenticator();
    let name = format!("pk_bench_{}_{n}", std::process::id());
    let tokens = post(
        http,
        format!("{base}/api/register"),
        None,
        json!({"username": name, "password": "bench password"}),
    )
    .await;
    let token = tokens["access_token"].as_str().unwrap();
    let start = post(
        http,
        format!("{base}/api/passkeys/register/start"),
        Some(token),
        json!({}),
    )
    .await;
    let options: PublicKeyCredentialCreationOptions =
        serde_json::from_value(start["public_key"].clone()).unwrap();
    let created = key
        .register(
            origin,
            CredentialCreationOptions {
                public_key: options,
            },
            DefaultClientData,
        )
        .await
        .expect("a passkey is made");
    post(
        http,
        format!("{base}/api/passkeys/register/finish"),
        Some(token),
        json!({"ceremony": start["ceremony"], "credential": created}),
    )
    .await;
    key
}

/// One sign-in; returns the time spent in the two server calls.
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    origin: &Url,
    key: &mut SoftAuthenticator,
) -> Duration {
    let asked = Instant::now();
    let start = post(
        http,
        format!("{base}/api/passkeys/login/start"),
        None,
        json!({}),
    )
    .await;
    let on_server = asked.elapsed();
    let options: PublicKeyCredentialRequestOptions =
        serde_json::from_value(start["public_key"].clone()).unwrap();
    let signed = key
        .authenticate(
            origin,
            CredentialRequestOptions {
                public_key: options,
            },
            DefaultClientData,
        )
        .await
        .expect("the authenticator signs");
    let finishing = Instant::now();
    let tokens = post(
        http,
        format!("{base}/api/passkeys/login/finish"),
        None,
        json!({"ceremony": start["ceremony"], "credential": signed}),
    )
    .await;
    assert!(tokens["access_token"].is_string());
    on_server + finishing.elapsed()
}

#[tokio::main]
async fn main() {
    let base = std::env::args()
        .nth(1)
        .expect("usage: passkey_sign_in BASE_URL");
    let port = Url::parse(&base).unwrap().port().unwrap_or(80);
    let origin = Url::parse(&format!("http://localhost:{port}")).unwrap();
    let http = reqwest::Client::new();

    let mut keys = Vec::new();
    for n in 0..CONCURRENCY {
        keys.push(enrol(&http, &base, &origin, n).await);
    }
    let mut workers = Vec::new();
    let began = Instant::now();
    let until = began + Duration::from_secs(SECONDS);
    for mut key in keys {
        let (http, base, origin) = (http.clone(), base.clone(), origin.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < until {
                times.push(sign_in(&http, &base, &origin, &mut key).await);
            }
            times
        }));
    }
    let mut times = Vec::new();
    for worker in workers {
        times.extend(worker.await.unwrap());
    }
    let elapsed = began.elapsed().as_secs_f64();
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "{:<48} {:>10.1} sign-ins/s   p50 {:>6.2}ms   p99 {:>6.2}ms   (start + finish, {} sign-ins)",
        format!("passkey sign-in ({CONCURRENCY} at once)"),
        times.len() as f64 / elapsed,
        at(0.5),
        at(0.99),
        times.len()
    );
}
