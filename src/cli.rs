//! The `sesame` command: the server (no subcommand, or `serve`), and the operator's tools for the
//! OpenID provider: registering apps (`client …`) and rotating the signing key (`keys rotate`).
//! The tools read the server's settings (`Leptos.toml`, `SESAME_*`, `DATABASE_URL`) and apply
//! migrations first, so they work on a fresh database.

use clap::{Parser, Subcommand};

use crate::domain::oauth::clients::{self, Grant, NewClient};
use crate::domain::oauth::keys;
use crate::settings::Settings;

#[derive(Parser)]
#[command(
    name = "sesame",
    about = "Sign in with a password, a QR code, or through Sesame from other apps."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apps that sign people in through Sesame.
    #[command(subcommand)]
    Client(ClientCommand),
    /// The keys that sign ID and access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign in from this terminal with the device grant, as a TV or command-line app would: shows
    /// a code and a QR code, waits for you to approve it on a signed-in phone, then says who you
    /// are. An example client: it needs no database, only a Sesame to talk to.
    DeviceLogin {
        /// The Sesame to sign in to, e.g. https://sesame.example.com.
        #[arg(long)]
        issuer: String,
        /// An app registered with `--grant device_code`.
        #[arg(long)]
        client_id: String,
        /// For a confidential app; public apps have none. Also read from SESAME_CLIENT_SECRET.
        #[arg(long, env = "SESAME_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register an app; prints {"client_id","client_secret"} (the secret only this once).
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// Where people are sent back with a code; compared exactly. Repeat for several.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A browser or native app that cannot keep a secret (it authenticates with PKCE alone).
        #[arg(long)]
        public: bool,
        /// authorization_code, refresh_token or device_code; repeat for several. Default: the
        /// first two.
        #[arg(long = "grant", value_parser = parse_grant)]
        grants: Vec<Grant>,
        /// Called with a logout token when one of the app's sessions ends.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
    },
    /// List the registered apps (never their secrets).
    List,
    /// Remove an app; its sessions end and its consents go.
    Remove { id: String },
    /// Give a confidential app a new secret; the old one stops working at once.
    RotateSecret { id: String },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key and make it current; older keys stay published until the tokens
    /// they signed have expired.
    Rotate,
}

fn parse_grant(name: &str) -> Result<Grant, String> {
    Grant::parse(name).ok_or_else(|| {
        format!("unknown grant {name}: use authorization_code, refresh_token or device_code")
    })
}

/// Runs the command line; `Err` is the message to print before exiting with status 1.
pub async fn main() -> Result<(), String> {
    let cli = Cli::parse();
    let command = match cli.command {
        None | Some(Command::Serve) => return crate::server::serve().await,
        Some(Command::DeviceLogin {
            issuer,
            client_id,
            client_secret,
        }) => return device_login::run(&issuer, &client_id, client_secret.as_deref()).await,
        Some(command) => command,
    };
    let settings = Settings::load()?;
    if settings.database_url.is_empty() {
        return Err("DATABASE_URL is not set.".into());
    }
    let db = crate::db::connect(&settings.database_url, 2, settings.db_acquire_timeout)
        .await
        .map_err(|e| format!("cannot open the database or apply migrations: {e}"))?;
    let output = match command {
        Command::Serve | Command::DeviceLogin { .. } => unreachable!("handled above"),
        Command::Client(ClientCommand::Add {
            id,
            name,
            redirect_uris,
            public,
            grants,
            backchannel_logout_uri,
        }) => {
            let new = NewClient {
                id,
                name,
                redirect_uris,
                public,
                grants,
                backchannel_logout_uri,
            };
            let registered = clients::register(&db, new).await.map_err(|e| e.message)?;
            serde_json::to_value(registered).map_err(|e| e.to_string())?
        }
        Command::Client(ClientCommand::List) => {
            let rows = crate::db::oauth_clients::list(&db)
                .await
                .map_err(|e| e.to_string())?;
            let list: Vec<_> = rows
                .into_iter()
                .map(|client| {
                    serde_json::json!({
                        "client_id": client.id,
                        "name": client.name,
                        "public": client.secret_hash.is_none(),
                        "redirect_uris": client.redirect_uris,
                        "grant_types": client.grant_types,
                        "backchannel_logout_uri": client.backchannel_logout_uri,
                    })
                })
                .collect();
            serde_json::Value::from(list)
        }
        Command::Client(ClientCommand::Remove { id }) => {
            if !crate::db::oauth_clients::delete(&db, &id)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no client with the id {id}"));
            }
            serde_json::json!({ "removed": id })
        }
        Command::Client(ClientCommand::RotateSecret { id }) => {
            let registered = clients::rotate_secret(&db, &id)
                .await
                .map_err(|e| e.message)?;
            serde_json::to_value(registered).map_err(|e| e.to_string())?
        }
        Command::Keys(KeysCommand::Rotate) => {
            let kid = keys::create_key(&db).await.map_err(|e| e.message)?;
            serde_json::json!({ "kid": kid })
        }
    };
    println!("{output}");
    Ok(())
}

