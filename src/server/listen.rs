//! The accept loop: HTTP/1.1, request by request, with the two long polls answered below hyper.
//!
//! A waiting long poll keeps its connection for up to 25 s, and thousands wait at once, so what a
//! connection holds while its request waits is what the server can carry (README, "What a waiting
//! poll costs"). hyper holds two 8 KiB buffers for as long as it serves a connection: a read
//! buffer it reserves before every read and a write buffer it allocates up front; neither has a
//! setting. So each connection is served like this:
//!
//! - Before its first request, and after a long poll, the connection holds nothing but its
//!   socket: it waits until the socket is readable, then looks at the next request's head without
//!   consuming it (`peek`).
//! - A plain long poll (`POST` to one of [`LONG_POLLS`], HTTP/1.1, one small `Content-Length`,
//!   nothing unusual in the head) is read, passed through the same router and middleware as every
//!   request, and its small JSON answer written here. While it waits, a peek notices a client that
//!   has gone, and dropping the request's future ends the wait, as hyper would.
//! - Other requests are served by hyper, which keeps the connection while they come, but reads
//!   each request only up to the end its head states (`Content-Length`, or no body), and looks
//!   at the next head before reading it: when a plain long poll comes, hyper is told the input
//!   ended once its last answer is flushed, which hands the socket back without closing it. So
//!   hyper's buffers live only while it has requests to serve.
//! - Anything unusual (a head that did not arrive whole, `Transfer-Encoding`, `Upgrade`, more than
//!   one `Content-Length`, over 64 headers, a head over 8 KiB) is left to hyper for the rest of
//!   the connection, which answers it exactly as it always has. The cheap path is only ever
//!   taken for heads both parsers read alike, so nothing can be smuggled between them.
//!
//! Why not `axum::serve`: its auto (HTTP/1 or HTTP/2) builder also reads 24 bytes to tell the
//! versions apart and hands them back, which doubles hyper's read buffer. Browsers reach Sesame
//! over HTTP/1.1 (or HTTP/2 ending at the proxy), so cleartext HTTP/2 is not offered.
//!
//! Graceful shutdown as `axum::serve` does it: when `stop` fires, accepting ends, an idle
//! connection closes, a busy one finishes its request (answered with `connection: close`), and
//! `serve` returns once all have.

use std::future::{Future, poll_fn};
use std::io::{self, Write as _};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// The long polls: answered below hyper, since thousands wait at once.
pub const LONG_POLLS: [&str; 2] = ["/api/qr/poll", "/api/notices/poll"];
/// The longest request head looked at before it is read; browsers send about 1 KiB.
const HEAD_LIMIT: usize = 8 * 1024;
/// hyper's own limit is 100; a head with more goes to hyper.
const MAX_HEADERS: usize = 64;
/// The largest long-poll body answered below hyper (theirs are about 100 bytes).
const LONG_POLL_BODY_LIMIT: usize = 4 * 1024;
/// The largest long-poll answer written here (they are a few hundred bytes of JSON).
const LONG_POLL_ANSWER_LIMIT: usize = 64 * 1024;

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
        let stop = signal_tx.subscribe();
        let close_rx = close_rx.clone();
        tokio::spawn(async move {
            connection(stream, peer, router, stop).await;
            drop(close_rx);
        });
    }
    drop(listener);
    drop(signal_tx);
    drop(close_rx);
    close_tx.closed().await;
}

/// Serves one connection until the client closes it, an answer closes it, or the server stops.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<()>,
) {
    loop {
        let next = tokio::select! {
            next = next_request(&stream) => next,
            _ = stop.changed() => return,
        };
        let keep_open = match next {
            Ok(Next::LongPoll { head, body }) => {
                long_poll(&mut stream, head, body, &router, peer, &stop).await
            }
            Ok(Next::Plain { length }) => {
                match by_hyper(stream, Some(length), &router, peer, &mut stop).await {
                    Some(returned) => {
                        stream = returned;
                        true
                    }
                    None => return,
                }
            }
            Ok(Next::Unusual) => {
                by_hyper(stream, None, &router, peer, &mut stop).await;
                return;
            }
            Ok(Next::Closed) | Err(_) => return,
        };
        if !keep_open || stopping(&stop) {
            return;
        }
    }
}

