//! Idle HTTP/1 keep-alive connections hold their socket and not hyper's buffers (ADR 0031).
//!
//! hyper gives every connection an 8 KiB read buffer and an 8 KiB write buffer and keeps both for
//! as long as the connection lives: 10,000 idle keep-alive connections took about 180 MiB. Here a
//! connection that has been idle for [`PARK_AFTER`] between two requests is *parked*: its hyper
//! connection ends as if the client had closed it, the socket stays open in a small task that
//! waits for the client's next bytes, and then [`ParkingListener::accept`] hands the same socket to
//! a new hyper connection. The client sees one keep-alive connection throughout.
//!
//! A connection is parked only where nothing can be lost: no request is in flight (its response
//! body is done), it was not upgraded (WebSocket), and the last bytes read end a request head
//! (`\r\n\r\n`), so hyper holds no part of a next request. Its own read ends: it is handed an
//! end of file, and shutting the socket down is skipped.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Sleep;
use tower::Service;

/// How long a keep-alive connection waits between requests before it is parked. Short: the
/// buffers of connections that have gone quiet are what sets the peak when many connect at once,
/// and waking a parked connection costs a few microseconds (a new hyper connection and its task).
pub const PARK_AFTER: Duration = Duration::from_millis(100);

/// The end of a request head.
const HEAD_END: [u8; 4] = *b"\r\n\r\n";

/// A TCP listener whose connections are parked while idle; serve it with [`axum::serve`] and
/// [`ParkedService`].
pub struct ParkingListener {
    tcp: TcpListener,
    park_after: Duration,
    woken_tx: mpsc::UnboundedSender<(TcpStream, SocketAddr)>,
    woken_rx: mpsc::UnboundedReceiver<(TcpStream, SocketAddr)>,
    counts: Arc<ParkingCounts>,
}

/// How many connections were parked, and how many are parked now.
#[derive(Debug, Default)]
pub struct ParkingCounts {
    parked_total: AtomicU64,
    parked_now: AtomicUsize,
}

impl ParkingCounts {
    /// Connections parked since start (a connection parked twice counts twice).
    pub fn parked_total(&self) -> u64 {
        self.parked_total.load(Ordering::Relaxed)
    }

    /// Connections parked at this moment.
    pub fn parked_now(&self) -> usize {
        self.parked_now.load(Ordering::Relaxed)
    }
}

impl ParkingListener {
    pub fn new(tcp: TcpListener, park_after: Duration) -> Self {
        let (woken_tx, woken_rx) = mpsc::unbounded_channel();
        Self {
            tcp,
            park_after,
            woken_tx,
            woken_rx,
            counts: Arc::default(),
        }
    }

    pub fn counts(&self) -> Arc<ParkingCounts> {
        self.counts.clone()
    }

    fn wrap(&self, stream: TcpStream, peer: SocketAddr) -> ParkingStream {
        ParkingStream {
            stream: Some(stream),
            peer,
            shared: Arc::default(),
            park_after: self.park_after,
            idle_from: None,
            idle_timer: None,
            tail: [0; 4],
            parking: false,
            woken_tx: self.woken_tx.clone(),
            counts: self.counts.clone(),
        }
    }
}

impl Listener for ParkingListener {
    type Io = ParkingStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                biased;
                Some((stream, peer)) = self.woken_rx.recv() => {
                    self.counts.parked_now.fetch_sub(1, Ordering::Relaxed);
                    return (self.wrap(stream, peer), peer);
                }
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, peer)) => return (self.wrap(stream, peer), peer),
                    Err(error) => accept_failed(error).await,
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// As axum's own listener does: a connection that failed before it was accepted is not the
/// listener's problem; anything else (out of file descriptors) is logged and retried in a second.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What a connection's socket and its service both know.
#[derive(Debug, Default)]
struct ConnectionState {
    in_flight: AtomicUsize,
    upgraded: AtomicBool,
}

/// One accepted (or woken) connection's socket, as hyper reads and writes it.
pub struct ParkingStream {
    /// Taken when the connection is parked.
    stream: Option<TcpStream>,
    peer: SocketAddr,
    shared: Arc<ConnectionState>,
    park_after: Duration,
    /// When the connection last went idle (unset while it reads).
    idle_from: Option<tokio::time::Instant>,
    /// Wakes the reader when the connection may have been idle for `park_after`.
    idle_timer: Option<Pin<Box<Sleep>>>,
    /// The last four bytes read.
    tail: [u8; 4],
    /// Set when hyper was handed the end of file that ends its connection.
    parking: bool,
    woken_tx: mpsc::UnboundedSender<(TcpStream, SocketAddr)>,
    counts: Arc<ParkingCounts>,
}