/// `sesame device-login`: the device grant from the device's side (RFC 8628 §3), in the fewest
/// lines that do it properly: discover the endpoints, ask for codes, show them, poll at the
/// interval (5 s more after every `slow_down`), stop at a final answer.
mod device_login {
    use std::time::Duration;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::Value;

    pub async fn run(issuer: &str, client_id: &str, secret: Option<&str>) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        let issuer = issuer.trim_end_matches('/');
        let discovery: Value =
            get_json(http.get(format!("{issuer}/.well-known/openid-configuration"))).await?;
        let endpoint = |name: &str| {
            discovery[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{issuer} has no {name}"))
        };
        let (device_endpoint, token_endpoint) = (
            endpoint("device_authorization_endpoint")?,
            endpoint("token_endpoint")?,
        );
        let with_client = |request: reqwest::RequestBuilder| match secret {
            Some(secret) => request.basic_auth(client_id, Some(secret)),
            None => request,
        };
        let mut form = vec![("scope", "openid profile")];
        if secret.is_none() {
            form.push(("client_id", client_id));
        }
        let codes: Value = get_json(with_client(http.post(&device_endpoint)).form(&form)).await?;
        let text = |name: &str| codes[name].as_str().unwrap_or_default().to_owned();
        let (device_code, user_code) = (text("device_code"), text("user_code"));
        let complete = text("verification_uri_complete");
        println!(
            "To sign in, open {} and enter the code\n\n    {user_code}\n",
            text("verification_uri")
        );
        if let Ok(qr) = qrcode::QrCode::new(complete.as_bytes()) {
            let drawn = qr
                .render::<qrcode::render::unicode::Dense1x2>()
                .quiet_zone(true)
                .build();
            println!("or scan this with a phone where you are signed in:\n\n{drawn}\n");
        }
        let mut interval = codes["interval"].as_u64().unwrap_or(5).max(1);
        let deadline = std::time::Instant::now()
            + Duration::from_secs(codes["expires_in"].as_u64().unwrap_or(600));
        let mut poll = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:device_code".to_owned(),
            ),
            ("device_code", device_code),
        ];
        if secret.is_none() {
            poll.push(("client_id", client_id.to_owned()));
        }
        loop {
            if std::time::Instant::now() > deadline {
                return Err("the code expired before it was approved".into());
            }
            tokio::time::sleep(Duration::from_secs(interval)).await;
            let response = with_client(http.post(&token_endpoint))
                .form(&poll)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let ok = response.status().is_success();
            let answer: Value = response.json().await.map_err(|e| e.to_string())?;
            if ok {
                return signed_in(&answer);
            }
            match answer["error"].as_str() {
                Some("authorization_pending") => {}
                Some("slow_down") => interval += 5,
                Some("access_denied") => return Err("the request was denied".into()),
                Some("expired_token") => {
                    return Err("the code expired before it was approved".into());
                }
                _ => return Err(format!("the token endpoint said: {answer}")),
            }
        }
    }

    /// The ID token came straight from the token endpoint over the connection we opened, so its
    /// claims can be read without checking the signature (OpenID Connect Core §3.1.3.7, item 6);
    /// an app that passes the token on must verify it with the JWKS.
    fn signed_in(tokens: &Value) -> Result<(), String> {
        let claims: Value = tokens["id_token"]
            .as_str()
            .and_then(|token| token.split('.').nth(1))
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or("the answer has no readable ID token")?;
        let who = claims["preferred_username"]
            .as_str()
            .or(claims["sub"].as_str())
            .unwrap_or("?");
        let expires_in = tokens["expires_in"].as_i64().unwrap_or(0);
        let expires_at = chrono::Utc::now() + chrono::Duration::seconds(expires_in);
        println!("Signed in as {who}.");
        println!(
            "The access token expires at {} (in {expires_in} s).",
            expires_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        Ok(())
    }

    async fn get_json(request: reqwest::RequestBuilder) -> Result<Value, String> {
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{status}: {body}"))
        }
    }
}