/// Whether the server is stopping (its signal's sender is gone).
fn stopping(stop: &watch::Receiver<()>) -> bool {
    stop.has_changed().is_err()
}

/// What the next request on a connection is, from its head.
#[derive(Debug, PartialEq)]
enum Next {
    /// A plain long poll: `head` bytes of head, then `body` bytes of body.
    LongPoll { head: usize, body: usize },
    /// Another request of `length` bytes, head and body.
    Plain { length: usize },
    /// Something only hyper should judge.
    Unusual,
    /// The client closed the connection.
    Closed,
}

/// Waits for the next request and sorts it by its head, which stays unread. No buffer is held
/// while the connection is idle.
async fn next_request(stream: &TcpStream) -> io::Result<Next> {
    loop {
        stream.readable().await?;
        // No task to wake: if the socket had nothing after all, `readable()` waits again.
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(next) = peek_request(stream, &mut cx) {
            return next;
        }
    }
}

/// Looks at the next request's head without reading it.
fn peek_request(stream: &TcpStream, cx: &mut Context<'_>) -> Poll<io::Result<Next>> {
    let mut head = [MaybeUninit::uninit(); HEAD_LIMIT];
    let mut unfilled = ReadBuf::uninit(&mut head);
    ready!(stream.poll_peek(cx, &mut unfilled))?;
    Poll::Ready(Ok(match unfilled.filled() {
        [] => Next::Closed,
        peeked => classify(peeked),
    }))
}

/// Reads a request head as hyper would (both use httparse) and sorts it.
fn classify(bytes: &[u8]) -> Next {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(head)) = request.parse(bytes) else {
        return Next::Unusual;
    };
    let mut length = None;
    // A long poll is answered here only when its head holds nothing this file would have to
    // interpret beyond its length.
    let mut plain_poll = request.version == Some(1)
        && request.method == Some("POST")
        && request.path.is_some_and(|path| LONG_POLLS.contains(&path));
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            if length.is_some() {
                return Next::Unusual;
            }
            let Some(value) = content_length(header.value) else {
                return Next::Unusual;
            };
            length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
        {
            return Next::Unusual;
        } else if plain_poll
            && (name.eq_ignore_ascii_case("expect")
                || (name.eq_ignore_ascii_case("connection")
                    && !header.value.eq_ignore_ascii_case(b"keep-alive"))
                || header::HeaderName::from_bytes(name.as_bytes()).is_err()
                || header::HeaderValue::from_bytes(header.value).is_err())
        {
            plain_poll = false;
        }
    }
    let body = length.unwrap_or(0);
    if plain_poll && body <= LONG_POLL_BODY_LIMIT {
        Next::LongPoll { head, body }
    } else {
        Next::Plain {
            length: head.saturating_add(body),
        }
    }
}

/// A `Content-Length` of plain digits (hyper refuses anything else).
fn content_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 15 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Answers a plain long poll: reads it, runs it through the router, writes the answer. Returns
/// whether the connection stays open.
async fn long_poll(
    stream: &mut TcpStream,
    head: usize,
    body: usize,
    router: &Router,
    peer: SocketAddr,
    stop: &watch::Receiver<()>,
) -> bool {
    let Ok(request) = read_long_poll(stream, head, body, peer).await else {
        return false;
    };
    let answer = router.clone().oneshot(request);
    let response = tokio::select! {
        response = answer => match response {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        },
        // Dropping the request's future ends its wait and frees its place.
        () = client_gone(stream) => return false,
    };
    write_answer(stream, response, stopping(stop))
        .await
        .unwrap_or(false)
}

/// Reads the long poll's head and body (which `classify` measured) into a request of its own
/// copies, so nothing read stays allocated while it waits.
async fn read_long_poll(
    stream: &mut TcpStream,
    head: usize,
    body: usize,
    peer: SocketAddr,
) -> io::Result<Request<Body>> {
    let mut bytes = vec![0; head + body];
    stream.read_exact(&mut bytes).await?;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(&bytes).map_err(io::Error::other)?;
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(parsed.path.unwrap_or_default());
    for header in parsed.headers.iter() {
        request = request.header(header.name, header.value);
    }
    let mut request = request
        .body(Body::from(bytes[head..].to_vec()))
        .map_err(io::Error::other)?;
    request.extensions_mut().insert(ConnectInfo(peer));
    Ok(request)
}

