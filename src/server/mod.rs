//! The HTTP server: settings and secrets at start-up, the axum router (pages, `/api`, static
//! files), middleware, and the background tasks. Server-only.

mod assets;
mod http;
mod listen;
mod log_writer;
pub mod oauth;
mod observe;
pub mod openapi;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list_with_exclusions};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;

use crate::domain::Sesame;
use crate::settings::{LogFormat, Settings};
use crate::{db, ui};

/// Starts Sesame and serves until Ctrl-C or SIGTERM.
pub async fn serve() -> Result<(), String> {
    let settings = Settings::load()?;
    let _log_writer = init_tracing(&settings);
    if settings.database_url.is_empty() {
        return Err("DATABASE_URL is not set. `scripts/run` starts a private PostgreSQL for you and sets it.".into());
    }
    let pool = db::connect(
        &settings.database_url,
        settings.db_max_connections,
        settings.db_acquire_timeout,
    )
    .await
    .map_err(|e| format!("cannot open the database or apply migrations: {e}"))?;
    let secret = jwt_secret(&settings)?;
    let app = Sesame::new(pool.clone(), settings.clone(), &secret)?;
    crate::domain::listen_for_wake_ups(&app);
    tokio::spawn(crate::domain::oauth::backchannel::run(app.clone()));
    tokio::spawn(delete_stale_rows(pool, settings.audit_retention));

    let mut options = leptos_options()?;
    options.site_addr = settings
        .site_addr
        .parse()
        .map_err(|e| format!("site_addr {}: {e}", settings.site_addr))?;
    let listener = tokio::net::TcpListener::bind(options.site_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.site_addr))?;
    if !settings.metrics_addr.is_empty() {
        let handle = observe::install_recorder()?;
        let metrics_listener = tokio::net::TcpListener::bind(&settings.metrics_addr)
            .await
            .map_err(|e| format!("metrics_addr {}: {e}", settings.metrics_addr))?;
        let metrics = observe::metrics_router(app.clone(), handle);
        tokio::spawn(async move { axum::serve(metrics_listener, metrics).await });
        tracing::info!("metrics on http://{}/metrics", settings.metrics_addr);
    }
    tracing::info!(
        "Sesame is listening on http://{} (public URL {})",
        options.site_addr,
        settings.public_url()
    );
    let (stopping, mut stop_seen) = tokio::sync::watch::channel(false);
    tokio::spawn(stop_on_signal(app.clone(), stopping));
    let router = router(app, options)?;
    let server = listen::serve(listener, router, {
        let mut stop = stop_seen.clone();
        async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }
    });
    // Requests in flight get `shutdown_grace` to finish; then the process exits anyway.
    let grace = settings.shutdown_grace;
    tokio::select! {
        () = server => Ok(()),
        _ = async {
            let _ = stop_seen.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("requests still running after the shutdown grace; stopping anyway");
            Ok(())
        }
    }
}