impl ParkingStream {
    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection parked"))
    }

    /// Whether the connection is idle and has been for `park_after`. While it is idle and not yet
    /// long enough, the idle timer will wake the reader (hyper) to ask again.
    fn idle_long_enough(&mut self, cx: &mut Context<'_>) -> bool {
        let idle = self.tail == HEAD_END
            && self.shared.in_flight.load(Ordering::Acquire) == 0
            && !self.shared.upgraded.load(Ordering::Acquire);
        if !idle {
            return false;
        }
        let now = tokio::time::Instant::now();
        let deadline = *self.idle_from.get_or_insert(now) + self.park_after;
        if now >= deadline {
            return true;
        }
        // One timer for the connection's life, moved on only when it fires: a connection asked
        // more often than every `park_after` moves it at most once per `park_after`.
        let timer = self
            .idle_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_ready() {
            timer.as_mut().reset(deadline);
            // Registers this reader to be woken at the new deadline (which is still ahead).
            let _ = timer.as_mut().poll(cx);
        }
        false
    }
}

/// The last four bytes of a stream that ended with `tail` and then read `read`.
fn last_four(tail: [u8; 4], read: &[u8]) -> [u8; 4] {
    let mut out = tail;
    if read.len() >= 4 {
        out.copy_from_slice(&read[read.len() - 4..]);
    } else {
        out.copy_within(read.len().., 0);
        out[4 - read.len()..].copy_from_slice(read);
    }
    out
}

impl AsyncRead for ParkingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(this.stream()?).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    this.tail = last_four(this.tail, read);
                    this.idle_from = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending if this.idle_long_enough(cx) => {
                // An end of file: hyper ends an idle connection on it without writing anything.
                this.parking = true;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for ParkingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.stream()?).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.stream()?).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.stream()?).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.parking {
            // The socket outlives this hyper connection.
            return Poll::Ready(Ok(()));
        }
        Pin::new(self.stream()?).poll_shutdown(cx)
    }
}