/// Resolves once the client has closed the connection (or it broke). Bytes of a next request sent
/// early wait their turn, so then it never resolves.
async fn client_gone(stream: &TcpStream) {
    let mut byte = [0; 1];
    if let Ok(1..) = stream.peek(&mut byte).await {
        std::future::pending::<()>().await;
    }
}

/// Writes a long poll's answer as hyper would (lower-case names, `content-length`, `date`).
/// Returns whether the connection stays open.
async fn write_answer(
    stream: &mut TcpStream,
    response: Response,
    closing: bool,
) -> io::Result<bool> {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, LONG_POLL_ANSWER_LIMIT)
        .await
        .map_err(io::Error::other)?;
    let closing = closing
        || parts
            .headers
            .get(header::CONNECTION)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
    let status = parts.status;
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let mut out = Vec::with_capacity(512 + body.len());
    write!(
        out,
        "HTTP/1.1 {} {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("")
    )?;
    for (name, value) in &parts.headers {
        let framing = [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::CONNECTION,
            header::DATE,
        ];
        if !framing.contains(name) {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if !bodiless {
        write!(out, "content-length: {}\r\n", body.len())?;
    }
    write!(
        out,
        "date: {}\r\n",
        httpdate::fmt_http_date(SystemTime::now())
    )?;
    if closing {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !bodiless {
        out.extend_from_slice(&body);
    }
    stream.write_all(&out).await?;
    Ok(!closing)
}

/// Serves requests with hyper, starting with one of `length` bytes (`None`: an unusual one, after
/// which hyper keeps the connection). Returns the socket when the next request is a plain long
/// poll, which hyper then never sees (`HyperTurn`).
async fn by_hyper(
    stream: TcpStream,
    length: Option<usize>,
    router: &Router,
    peer: SocketAddr,
    stop: &mut watch::Receiver<()>,
) -> Option<TcpStream> {
    let io = HyperTurn {
        stream,
        unread: length,
        wrote: false,
        flushed: false,
        handed_back: false,
        read_waker: None,
    };
    // Half-closes allowed: hyper then reads nothing while a request is in progress, so any read
    // past a request is hyper asking for the next one. A connection that is hyper's from its
    // first request keeps hyper's own watch for a client that leaves mid-request.
    let mut connection = http1::Builder::new()
        .half_close(length.is_some())
        .serve_connection(TokioIo::new(io), service(router.clone(), peer));
    let mut stopping = false;
    let served = loop {
        tokio::select! {
            served = poll_fn(|cx| connection.poll_without_shutdown(cx)) => break served,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                Pin::new(&mut connection).graceful_shutdown();
            }
        }
    };
    served.ok()?;
    let parts = connection.into_parts();
    let io = parts.io.into_inner();
    (io.handed_back && parts.read_buf.is_empty()).then_some(io.stream)
}

/// The router as hyper's service, with the client's address as axum's `ConnectInfo`.
fn service(
    router: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future: Unpin + Send,
> + Unpin {
    hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        // Boxed so that `poll_without_shutdown` may move it (it needs `Unpin`).
        Box::pin(router.clone().oneshot(request))
    })
}

/// The socket as hyper sees it: reads stop at the end of each request whose head gives its
/// length, and before the next one is read its head is looked at; if it is a plain long poll,
/// hyper is told the input ended (once its answer is flushed), which ends its connection without
/// closing the socket (`handed_back`).
struct HyperTurn {
    stream: TcpStream,
    /// Bytes of the current request hyper has not read yet; `None` once hyper reads freely.
    unread: Option<usize>,
    /// Whether hyper has written anything for the current request.
    wrote: bool,
    /// Whether everything hyper wrote has been flushed.
    flushed: bool,
    /// Whether the next request is a long poll, left unread for `connection`.
    handed_back: bool,
    /// hyper's read, waiting for its answer to be flushed.
    read_waker: Option<Waker>,
}