/// Pages, server functions (with the app in their context), the fingerprinted browser bundle
/// and other static files, behind the compression, API and security middleware.
pub fn router(app: Sesame, options: LeptosOptions) -> Result<Router, String> {
    let assets = Arc::new(
        assets::Assets::new(
            &options.site_root,
            &options.site_pkg_dir,
            &options.output_name,
        )
        .map_err(|e| format!("the browser bundle (built by `cargo leptos build`): {e}"))?,
    );
    let routes = page_routes();
    let max_body = app.settings.max_body_bytes;
    let (ready_app, me_app, oauth_app) = (app.clone(), app.clone(), app.clone());
    let (qr_poll_app, notice_poll_app) = (app.clone(), app.clone());
    let [qr_poll, notice_poll] = listen::LONG_POLLS;
    // Built once: the document is about 150 KB and the same for every request.
    let openapi = axum::body::Bytes::from(openapi::document(&app.settings.public_url()));
    let provide_app = move || provide_context(app.clone());
    let shell = {
        let (options, assets) = (options.clone(), assets.clone());
        move || ui::shell(options.clone(), assets.names())
    };
    let error_page = {
        let assets = assets.clone();
        move |options| ui::shell(options, assets.names())
    };
    let router = Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/readyz",
            axum::routing::get(move || http::readiness(ready_app.clone())),
        )
        .route(
            "/api/me",
            // Stateless (`()`), so axum does not clone the leptos options for every call.
            axum::routing::post(move |headers| http::current_account(me_app.clone(), headers))
                .with_state(()),
        )
        // The two long polls: thousands wait at once, so each should hold little.
        .route(
            qr_poll,
            axum::routing::post(move |peer, headers, body| {
                http::poll_qr(qr_poll_app.clone(), peer, headers, body)
            })
            .with_state(()),
        )
        .route(
            notice_poll,
            axum::routing::post(move |peer, headers, body| {
                http::poll_notices(notice_poll_app.clone(), peer, headers, body)
            })
            .with_state(()),
        )
        .route(
            openapi::PATH,
            axum::routing::get(move || http::openapi_document(openapi.clone())).with_state(()),
        )
        .merge(oauth::routes(oauth_app))
        .leptos_routes_with_context(&options, routes, provide_app, shell)
        .nest_service(&format!("/{}", options.site_pkg_dir), assets.router())
        .fallback(leptos_axum::file_and_error_handler(error_page))
        // One stack in one `layer` call (see `observe::layer`), outermost first.
        .layer(
            ServiceBuilder::new()
                .map_response(http::security_headers)
                // Outside the compression layer: it keeps `/api` answers uncompressed.
                .layer(axum::middleware::from_fn_with_state(
                    max_body,
                    http::api_guard,
                ))
                // Pages are compressed as they are sent; the bundle was compressed ahead of time.
                .layer(CompressionLayer::new()),
        )
        .with_state(options);
    Ok(observe::layer(router))
}

/// The app's pages (`ui::Page`), and the server functions except those plain handlers serve
/// (`http::current_account`, `http::poll_qr`, `http::poll_notices`: the same calls, answered
/// alike). The app has no leptos router to list its pages, so leptos lists only those exclusions
/// (and a stand-in `/`).
fn page_routes() -> Vec<AxumRouteListing> {
    let [qr_poll, notice_poll] = listen::LONG_POLLS;
    let plain = ["/api/me", qr_poll, notice_poll];
    let excluded =
        generate_route_list_with_exclusions(|| (), Some(plain.map(String::from).to_vec()))
            .into_iter()
            .filter(|listing| listing.path() != "/");
    let pages = ui::Page::SERVER_PATHS.iter().map(|path| {
        AxumRouteListing::new(
            path.to_string(),
            Default::default(),
            [leptos_router::Method::Get],
            Vec::new(),
        )
    });
    excluded.chain(pages).collect()
}

/// Under cargo-leptos the build settings arrive as `LEPTOS_*` variables; a binary started by hand
/// from the project folder reads them from `Cargo.toml`.
fn leptos_options() -> Result<LeptosOptions, String> {
    let cargo_toml = std::env::var_os("LEPTOS_OUTPUT_NAME")
        .is_none()
        .then_some("Cargo.toml");
    get_configuration(cargo_toml)
        .map(|conf| conf.leptos_options)
        .map_err(|e| format!("leptos settings: {e}"))
}

/// Logs go through a batching writer (`log_writer`): a request never waits for stdout. The guard
/// it returns writes what is left when `serve` ends.
fn init_tracing(settings: &Settings) -> log_writer::FlushGuard {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| "info".into());
    let (writer, guard) = log_writer::batched(std::io::stdout());
    // Colours only for a person at a terminal, never into a journal or a log shipper's pipe.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(move || writer.clone());
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}

