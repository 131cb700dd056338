//! Serving connections: HTTP/1.1 over TCP with a deadline on every phase of
//! a connection, a cap on how many are open at once, and an accept loop that
//! backs off when the process runs out of file descriptors.
//!
//! poem's own `Server` is not used: it gives hyper no timer, so hyper's
//! header-read timeout never fires; its idle timeout is renewed by every
//! byte, so a client trickling a request keeps it alive; and its accept loop
//! retries a failing `accept` at once, which spins when descriptors run out.
//! hyper's header-read timeout is not used either: it starts as soon as a
//! connection waits for a request, so it cannot tell an idle keep-alive
//! connection from one that is slowly sending its headers.
//!
//! The deadlines (each off when zero):
//! - **idle**: a connection waiting for a request, new or kept alive after
//!   an answer, is closed when no byte of the next request arrives in time;
//!   an answer that the client does not take in that time closes it too, so
//!   a slow reader cannot keep a large answer in memory for long;
//! - **header**: once the first byte of a request has arrived, its request
//!   line and headers must be complete in time, however slowly they trickle;
//! - **body**: once the headers are in, the body must be complete in time
//!   (reading it then fails, and the answer is a 408).
//!
//! At the cap, a new connection takes the place of the connection that has
//! waited longest without a request under way (so idle or half-sent
//! connections cannot lock out real clients); when every connection is busy
//! with a request, new ones wait in the kernel's queue. Only HTTP/1.1 is
//! served: Tangerine sits behind a TLS proxy, browsers never speak HTTP/2 in
//! clear text, and hyper's HTTP/2 server has no deadlines of these kinds.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, combinators::BoxBody};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use poem::{
    Endpoint, IntoResponse,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, watch},
    time::{Instant, Sleep},
};

/// The most a connection's read buffer, and so a request's line and
/// headers, may hold (browsers send a few kilobytes).
const MAX_HEAD: usize = 64 * 1024;

/// The deadlines and the cap; a zero duration or count turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    pub idle: Duration,
    pub header: Duration,
    pub body: Duration,
}

fn on(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops
/// accepting, lets requests under way finish for up to `grace`, and closes
/// what is left.
pub async fn serve<E>(
    listener: TcpListener,
    app: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()>
where
    E: Endpoint + 'static,
{
    let app = Arc::new(app);
    let local = LocalAddr(listener.local_addr()?.into());
    let open = Arc::new(Registry::new(limits.max_connections));
    let (stop, stopped) = watch::channel(None::<Instant>);
    let mut backoff = Backoff::default();
    tokio::pin!(shutdown);

    loop {
        // At the cap with every connection busy: new ones wait in the queue.
        if open.full() && !open.any_idle() {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
            }
        }
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.reset();
                accepted
            }
            Err(e) if out_of_descriptors(&e) => {
                // Closing an idle connection hands a descriptor back; either
                // way, wait before trying again rather than spin on the error.
                open.evict_idlest();
                backoff.wait(&e).await;
                continue;
            }
            // The peer gave up before it was accepted: nothing to do.
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                backoff.wait(&e).await;
                continue;
            }
        };
        if open.full() {
            open.evict_idlest();
        }
        let slot = open.admit();
        tokio::spawn(serve_connection(Connection {
            stream,
            slot,
            app: app.clone(),
            local: local.clone(),
            remote: RemoteAddr(peer.into()),
            limits,
            stopped: stopped.clone(),
        }));
    }

    drop(listener);
    let _ = stop.send(Some(Instant::now() + grace));
    // Every connection ends by the grace deadline; wait for them to go.
    let deadline = Instant::now() + grace + Duration::from_secs(1);
    while !open.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// `accept` failed because this process or the system has no descriptor
/// (or buffer) left for another socket.
fn out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = e;
        false
    }
}

/// `accept` failed for this one connection only.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Waits between failing accepts: 5 ms, doubling up to a second, logged
/// once per run of failures.
#[derive(Default)]
struct Backoff {
    delay: Option<Duration>,
}

impl Backoff {
    fn reset(&mut self) {
        self.delay = None;
    }

    async fn wait(&mut self, e: &io::Error) {
        let delay = match self.delay {
            None => {
                tracing::warn!(error = %e, "accepting connections failed; backing off");
                Duration::from_millis(5)
            }
            Some(d) => (d * 2).min(Duration::from_secs(1)),
        };
        self.delay = Some(delay);
        tokio::time::sleep(delay).await;
    }
}