impl AsyncRead for HyperTurn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(mut unread) = this.unread else {
            return Pin::new(&mut this.stream).poll_read(cx, buf);
        };
        if unread == 0 {
            // hyper asks for the next request (it reads nothing while one is in progress).
            if !this.wrote {
                // hyper wants more of this request than its head stated: the two parsers
                // disagree, so the connection ends here.
                return Poll::Ready(Ok(()));
            }
            if !this.flushed {
                this.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            match ready!(peek_request(&this.stream, cx))? {
                Next::LongPoll { .. } => {
                    this.handed_back = true;
                    return Poll::Ready(Ok(()));
                }
                Next::Closed => return Poll::Ready(Ok(())),
                Next::Plain { length } => unread = length,
                Next::Unusual => {
                    this.unread = None;
                    return Pin::new(&mut this.stream).poll_read(cx, buf);
                }
            }
            this.wrote = false;
        }
        let mut limited = buf.take(unread);
        ready!(Pin::new(&mut this.stream).poll_read(cx, &mut limited))?;
        let read = limited.filled().len();
        // SAFETY: `limited` is the start of `buf`'s unfilled part, and the socket filled `read`
        // bytes of it.
        unsafe { buf.assume_init(read) };
        buf.advance(read);
        this.unread = Some(unread - read);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for HyperTurn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        (this.wrote, this.flushed) = (true, false);
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        (this.wrote, this.flushed) = (true, false);
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        // hyper flushes the socket only once its own buffer is empty.
        this.flushed = true;
        if let Some(waker) = this.read_waker.take() {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::{get, post};
    use bytes::Bytes;
    use tokio::sync::{Notify, oneshot};

    use super::*;

    /// A server on a free port: `/api/qr/poll` answers a body of `now` at once and waits for
    /// `release` otherwise (counting waits that were dropped unfinished), `/plain` answers
    /// `plain`, `/echo` echoes its body.
    struct TestServer {
        addr: SocketAddr,
        release: Arc<Notify>,
        abandoned: Arc<AtomicUsize>,
        stop: Option<oneshot::Sender<()>>,
        stopped: tokio::task::JoinHandle<()>,
    }

    impl TestServer {
        /// Waits up to a second for `count` waits in all to have been dropped unfinished.
        async fn until_abandoned(&self, count: usize) {
            for _ in 0..50 {
                if self.abandoned.load(Ordering::SeqCst) >= count {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("a wait outlived its client by a second");
        }
    }

    struct CountIfDropped(Arc<AtomicUsize>);
    impl Drop for CountIfDropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn test_server() -> TestServer {
        let release = Arc::new(Notify::new());
        let abandoned = Arc::new(AtomicUsize::new(0));
        let (waiting, dropped) = (release.clone(), abandoned.clone());
        let router = Router::new()
            .route(
                LONG_POLLS[0],
                post(
                    move |ConnectInfo(peer): ConnectInfo<SocketAddr>, body: Bytes| {
                        let (release, abandoned) = (waiting.clone(), dropped.clone());
                        async move {
                            if &body[..] != b"now" {
                                let guard = CountIfDropped(abandoned);
                                release.notified().await;
                                std::mem::forget(guard);
                            }
                            format!("{} from {}", String::from_utf8_lossy(&body), peer.ip())
                        }
                    },
                ),
            )
            .route("/plain", get(|| async { "plain" }))
            .route("/echo", post(|body: Bytes| async move { body }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = tokio::spawn(serve(listener, router, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            release,
            abandoned,
            stop: Some(stop),
            stopped,
        }
    }

    const POLL_NOW: &[u8] =
        b"POST /api/qr/poll HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\nnow";
    const POLL_WAIT: &[u8] =
        b"POST /api/qr/poll HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nwait";
    const PLAIN: &[u8] = b"GET /plain HTTP/1.1\r\nhost: x\r\n\r\n";

    /// Reads one response: status, lower-cased head, body (by its `content-length`, or chunked).
    async fn response(stream: &mut TcpStream) -> (u16, String, String) {
        let mut bytes = Vec::new();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = parsed.parse(&bytes).unwrap() {
                let head_text = String::from_utf8_lossy(&bytes[..head]).to_lowercase();
                let length = parsed
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| {
                        std::str::from_utf8(h.value)
                            .unwrap()
                            .parse::<usize>()
                            .unwrap()
                    });
                let status = parsed.code.unwrap();
                if let Some(length) = length {
                    while bytes.len() < head + length {
                        read_more(stream, &mut bytes).await;
                    }
                    let body = String::from_utf8_lossy(&bytes[head..head + length]).into_owned();
                    return (status, head_text, body);
                }
                assert!(
                    head_text.contains("transfer-encoding: chunked"),
                    "{head_text}"
                );
                while !bytes.ends_with(b"0\r\n\r\n") {
                    read_more(stream, &mut bytes).await;
                }
                return (
                    status,
                    head_text,
                    String::from_utf8_lossy(&bytes[head..]).into_owned(),
                );
            }
            read_more(stream, &mut bytes).await;
        }
    }

    /// Reads one byte at a time, so no byte of a following response is taken.
    async fn read_more(stream: &mut TcpStream, bytes: &mut Vec<u8>) {
        let mut byte = [0; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert_eq!(
            read, 1,
            "the server closed the connection mid-answer: {bytes:?}"
        );
        bytes.push(byte[0]);
    }

    async fn closed_by_server(stream: &mut TcpStream) -> bool {
        let mut byte = [0; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    #[tokio::test]
    async fn one_connection_takes_plain_requests_and_long_polls_in_turn() {
        let server = test_server().await;
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        for _ in 0..2 {
            client.write_all(PLAIN).await.unwrap();
            assert_eq!(response(&mut client).await.2, "plain");
            client.write_all(POLL_NOW).await.unwrap();
            let (status, head, body) = response(&mut client).await;
            assert_eq!((status, body.as_str()), (200, "now from 127.0.0.1"));
            assert!(
                head.contains("\r\ndate: ") && head.contains("content-type: text/plain"),
                "{head}"
            );
            assert!(!head.contains("connection: close"), "{head}");
        }
        // A long poll that waits, then is answered, on the same connection.
        client.write_all(POLL_WAIT).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.release.notify_one();
        assert_eq!(response(&mut client).await.2, "wait from 127.0.0.1");
        client.write_all(PLAIN).await.unwrap();
        assert_eq!(response(&mut client).await.2, "plain");
    }

    #[tokio::test]
    async fn pipelined_requests_are_answered_in_order() {
        let server = test_server().await;
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        client
            .write_all(&[PLAIN, POLL_NOW, PLAIN, POLL_NOW].concat())
            .await
            .unwrap();
        for expected in ["plain", "now from 127.0.0.1", "plain", "now from 127.0.0.1"] {
            assert_eq!(response(&mut client).await.2, expected);
        }
    }

    /// Also shows that a long poll after plain requests is answered below hyper: hyper, which
    /// allows half-closes, would not notice the client leaving.
    #[tokio::test]
    async fn a_client_that_leaves_ends_its_wait() {
        let server = test_server().await;
        for (left, plain_first) in [(1, false), (2, true)] {
            let mut client = TcpStream::connect(server.addr).await.unwrap();
            if plain_first {
                client.write_all(PLAIN).await.unwrap();
                assert_eq!(response(&mut client).await.2, "plain");
            }
            client.write_all(POLL_WAIT).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(server.abandoned.load(Ordering::SeqCst), left - 1);
            drop(client);
            server.until_abandoned(left).await;
        }
    }

    #[tokio::test]
    async fn a_client_that_leaves_a_poll_hyper_serves_ends_its_wait_too() {
        let server = test_server().await;
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        client
            .write_all(b"POST /api/qr/poll HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n4\r\nwait\r\n0\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(client);
        server.until_abandoned(1).await;
    }

    #[tokio::test]
    async fn a_next_request_sent_early_does_not_end_a_wait() {
        let server = test_server().await;
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        client
            .write_all(&[POLL_WAIT, PLAIN].concat())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.release.notify_one();
        assert_eq!(response(&mut client).await.2, "wait from 127.0.0.1");
        assert_eq!(response(&mut client).await.2, "plain");
        assert_eq!(server.abandoned.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn connection_close_and_http_1_0_end_the_connection_after_the_answer() {
        let server = test_server().await;
        let requests: [&[u8]; 3] = [
            b"GET /plain HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            b"POST /api/qr/poll HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 3\r\n\r\nnow",
            b"GET /plain HTTP/1.0\r\n\r\n",
        ];
        for request in requests {
            let mut client = TcpStream::connect(server.addr).await.unwrap();
            client.write_all(request).await.unwrap();
            let (status, _, _) = response(&mut client).await;
            assert_eq!(status, 200);
            assert!(
                closed_by_server(&mut client).await,
                "{}",
                String::from_utf8_lossy(request)
            );
        }
    }

    #[tokio::test]
    async fn unusual_requests_are_hyper_s_for_the_rest_of_the_connection() {
        let server = test_server().await;
        // A chunked body.
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        client
            .write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(response(&mut client).await.2, "hello");
        client.write_all(POLL_NOW).await.unwrap();
        assert_eq!(response(&mut client).await.2, "now from 127.0.0.1");
        // A head that arrives in two parts.
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        client.write_all(&POLL_NOW[..20]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.write_all(&POLL_NOW[20..]).await.unwrap();
        assert_eq!(response(&mut client).await.2, "now from 127.0.0.1");
        client.write_all(PLAIN).await.unwrap();
        assert_eq!(response(&mut client).await.2, "plain");
        // Two lengths: hyper refuses it, and no byte of it is read as a request of its own.
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        client
            .write_all(b"POST /api/qr/poll HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ncontent-length: 40\r\n\r\nnow")
            .await
            .unwrap();
        assert_eq!(response(&mut client).await.0, 400);
        assert!(closed_by_server(&mut client).await);
    }

    #[tokio::test]
    async fn stopping_closes_idle_connections_and_finishes_busy_ones() {
        let mut server = test_server().await;
        let mut idle = TcpStream::connect(server.addr).await.unwrap();
        idle.write_all(PLAIN).await.unwrap();
        assert_eq!(response(&mut idle).await.2, "plain");
        let mut waiting = TcpStream::connect(server.addr).await.unwrap();
        waiting.write_all(POLL_WAIT).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.stop.take().unwrap().send(()).unwrap();
        assert!(closed_by_server(&mut idle).await);
        assert!(!server.stopped.is_finished());
        server.release.notify_one();
        let (status, head, body) = response(&mut waiting).await;
        assert_eq!((status, body.as_str()), (200, "wait from 127.0.0.1"));
        assert!(head.contains("connection: close"), "{head}");
        assert!(closed_by_server(&mut waiting).await);
        tokio::time::timeout(Duration::from_secs(5), server.stopped)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn only_plain_long_polls_are_answered_below_hyper() {
        let poll = b"POST /api/notices/poll HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(
            classify(poll),
            Next::LongPoll {
                head: poll.len() - 2,
                body: 2
            }
        );
        let query = b"POST /api/qr/poll?x=1 HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(
            classify(query),
            Next::Plain {
                length: query.len()
            }
        );
        let old = b"POST /api/qr/poll HTTP/1.0\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(classify(old), Next::Plain { length: old.len() });
        let expect =
            b"POST /api/qr/poll HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n";
        assert_eq!(
            classify(expect),
            Next::Plain {
                length: expect.len() + 2
            }
        );
        let big = b"POST /api/qr/poll HTTP/1.1\r\ncontent-length: 5000\r\n\r\n";
        assert_eq!(
            classify(big),
            Next::Plain {
                length: big.len() + 5000
            }
        );
        for unusual in [
            &b"POST /api/qr/poll HTTP/1.1\r\ncontent-length: +2\r\n\r\n{}"[..],
            b"POST /api/qr/poll HTTP/1.1\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\n{}",
            b"POST /api/qr/poll HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nupgrade: websocket\r\n\r\n",
            b"POST /api/qr/poll HTTP/1.1\r\ncontent-le",
            b"POST /api/qr/poll HTTP/1.1\r\nbad header\r\n\r\n",
        ] {
            assert_eq!(
                classify(unusual),
                Next::Unusual,
                "{}",
                String::from_utf8_lossy(unusual)
            );
        }
    }
}