/// The signing key: the configured one, or in development a random one kept in a file so that
/// restarts do not sign everybody out.
fn jwt_secret(settings: &Settings) -> Result<Vec<u8>, String> {
    if !settings.jwt_secret.is_empty() {
        return Ok(settings.jwt_secret.as_bytes().to_vec());
    }
    let path = std::path::Path::new(&settings.jwt_secret_file);
    if let Ok(existing) = std::fs::read_to_string(path) {
        // Fine while developing; in production every instance needs the same configured key.
        tracing::warn!(
            "no jwt_secret configured: reusing the development key in {}; set SESAME_JWT_SECRET in production",
            path.display()
        );
        return Ok(existing.trim().as_bytes().to_vec());
    }
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    }
    let secret = crate::domain::tokens::random_secret(32);
    write_private(path, &secret).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tracing::warn!(
        "no jwt_secret configured: generated a development key in {}",
        path.display()
    );
    Ok(secret.into_bytes())
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// Ended QR codes are useless after a day, ended sessions after a month (long enough to show up
/// in an investigation); their audit events remain. Rate-limit counters go when their window ends.
/// Superseded signing keys go once nothing they signed can still be valid (a day, far past any
/// token's lifetime).
/// The audit trail is kept for `audit_retention`, and each session remembers its 100 most recently
/// spent refresh tokens; both are trimmed in bounded batches.
async fn delete_stale_rows(pool: sqlx::PgPool, audit_retention: Duration) {
    const BATCH: i64 = 5_000;
    let key_retention = Duration::from_secs(24 * 3600);
    let mut every_ten_minutes = tokio::time::interval(Duration::from_secs(600));
    loop {
        every_ten_minutes.tick().await;
        if let Err(error) = db::rate_limits::delete_ended(&pool).await {
            tracing::error!(%error, "deleting old rate-limit counters failed");
        }
        let now = chrono::Utc::now();
        if let Err(error) =
            db::qr_logins::delete_ended_before(&pool, now - chrono::Duration::days(1)).await
        {
            tracing::error!(%error, "deleting old QR codes failed");
        }
        if let Err(error) =
            db::sessions::delete_ended_before(&pool, now - chrono::Duration::days(30)).await
        {
            tracing::error!(%error, "deleting old sessions failed");
        }
        if let Err(error) = db::notices::delete_before(&pool, now - chrono::Duration::days(1)).await
        {
            tracing::error!(%error, "deleting old notices failed");
        }
        // Authorization and device codes are refused once expired; an hour later they go.
        let an_hour_ago = now - chrono::Duration::hours(1);
        if let Err(error) = db::oauth_codes::delete_expired_before(&pool, an_hour_ago).await {
            tracing::error!(%error, "deleting old authorization codes failed");
        }
        if let Err(error) = db::device_codes::delete_expired_before(&pool, an_hour_ago).await {
            tracing::error!(%error, "deleting old device codes failed");
        }
        if let Err(error) = db::passkeys::delete_ended_before(&pool, an_hour_ago).await {
            tracing::error!(%error, "deleting old passkey ceremonies failed");
        }
        if let Err(error) = db::signing_keys::delete_superseded_before(&pool, key_retention).await {
            tracing::error!(%error, "deleting retired signing keys failed");
        }
        let oldest_kept = now - chrono::Duration::from_std(audit_retention).unwrap_or_default();
        loop {
            match db::audit::delete_before(&pool, oldest_kept, BATCH).await {
                Ok(deleted) if deleted == BATCH as u64 => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(%error, "deleting old audit events failed");
                    break;
                }
            }
        }
        loop {
            match db::sessions::trim_spent_refresh_tokens(&pool, 100, BATCH).await {
                Ok(deleted) if deleted == BATCH as u64 => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(%error, "trimming spent refresh tokens failed");
                    break;
                }
            }
        }
    }
}

/// On Ctrl-C or SIGTERM: `/readyz` turns 503 and waiting long polls answer at once (both follow
/// `qr_events.close()`), then the server stops accepting connections.
async fn stop_on_signal(app: Sesame, stopping: tokio::sync::watch::Sender<bool>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
    app.qr_events.close();
    app.notice_events.close();
    let _ = stopping.send(true);
}