/// The open connections, for the cap and for choosing which one to close
/// when a new one needs its place.
struct Registry {
    max: usize,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
    started: std::time::Instant,
}

impl Registry {
    fn new(max: usize) -> Self {
        Self {
            max,
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            started: std::time::Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        // Entries are plain handles: nothing a panic could leave half-done.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn full(&self) -> bool {
        self.max > 0 && self.lock().len() >= self.max
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn any_idle(&self) -> bool {
        self.lock().values().any(|a| a.evictable())
    }

    /// Closes the connection that has waited longest with no request under
    /// way, if there is one.
    fn evict_idlest(&self) -> bool {
        let open = self.lock();
        let idlest = open
            .values()
            .filter(|a| a.evictable())
            .min_by_key(|a| a.waiting_since.load(Ordering::Relaxed));
        match idlest {
            Some(activity) => {
                activity.evicted.store(true, Ordering::Relaxed);
                activity.evict.notify_one();
                true
            }
            None => false,
        }
    }

    fn admit(self: &Arc<Self>) -> Slot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            state: AtomicU64::new(0),
            waiting_since: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
            started: self.started,
        });
        activity
            .waiting_since
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.lock().insert(id, activity.clone());
        Slot {
            id,
            registry: self.clone(),
            activity,
        }
    }
}

/// A connection's place in the registry, given back when it closes.
struct Slot {
    id: u64,
    registry: Arc<Registry>,
    activity: Arc<Activity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// What a connection is doing, shared by its requests (which say when one
/// begins and ends) and its socket (which applies the deadline that fits).
struct Activity {
    /// Bumped at every change; odd while a request is under way.
    state: AtomicU64,
    /// When the connection last began waiting for a request (milliseconds
    /// since the server started): the longest-waiting is closed first.
    waiting_since: AtomicU64,
    evicted: AtomicBool,
    evict: Notify,
    started: std::time::Instant,
}

impl Activity {
    /// A request's headers are in: the connection is busy with it.
    fn handling(&self) {
        self.state.fetch_add(1, Ordering::Relaxed);
    }

    /// The request's answer is ready: the connection waits for the next.
    fn waiting(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.waiting_since.store(ms, Ordering::Relaxed);
        self.state.fetch_add(1, Ordering::Relaxed);
    }

    fn evictable(&self) -> bool {
        !busy(self.state.load(Ordering::Relaxed)) && !self.evicted.load(Ordering::Relaxed)
    }
}

/// Whether an [`Activity`] state is that of a request under way.
fn busy(state: u64) -> bool {
    state & 1 == 1
}

struct Connection<E> {
    stream: TcpStream,
    slot: Slot,
    app: Arc<E>,
    local: LocalAddr,
    remote: RemoteAddr,
    limits: ConnectionLimits,
    stopped: watch::Receiver<Option<Instant>>,
}

async fn serve_connection<E: Endpoint + 'static>(c: Connection<E>) {
    let Connection {
        stream,
        slot,
        app,
        local,
        remote,
        limits,
        mut stopped,
    } = c;
    let activity = slot.activity.clone();
    let io = TokioIo::new(Deadlines::new(stream, activity.clone(), limits));
    let body_deadline = on(limits.body);
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |req: hyper::Request<Incoming>| {
            activity.handling();
            let (app, local, remote, activity) =
                (app.clone(), local.clone(), remote.clone(), activity.clone());
            async move {
                let req = poem_request(req, local, remote, body_deadline);
                let resp = app.get_response(req).await.into_response();
                // The idle deadline starts with the answer's first write
                // (see `Deadlines::arm`).
                activity.waiting();
                Ok::<_, Infallible>(hyper::Response::<BoxBody<Bytes, io::Error>>::from(resp))
            }
        }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        // A request line and headers longer than this get 431: what each
        // of the open connections may make the server hold for them.
        .max_buf_size(MAX_HEAD)
        // Deadlines are kept by `Deadlines`; see the module's documentation.
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = activity.evict.notified() => {
                // A request that began as it was chosen is served all the same.
                if busy(activity.state.load(Ordering::Relaxed)) {
                    activity.evicted.store(false, Ordering::Relaxed);
                    continue;
                }
                break;
            }
            _ = stopped.changed() => {
                let grace = *stopped.borrow();
                if let Some(deadline) = grace {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout_at(deadline, conn).await;
                }
                break;
            }
        }
    }
    drop(slot);
}

