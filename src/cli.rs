//! The `sesame` command: the server (no subcommand, or `serve`), and the operator's tools for the
//! OpenID provider: registering apps (`client …`) and rotating the signing key (`keys rotate`).
//! The tools read the server's settings (`Leptos.toml`, `SESAME_*`, `DATABASE_URL`) and apply
//! migrations first, so they work on a fresh database.

use clap::{Parser, Subcommand};

use crate::domain::oauth::clients::{self, Grant, NewClient};
use crate::domain::oauth::keys;
use crate::settings::Settings;

#[derive(Parser)]
#[command(name = "sesame", about = "Sign in with a password, a QR code, or through Sesame from other apps.")]
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
        Command::Serve => unreachable!("handled above"),
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