impl Drop for ParkingStream {
    fn drop(&mut self) {
        if !self.parking {
            return;
        }
        let (Some(stream), Ok(runtime)) =
            (self.stream.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let (peer, woken_tx) = (self.peer, self.woken_tx.clone());
        self.counts.parked_total.fetch_add(1, Ordering::Relaxed);
        self.counts.parked_now.fetch_add(1, Ordering::Relaxed);
        let counts = self.counts.clone();
        runtime.spawn(async move {
            tokio::select! {
                // Bytes of the next request, or the client closing: either is hyper's to read.
                ready = stream.readable() => {
                    if ready.is_ok() && woken_tx.send((stream, peer)).is_ok() {
                        return;
                    }
                }
                // The listener is gone: the server is stopping, and the connection closes.
                () = woken_tx.closed() => {}
            }
            counts.parked_now.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Makes the service of each connection of a [`ParkingListener`]: the router, with the peer's
/// address as `ConnectInfo<SocketAddr>` and each request counted while in flight.
#[derive(Clone)]
pub struct ParkedService {
    router: Router,
}

impl ParkedService {
    pub fn new(router: Router) -> Self {
        Self { router }
    }
}

impl Service<IncomingStream<'_, ParkingListener>> for ParkedService {
    type Response = ConnectionService;
    type Error = Infallible;
    type Future = std::future::Ready<Result<ConnectionService, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, incoming: IncomingStream<'_, ParkingListener>) -> Self::Future {
        std::future::ready(Ok(ConnectionService {
            router: self.router.clone(),
            peer: *incoming.remote_addr(),
            shared: incoming.io().shared.clone(),
        }))
    }
}

/// One connection's service: see [`ParkedService`].
#[derive(Clone)]
pub struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    shared: Arc<ConnectionState>,
}

impl Service<Request> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let in_flight = InFlight::new(self.shared.clone());
        let response = self.router.call(request);
        Box::pin(async move {
            let response = response.await?;
            if response.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS {
                in_flight.0.upgraded.store(true, Ordering::Release);
            }
            Ok(response.map(|body| {
                Body::new(CountedBody {
                    body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// A request in flight on its connection, from its head until its response body is dropped.
struct InFlight(Arc<ConnectionState>);

impl InFlight {
    fn new(shared: Arc<ConnectionState>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(shared)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is dropped.
struct CountedBody {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const SHORT: Duration = Duration::from_millis(100);
    const LONGER: Duration = Duration::from_millis(400);

    /// A server on loopback parking after [`SHORT`]; returns its address, its counts and the
    /// sender that stops it.
    async fn server() -> (
        SocketAddr,
        Arc<ParkingCounts>,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let slow_body = || async {
            let chunks = futures_util::stream::unfold(0, |sent| async move {
                if sent == 2 {
                    return None;
                }
                tokio::time::sleep(LONGER).await;
                Some((Ok::<_, Infallible>(Bytes::from_static(b"tick")), sent + 1))
            });
            Body::from_stream(chunks)
        };
        let router = Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route("/slow", get(slow_body))
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            );
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = tcp.local_addr().expect("address");
        let listener = ParkingListener::new(tcp, SHORT);
        let counts = listener.counts();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            axum::serve(listener, ParkedService::new(router))
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
        });
        (address, counts, stop, serving)
    }

    /// Reads from `stream` until what was read ends with `end`.
    async fn read_until(stream: &mut TcpStream, end: &str) -> String {
        let mut read = Vec::new();
        let mut chunk = [0u8; 4096];
        while !read.ends_with(end.as_bytes()) {
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
                .await
                .expect("an answer within 5 s")
                .expect("read");
            assert!(
                n > 0,
                "closed before {end:?}; read {:?}",
                String::from_utf8_lossy(&read)
            );
            read.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&read).into_owned()
    }

    const HELLO: &[u8] = b"GET /hello HTTP/1.1\r\nhost: test\r\n\r\n";

    #[tokio::test]
    async fn an_idle_connection_is_parked_and_serves_its_next_request() {
        let (address, counts, _stop, _serving) = server().await;
        let mut client = TcpStream::connect(address).await.expect("connect");
        client.write_all(HELLO).await.expect("write");
        read_until(&mut client, "hello").await;
        tokio::time::sleep(LONGER).await;
        assert_eq!((counts.parked_total(), counts.parked_now()), (1, 1));

        // The same socket, woken by its next request; the peer address is still the client's.
        client
            .write_all(b"GET /peer HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("write");
        let local = client.local_addr().expect("local address").to_string();
        read_until(&mut client, &local).await;
        assert_eq!(counts.parked_now(), 0);
        // Parked again once idle, and woken again.
        tokio::time::sleep(LONGER).await;
        assert_eq!((counts.parked_total(), counts.parked_now()), (2, 1));
        client.write_all(HELLO).await.expect("write");
        read_until(&mut client, "hello").await;
    }

    #[tokio::test]
    async fn a_half_sent_next_request_is_not_lost() {
        let (address, counts, _stop, _serving) = server().await;
        let mut client = TcpStream::connect(address).await.expect("connect");
        // A pipelining client: a whole request and the start of the next in one write.
        client
            .write_all(b"GET /hello HTTP/1.1\r\nhost: test\r\n\r\nGET /hel")
            .await
            .expect("write");
        read_until(&mut client, "hello").await;
        tokio::time::sleep(LONGER).await;
        assert_eq!(counts.parked_total(), 0, "hyper holds part of a request");
        client
            .write_all(b"lo HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("write");
        let answer = read_until(&mut client, "hello").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[tokio::test]
    async fn a_response_slower_than_the_delay_is_not_cut() {
        let (address, counts, _stop, _serving) = server().await;
        let mut client = TcpStream::connect(address).await.expect("connect");
        client
            .write_all(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("write");
        // Chunked: two chunks of "tick" a pause apart, then the last chunk.
        let answer = read_until(&mut client, "0\r\n\r\n").await;
        assert_eq!(answer.matches("tick").count(), 2, "{answer}");
        assert_eq!(counts.parked_total(), 0);
    }

    #[tokio::test]
    async fn stopping_the_server_closes_parked_connections() {
        let (address, counts, stop, serving) = server().await;
        let mut client = TcpStream::connect(address).await.expect("connect");
        client.write_all(HELLO).await.expect("write");
        read_until(&mut client, "hello").await;
        tokio::time::sleep(LONGER).await;
        assert_eq!(counts.parked_now(), 1);
        stop.send(()).expect("stop");
        tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("the server stops without waiting for parked connections")
            .expect("served");
        let mut rest = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut rest))
            .await
            .expect("closed within 5 s")
            .unwrap_or(0);
        assert_eq!(n, 0, "the parked connection is closed");
    }
}
