//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when an app session ends, its
//! app's `backchannel_logout_uri` gets a POST with a signed `logout_token`.
//!
//! The calls go through the `logout_deliveries` outbox, which the database fills (a trigger, in
//! the transaction that ends the session), so no way of ending a session can forget one, and a
//! restart loses none. Every instance runs one sender, woken by `NOTIFY logout_delivery`: it takes
//! a due row with `FOR UPDATE SKIP LOCKED` and leases it for `LEASE` before calling, so two
//! instances never send the same call; a failure (error, timeout, non-2xx) is retried with
//! backoff, an instance that died mid-call only delays it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, Semaphore};

use super::{LOGOUT_TOKEN_TYP, issuer};
use crate::db::{self, logout_deliveries::Delivery};
use crate::domain::Sesame;
use crate::domain::tokens::random_secret;
use crate::proto::{SessionId, UserId};

pub const CHANNEL: &str = "logout_delivery";
/// How long a taken delivery is reserved for the instance making the call.
pub const LEASE: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts before giving up: backoff 1 s, 2 s, 4 s … capped at an hour, about a day in all.
const MAX_ATTEMPTS: i32 = 30;
/// Calls in flight at once per instance, so one slow app cannot hold up the others' calls.
const PARALLEL_CALLS: usize = 16;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Serialize)]
struct LogoutClaims<'a> {
    iss: String,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: UserId,
    sid: SessionId,
    events: serde_json::Value,
}

/// Sends due deliveries for as long as the server runs.
pub async fn run(app: Sesame) {
    let wake = Arc::new(Notify::new());
    let listener = {
        let (pool, wake, wake_all) = (app.db.clone(), wake.clone(), wake.clone());
        tokio::spawn(async move {
            db::listen_forever(
                pool,
                CHANNEL,
                |_| wake.notify_one(),
                || wake_all.notify_one(),
            )
            .await
        })
    };
    let slots = Arc::new(Semaphore::new(PARALLEL_CALLS));
    loop {
        if app.qr_events.is_closing() {
            break;
        }
        let wait = match send_due(&app, &slots, &wake).await {
            Ok(()) => db::logout_deliveries::seconds_until_next(&app.db)
                .await
                .ok()
                .flatten()
                .map_or(Duration::from_secs(30), |s| {
                    Duration::from_secs_f64(s.clamp(0.05, 30.0))
                }),
            Err(error) => {
                tracing::warn!(%error, "back-channel logout: cannot read the outbox");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    listener.abort();
}

/// Takes and sends every delivery that is due now, each in a task of its own; each task wakes
/// the loop when done, since a failed call is due again sooner than the lease the loop saw.
async fn send_due(
    app: &Sesame,
    slots: &Arc<Semaphore>,
    wake: &Arc<Notify>,
) -> Result<(), sqlx::Error> {
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let Some(delivery) = db::logout_deliveries::take_due(&app.db, LEASE).await? else {
            return Ok(());
        };
        let (app, wake) = (app.clone(), wake.clone());
        tokio::spawn(async move {
            let outcome = deliver(&app, &delivery).await;
            let recorded = match outcome {
                Ok(()) => {
                    tracing::info!(client = %delivery.client_id, session = %delivery.session_id, "back-channel logout delivered");
                    db::logout_deliveries::delete(&app.db, delivery.id).await
                }
                Err(Failure::Refused(why)) => {
                    tracing::warn!(client = %delivery.client_id, why, "back-channel logout target refused; not retried");
                    db::logout_deliveries::delete(&app.db, delivery.id).await
                }
                Err(Failure::Failed(error)) if delivery.attempts >= MAX_ATTEMPTS => {
                    tracing::error!(client = %delivery.client_id, %error, attempts = delivery.attempts, "back-channel logout given up");
                    db::logout_deliveries::delete(&app.db, delivery.id).await
                }
                Err(Failure::Failed(error)) => {
                    let backoff = Duration::from_secs(1 << (delivery.attempts - 1).clamp(0, 12))
                        .min(Duration::from_secs(3600));
                    tracing::warn!(client = %delivery.client_id, %error, retry_in = ?backoff, "back-channel logout failed; will retry");
                    db::logout_deliveries::retry_later(&app.db, delivery.id, backoff, &error).await
                }
            };
            if let Err(error) = recorded {
                tracing::error!(%error, "back-channel logout: cannot update the outbox");
            }
            drop(permit);
            wake.notify_one();
        });
    }
}

/// Why a call did not go through: a target that may never be called (given up at once), or a
/// failure worth retrying.
enum Failure {
    Refused(String),
    Failed(String),
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Self::Failed(error)
    }
}

/// One call. The target is resolved once, checked, and called at exactly that address, so a
/// name cannot be re-pointed at an internal service between the check and the call.
async fn deliver(app: &Sesame, delivery: &Delivery) -> Result<(), Failure> {
    let url =
        url::Url::parse(&delivery.uri).map_err(|e| Failure::Refused(format!("bad URI: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| Failure::Refused("no host".into()))?
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Failure::Refused("no port".into()))?;
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let allowed: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(|addr| app.settings.allow_private_logout_targets || is_public(addr.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(Failure::Refused(format!(
            "{host} is not a public address (allow_private_logout_targets is off)"
        )));
    }
    let now = chrono::Utc::now().timestamp();
    let claims = LogoutClaims {
        iss: issuer(app),
        aud: &delivery.client_id,
        iat: now,
        exp: now + 120,
        jti: random_secret(16),
        sub: delivery.user_id,
        sid: delivery.session_id,
        events: serde_json::json!({ EVENT: {} }),
    };
    let token = app
        .oauth_keys
        .sign(LOGOUT_TOKEN_TYP, &claims)
        .await
        .map_err(|e| e.message)?;
    let client = reqwest::Client::builder()
        .resolve_to_addrs(&host, &allowed)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header("Cache-Control", "no-store")
        .form(&[("logout_token", token)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", response.status()).into())
    }
}

/// Not loopback, private, link-local, shared, unique-local or unspecified: somewhere on the
/// internet, not inside the operator's network.
fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["203.0.113.7", "8.8.8.8", "2001:db8::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
