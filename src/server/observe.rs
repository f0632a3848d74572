//! What the people running Sesame see: a request id on every response and log line, one log
//! line per request (tower-http's trace layer), and Prometheus metrics on a listener of their own.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{LazyLock, RwLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower::{Service, ServiceBuilder};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::domain::Sesame;
use crate::metrics::{
    DB_POOL_CONNECTIONS, DB_POOL_MAX, HTTP_DURATION, HTTP_REQUESTS, NOTICE_POLLS_WAITING,
    POLLS_BUSIEST_NETWORK, POLLS_PER_NETWORK_LIMIT, QR_CODES, QR_POLLS_WAITING, READY, SIGN_INS,
};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request id, request log and HTTP metrics around `router`: a sane incoming `X-Request-Id` is
/// kept (a proxy's id ties its log to ours), anything else is replaced by a fresh UUID.
pub fn layer(router: Router) -> Router {
    // One stack, added with one `layer` call: axum boxes each call's service and future again
    // for every request, and a waiting long poll keeps them all (README, "What a waiting poll
    // costs"). Outermost first.
    router.layer(
        ServiceBuilder::new()
            .map_request(drop_insane_request_id)
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request| {
                        let id = request
                            .extensions()
                            .get::<RequestId>()
                            .and_then(|id| id.header_value().to_str().ok())
                            .unwrap_or("");
                        // The path is logged without its query string, which could carry anything.
                        tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
                    })
                    .on_request(())
                    .on_response(
                        |response: &Response, latency: Duration, _span: &tracing::Span| {
                            tracing::info!(
                                status = response.status().as_u16(),
                                latency_ms = latency.as_secs_f64() * 1000.0,
                                "served"
                            );
                        },
                    )
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(tower::layer::layer_fn(CountRequests)),
    )
}

/// Keeps an incoming request id only if it is 1–64 characters of `A-Z a-z 0-9 . _ -`, so a
/// client cannot write newlines or megabytes into every log line of its request.
fn drop_insane_request_id(mut request: Request) -> Request {
    let sane = request.headers().get(&REQUEST_ID).is_none_or(|value| {
        let bytes = value.as_bytes();
        (1..=64).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
    });
    if !sane {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

/// Counts each request under its matched route (`/qr/{id}`, never `/qr/abc…`, so the label set
/// stays small); unmatched paths (static files, 404s) count as "other". A plain service rather
/// than `from_fn`, which boxes a future holding the request twice for as long as it runs (a
/// waiting long poll's whole wait).
#[derive(Clone)]
struct CountRequests<S>(S);

impl<S> Service<Request> for CountRequests<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Counted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let route = request.extensions().get::<MatchedPath>().cloned();
        Counted {
            answer: self.0.call(request),
            route,
            started,
        }
    }
}

pin_project_lite::pin_project! {
    struct Counted<F> {
        #[pin]
        answer: F,
        route: Option<MatchedPath>,
        started: Instant,
    }
}

impl<F, E> Future for Counted<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let answer = ready!(this.answer.poll(cx));
        if let Ok(response) = &answer {
            let route = this.route.as_ref().map_or("other", MatchedPath::as_str);
            let (requests, duration) = http_metrics(route, response.status());
            requests.increment(1);
            duration.record(this.started.elapsed().as_secs_f64());
        }
        Poll::Ready(answer)
    }
}

type HttpMetrics = (metrics::Counter, metrics::Histogram);

/// The handles for one route and status, registered on first use and then reused: a lookup
/// under a read lock instead of building labels and finding the series on every request.
fn http_metrics(route: &str, status: StatusCode) -> HttpMetrics {
    static HANDLES: LazyLock<RwLock<HashMap<String, HashMap<u16, HttpMetrics>>>> =
        LazyLock::new(Default::default);
    let status = status.as_u16();
    let known = HANDLES.read().unwrap_or_else(|e| e.into_inner());
    if let Some(handles) = known
        .get(route)
        .and_then(|by_status| by_status.get(&status))
    {
        return handles.clone();
    }
    drop(known);
    let labels = [("route", route.to_owned()), ("status", status.to_string())];
    let handles = (
        metrics::counter!(HTTP_REQUESTS, &labels),
        metrics::histogram!(HTTP_DURATION, &labels),
    );
    HANDLES
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(route.to_owned())
        .or_default()
        .insert(status, handles.clone());
    handles
}

/// Installs the Prometheus recorder (once per process) and describes the metrics.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HTTP_DURATION.into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ],
        )
        .map_err(|e| format!("metrics: {e}"))?
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests by matched route and status.");
    metrics::describe_histogram!(HTTP_DURATION, "HTTP request duration by route and status.");
    metrics::describe_counter!(SIGN_INS, "Sign-in attempts by method and result.");
    metrics::describe_counter!(QR_CODES, "QR codes created, and their outcomes.");
    metrics::describe_gauge!(
        QR_POLLS_WAITING,
        "Desktop long polls waiting on this instance."
    );
    metrics::describe_gauge!(
        NOTICE_POLLS_WAITING,
        "Notice long polls waiting on this instance."
    );
    metrics::describe_gauge!(DB_POOL_CONNECTIONS, "Database pool connections by state.");
    metrics::describe_gauge!(DB_POOL_MAX, "The database pool's size limit.");
    metrics::describe_gauge!(READY, "1 when /readyz answers 200, else 0.");
    metrics::describe_gauge!(
        POLLS_BUSIEST_NETWORK,
        "The most waiting long polls one client network holds, by kind (qr, notice)."
    );
    metrics::describe_gauge!(
        POLLS_PER_NETWORK_LIMIT,
        "How many waiting long polls one client network may hold, by kind."
    );
    crate::metrics::register_known_series();
    Ok(handle)
}

/// `GET /metrics` on the private metrics address. Gauges are read at scrape time.
pub fn metrics_router(app: Sesame, handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (app, handle) = (app.clone(), handle.clone());
            async move {
                metrics::gauge!(QR_POLLS_WAITING).set(app.qr_events.waiting() as f64);
                metrics::gauge!(NOTICE_POLLS_WAITING).set(app.notice_events.waiting() as f64);
                for (kind, (busiest, limit)) in [
                    ("qr", app.qr_events.busiest_network()),
                    ("notice", app.notice_events.busiest_network()),
                ] {
                    metrics::gauge!(POLLS_BUSIEST_NETWORK, "kind" => kind).set(busiest as f64);
                    metrics::gauge!(POLLS_PER_NETWORK_LIMIT, "kind" => kind).set(limit as f64);
                }
                let idle = app.db.num_idle() as f64;
                let open = app.db.size() as f64;
                metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(idle);
                metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(open - idle);
                let max = app.db.options().get_max_connections();
                metrics::gauge!(DB_POOL_MAX).set(f64::from(max));
                let ready = super::http::readiness(app.clone()).await.0 == StatusCode::OK;
                metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
                (
                    StatusCode::OK,
                    [(
                        axum::http::header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4"),
                    )],
                    handle.render(),
                )
            }
        }),
    )
}
