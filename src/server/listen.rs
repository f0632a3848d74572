//! The accept loop: HTTP/1.1 connections served by hyper's `http1` builder directly, instead of
//! `axum::serve`.
//!
//! Why not `axum::serve`: it serves through hyper-util's auto (HTTP/1 or HTTP/2) builder, which
//! first reads 24 bytes to tell the versions apart and hands them back through a rewind
//! buffer; hyper's read buffer then takes two reads for the request head and grows from 8 to 16
//! KiB. A waiting long poll keeps its connection, so that buffer is held by every waiting
//! desktop and tab (a counting-allocator build measured it: 16 KiB of the 46 KiB a waiting QR
//! poll cost; README, "What a waiting poll costs"). Browsers reach Sesame over HTTP/1.1 (or
//! HTTP/2 ending at the proxy), so cleartext HTTP/2 is not offered.
//!
//! Graceful shutdown as `axum::serve` does it: when `stop` fires, accepting ends, every
//! connection finishes its current request and closes, and `serve` returns once all have.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

pub async fn serve(listener: TcpListener, router: Router, stop: impl Future<Output = ()>) {
    // Connections hold a receiver; `closed()` resolves when the last one has gone.
    let (close_tx, close_rx) = watch::channel(());
    // Dropped when stopping: every connection then shuts down gracefully.
    let (signal_tx, _) = watch::channel(());
    let mut stop = pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, mostly: wait instead of spinning (as axum does).
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.as_mut() => break,
        };
        let router = router.clone();
        let mut signal_rx = signal_tx.subscribe();
        let close_rx = close_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = pin!(connection);
            let mut stopping = false;
            loop {
                tokio::select! {
                    _ = connection.as_mut() => break,
                    _ = signal_rx.changed(), if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(close_rx);
        });
    }
    drop(listener);
    drop(signal_tx);
    drop(close_rx);
    close_tx.closed().await;
}