/// The request as poem sees it; a body, when there is one, fails to read
/// once `body_deadline` has passed.
fn poem_request(
    req: hyper::Request<Incoming>,
    local: LocalAddr,
    remote: RemoteAddr,
    body_deadline: Option<Duration>,
) -> poem::Request {
    use hyper::body::Body as _;
    let has_body = !req.body().is_end_stream();
    let mut req = poem::Request::from((req, local, remote, Scheme::HTTP));
    if let (true, Some(limit)) = (has_body, body_deadline) {
        let body: BoxBody<Bytes, io::Error> = req.take_body().into();
        let timed = DeadlineBody {
            inner: body,
            sleep: Box::pin(tokio::time::sleep(limit)),
        };
        req.set_body(poem::Body::from(timed.boxed()));
    }
    req
}

/// A request body that fails with `TimedOut` when it has not arrived by
/// its deadline.
struct DeadlineBody {
    inner: BoxBody<Bytes, io::Error>,
    sleep: Pin<Box<Sleep>>,
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, io::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => {
                ready!(self.sleep.as_mut().poll(cx));
                Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                ))))
            }
            ready => ready,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, with the deadline of what the connection is doing: reads
/// and writes that cannot go on past it fail with `TimedOut`, and hyper
/// closes the connection.
struct Deadlines {
    io: TcpStream,
    activity: Arc<Activity>,
    limits: ConnectionLimits,
    /// The state of `activity` that `deadline` was set for.
    seen: u64,
    /// Whether a byte of the awaited request has arrived.
    started: bool,
    deadline: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
}

impl Deadlines {
    fn new(io: TcpStream, activity: Arc<Activity>, limits: ConnectionLimits) -> Self {
        let deadline = on(limits.idle).map(|d| Instant::now() + d);
        let far = Instant::now() + Duration::from_secs(86400 * 365);
        Self {
            io,
            seen: activity.state.load(Ordering::Relaxed),
            activity,
            limits,
            started: false,
            deadline,
            sleep: Box::pin(tokio::time::sleep_until(deadline.unwrap_or(far))),
        }
    }

    /// Follows a request beginning (no deadline of ours: the handler's time
    /// is ours, the body has its own) or ending (wait for the next one).
    fn follow(&mut self) {
        let state = self.activity.state.load(Ordering::Relaxed);
        if state == self.seen {
            return;
        }
        self.seen = state;
        self.started = false;
        self.deadline = if busy(state) {
            None
        } else {
            on(self.limits.idle).map(|d| Instant::now() + d)
        };
    }

    /// The first byte of a request starts the header deadline.
    fn received(&mut self, n: usize) {
        if n > 0 && !self.started && !busy(self.seen) {
            self.started = true;
            if let Some(header) = on(self.limits.header) {
                self.deadline = Some(Instant::now() + header);
            }
        }
    }

    /// Sets the timer going for the deadline under way, if any, so that it
    /// wakes the connection when it passes. Called after each write: once
    /// an answer is written the connection may wait for the next request
    /// without hyper reading the socket again (it read it, and was told "not
    /// ready", while the request was handled), and then only the timer can
    /// end the wait. A deadline already passed wakes the connection at once,
    /// to meet it at its next read or write, which fails.
    fn arm(&mut self, cx: &mut Context<'_>) {
        if self.expired(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
    }

    /// Called when the socket is not ready: fails once the deadline passed.
    ///
    /// The timer is moved only when the deadline comes sooner than it is
    /// set for. A deadline that moved later (the next idle wait, after each
    /// answer) leaves the timer where it is; when it fires early it is set
    /// again for the real deadline. So a busy keep-alive connection resets
    /// its timer about once per idle period rather than once per request.
    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
        loop {
            ready!(self.sleep.as_mut().poll(cx));
            if Instant::now() >= deadline {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection's deadline passed",
                ));
            }
            self.sleep.as_mut().reset(deadline);
        }
    }
}

impl AsyncRead for Deadlines {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.follow();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.received(buf.filled().len() - before);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.expired(cx).map(Err),
        }
    }
}

impl AsyncWrite for Deadlines {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.follow();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Pending => this.expired(cx).map(Err),
            done => {
                this.arm(cx);
                done
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.follow();
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.expired(cx).map(Err),
            done => {
                this.arm(cx);
                done
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.expired(cx).map(Err),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
