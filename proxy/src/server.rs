//! The proxy itself: takes the redirected connections, connects each to its real destination,
//! and copies both ways, shaping only what the node sends (as netem on the node's interface
//! would) and applying the toxic. Healing turns every shaping and toxic off for the open
//! connections too; the process then ends once the last connection closed.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use std::os::fd::AsRawFd;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::config::{Config, Toxic};
use crate::schedule::{Delay, Schedule, fnv1a};
use crate::sockopt;
use crate::stats::{Links, Report};

/// How long the proxy waits for a destination to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long after a refusal the proxy connects again.
const REFUSED_RETRY: Duration = Duration::from_millis(100);
/// Room made in the read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;
/// Below this much spare room the read buffer gets a fresh `READ_CHUNK`.
const MIN_READ_ROOM: usize = 4 * 1024;
/// Bytes read but not yet written, per direction of a shaped connection; reading stops (and
/// TCP pushes back on the sender) while this many are held.
const MAX_IN_FLIGHT: usize = 32 * 1024 * 1024;
/// The largest write under a bandwidth limit, so the pacing is smooth.
const PACED_SLICE: usize = 16 * 1024;
/// The buffer of a connection direction that is copied without shaping through user space.
const COPY_BUFFER: usize = 256 * 1024;
/// The pipe of a connection direction that is spliced.
const SPLICE_PIPE: usize = 1024 * 1024;
/// After a failed `accept`, e.g. out of file descriptors, wait this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A running proxy. Dropping it stops it and closes every connection it holds.
pub struct Proxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

struct Shared {
    config: Config,
    port: u16,
    healed: watch::Sender<bool>,
    links: Links,
    next_conn: AtomicU64,
}

impl Proxy {
    /// Listens on `0.0.0.0:<config.port>` and starts taking connections.
    pub async fn start(config: Config) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, config.port))
            .await
            .with_context(|| format!("listening on port {}", config.port))?;
        let addr = listener
            .local_addr()
            .context("reading the listening address")?;
        let (healed, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            port: addr.port(),
            healed,
            links: Links::default(),
            next_conn: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Proxy { shared, addr, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ends the fault: no more delay, bandwidth limit or toxic, also on open connections.
    pub fn heal(&self) {
        self.shared.healed.send_replace(true);
    }

    pub fn is_healed(&self) -> bool {
        *self.shared.healed.borrow()
    }

    /// Connections open now.
    pub fn active(&self) -> u64 {
        self.shared.links.active()
    }

    pub fn report(&self) -> Report {
        let config = &self.shared.config;
        Report {
            pid: std::process::id(),
            port: self.shared.port,
            toxic: config.toxic.name().to_string(),
            delay_ms: config.delay.delay.as_secs_f64() * 1000.0,
            jitter_ms: config.delay.jitter.as_secs_f64() * 1000.0,
            rate_bytes_per_sec: config.rate,
            healed: self.is_healed(),
            links: self.shared.links.snapshot(),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The accept loop owns its connections' `JoinSet`, so aborting it aborts them too.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, from)) => {
                    conns.spawn(serve(shared.clone(), client, from));
                }
                Err(e) => {
                    eprintln!("chaosbed-proxy: accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(done) = conns.join_next(), if !conns.is_empty() => {
                if let Err(e) = done && e.is_panic() {
                    eprintln!("chaosbed-proxy: a connection panicked: {e}");
                }
            }
        }
    }
}

/// Counts a connection as active on its link until dropped (also when its task is aborted).
struct Active {
    shared: Arc<Shared>,
    peer: Ipv4Addr,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.shared
            .links
            .update(self.peer, |s| s.active = s.active.saturating_sub(1));
    }
}

/// Where a taken connection was going, and which end is the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    destination: SocketAddrV4,
    /// The other end of the link: the destination of an outgoing connection, the source of
    /// an incoming one.
    peer: Ipv4Addr,
    /// The node opened it (it was not sent to the node's own address).
    outgoing: bool,
}

fn route(config: &Config, client: &TcpStream, from: SocketAddr) -> anyhow::Result<Route> {
    let local = client
        .local_addr()
        .context("reading the taken connection's address")?;
    let destination = match sockopt::original_destination(client) {
        // With conntrack but no redirect, the "original" destination is the proxy itself.
        Ok(original) if SocketAddr::V4(original) != local => original,
        _ => match config.fallback_destination {
            Some(destination) => destination,
            None => bail!("a connection from {from} to {local} was not redirected to the proxy"),
        },
    };
    let outgoing = *destination.ip() != config.node;
    let peer = match (outgoing, from) {
        (true, _) => *destination.ip(),
        (false, SocketAddr::V4(from)) => *from.ip(),
        (false, SocketAddr::V6(from)) => bail!("an IPv6 peer {from} (chaosbed shapes IPv4 links)"),
    };
    Ok(Route {
        destination,
        peer,
        outgoing,
    })
}

async fn serve(shared: Arc<Shared>, client: TcpStream, from: SocketAddr) {
    let route = match route(&shared.config, &client, from) {
        Ok(route) => route,
        Err(e) => {
            eprintln!("chaosbed-proxy: {e:#}");
            return;
        }
    };
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    shared.links.update(route.peer, |s| {
        s.connections += 1;
        s.outgoing += u64::from(route.outgoing);
        s.active += 1;
    });
    let _active = Active {
        shared: shared.clone(),
        peer: route.peer,
    };
    if let Err(e) = proxy(&shared, client, route, conn).await {
        eprintln!(
            "chaosbed-proxy: connection {conn} ({} {}): {e:#}",
            if route.outgoing { "to" } else { "from" },
            route.peer
        );
    }
}

/// How one connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The source closed; the close was passed on.
    Closed,
    /// limit-data: the connection's data reached the limit.
    Limited,
}

async fn proxy(
    shared: &Arc<Shared>,
    client: TcpStream,
    route: Route,
    conn: u64,
) -> anyhow::Result<()> {
    let mut healed = shared.healed.subscribe();
    let toxic = if *healed.borrow() {
        Toxic::None
    } else {
        shared.config.toxic
    };
    match toxic {
        Toxic::ResetPeer { after } => {
            tokio::select! {
                () = tokio::time::sleep(after) => {
                    shared.links.update(route.peer, |s| s.resets += 1);
                    sockopt::set_abortive_close(&client).context("setting an abortive close")?;
                    return Ok(());
                }
                // Healed before the reset was due: the connection goes on untouched.
                _ = healed.wait_for(|h| *h) => {}
            }
        }
        Toxic::Blackhole => {
            shared.links.update(route.peer, |s| s.held += 1);
            // Nothing read, nothing sent, no connection onwards until the fault heals.
            let _ = healed.wait_for(|h| *h).await;
        }
        _ => {}
    }
    let upstream = match connect(route.destination, shared.config.mark).await {
        Ok(upstream) => upstream,
        Err(e) => {
            shared.links.update(route.peer, |s| s.connect_failures += 1);
            // The client sees the refusal the destination gave.
            let _ = sockopt::set_abortive_close(&client);
            return Err(e);
        }
    };
    // Latency is what this proxy adds; Nagle would add more.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let seed =
        shared.config.seed ^ fnv1a(&route.peer.octets()) ^ conn.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let total = AtomicU64::new(0);
    let to_upstream = Pipe {
        shared,
        peer: route.peer,
        from_node: route.outgoing,
        seed,
        total: &total,
    };
    let to_client = Pipe {
        from_node: !route.outgoing,
        seed: seed.rotate_left(32) ^ 1,
        ..to_upstream
    };
    let forward = to_upstream.run(client_read, upstream_write);
    let backward = to_client.run(upstream_read, client_write);
    tokio::pin!(forward, backward);
    let (mut forward_done, mut backward_done) = (false, false);
    while !(forward_done && backward_done) {
        let end = tokio::select! {
            end = &mut forward, if !forward_done => { forward_done = true; end? }
            end = &mut backward, if !backward_done => { backward_done = true; end? }
        };
        if end == End::Limited {
            shared.links.update(route.peer, |s| s.limited += 1);
            // Dropping the other direction's halves closes the connection both ways.
            break;
        }
    }
    Ok(())
}

/// Connects onwards. The client's own connect already succeeded (the proxy accepted it), so a
/// refusal cannot reach it as one: a destination that refuses (a server not listening yet, as
/// a ZooKeeper leader just elected) is tried again until `CONNECT_TIMEOUT`, as the client
/// would have retried its refused connect, and only then is the client's connection reset.
async fn connect(destination: SocketAddrV4, mark: u32) -> anyhow::Result<TcpStream> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let socket = TcpSocket::new_v4().context("making a socket")?;
        if mark != 0 {
            sockopt::set_mark(&socket, mark).with_context(|| {
                format!("marking the connection to {destination} with {mark:#x}")
            })?;
        }
        let refused = match tokio::time::timeout_at(deadline, socket.connect(destination.into()))
            .await
        {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => e,
            Ok(Err(e)) => return Err(e).with_context(|| format!("connecting to {destination}")),
            Err(_) => bail!("connecting to {destination} timed out after {CONNECT_TIMEOUT:?}"),
        };
        if Instant::now() + REFUSED_RETRY >= deadline {
            return Err(refused).with_context(|| {
                format!("connecting to {destination}: refused for {CONNECT_TIMEOUT:?}")
            });
        }
        tokio::time::sleep(REFUSED_RETRY).await;
    }
}

/// One direction of a connection.
#[derive(Clone, Copy)]
struct Pipe<'a> {
    shared: &'a Arc<Shared>,
    peer: Ipv4Addr,
    /// These bytes are what the node sends: the only ones shaped.
    from_node: bool,
    seed: u64,
    /// Bytes of the connection so far, both ways (limit-data).
    total: &'a AtomicU64,
}

/// One read's worth of bytes on its way to the writer.
struct Chunk {
    data: Bytes,
    read_at: Instant,
    due: Instant,
    delayed: bool,
    /// Returned to the direction's byte budget once the chunk is written.
    _budget: OwnedSemaphorePermit,
}

impl Pipe<'_> {
    fn config(&self) -> &Config {
        &self.shared.config
    }

    fn healed(&self) -> bool {
        *self.shared.healed.borrow()
    }

    fn shaped(&self) -> bool {
        self.from_node && (!self.config().delay.is_zero() || self.config().rate.is_some())
    }

    /// How many of `n` bytes just read may pass under limit-data, and whether the limit is hit.
    fn within_limit(&self, n: usize) -> (usize, bool) {
        match self.config().toxic {
            Toxic::LimitData { bytes } if !self.healed() => {
                let before = self.total.fetch_add(n as u64, Ordering::Relaxed);
                let room = bytes.saturating_sub(before);
                if (n as u64) < room {
                    (n, false)
                } else {
                    (room as usize, true)
                }
            }
            _ => (n, false),
        }
    }

    fn count(&self, n: usize) {
        let from_node = self.from_node;
        self.shared.links.update(self.peer, |s| {
            if from_node {
                s.bytes_from_node += n as u64;
            } else {
                s.bytes_to_node += n as u64;
            }
        });
    }

    /// Passes the source's close on, late under slow-close.
    async fn close(&self, to: &mut OwnedWriteHalf) {
        if let Toxic::SlowClose { delay } = self.config().toxic
            && !self.healed()
        {
            self.shared.links.update(self.peer, |s| s.slow_closes += 1);
            let mut healed = self.shared.healed.subscribe();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = healed.wait_for(|h| *h) => {}
            }
        }
        // The other end may be gone already, which is no reason to fail the other direction.
        let _ = to.shutdown().await;
    }

    async fn run(self, from: OwnedReadHalf, to: OwnedWriteHalf) -> anyhow::Result<End> {
        if self.shaped() {
            self.shaped_copy(from, to).await
        } else if matches!(self.config().toxic, Toxic::LimitData { .. }) {
            // Counted to the byte through user space.
            self.plain_copy(from, to).await
        } else {
            self.spliced_copy(from, to).await
        }
    }

    /// Copies without shaping inside the kernel (splice through a pipe): the bytes never reach
    /// user space, so the proxy costs the link as little as it can.
    async fn spliced_copy(
        self,
        from: OwnedReadHalf,
        mut to: OwnedWriteHalf,
    ) -> anyhow::Result<End> {
        let pipe = sockopt::SplicePipe::new(SPLICE_PIPE).context("making a pipe")?;
        let source = from.as_ref();
        loop {
            let n = loop {
                source.readable().await.context("reading")?;
                match source.try_io(Interest::READABLE, || {
                    pipe.fill(source.as_raw_fd(), SPLICE_PIPE)
                }) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e).context("reading"),
                }
            };
            if n == 0 {
                self.close(&mut to).await;
                return Ok(End::Closed);
            }
            let sink = to.as_ref();
            let mut left = n;
            while left > 0 {
                sink.writable().await.context("writing")?;
                match sink.try_io(Interest::WRITABLE, || pipe.drain(sink.as_raw_fd(), left)) {
                    Ok(moved) => left -= moved,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e).context("writing"),
                }
            }
            self.count(n);
        }
    }

    async fn plain_copy(
        self,
        mut from: OwnedReadHalf,
        mut to: OwnedWriteHalf,
    ) -> anyhow::Result<End> {
        let mut buf = vec![0u8; COPY_BUFFER];
        loop {
            let n = from.read(&mut buf).await.context("reading")?;
            if n == 0 {
                self.close(&mut to).await;
                return Ok(End::Closed);
            }
            let (pass, limited) = self.within_limit(n);
            to.write_all(&buf[..pass]).await.context("writing")?;
            self.count(pass);
            if limited {
                return Ok(End::Limited);
            }
        }
    }

    /// Reads ahead without waiting for the delay (so the delay does not cap throughput), hands
    /// each chunk to a writer that sleeps until it is due and paces it under a bandwidth limit.
    async fn shaped_copy(
        self,
        mut from: OwnedReadHalf,
        mut to: OwnedWriteHalf,
    ) -> anyhow::Result<End> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Chunk>();
        let budget = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let delay = self.config().delay;
        let reader = async {
            // Owned by the reader, so that its end closes the channel.
            let tx = tx;
            let mut schedule = Schedule::new(self.seed);
            let mut buf = BytesMut::new();
            loop {
                if buf.capacity() < MIN_READ_ROOM {
                    buf.reserve(READ_CHUNK);
                }
                let n = from.read_buf(&mut buf).await.context("reading")?;
                if n == 0 {
                    return anyhow::Ok(End::Closed);
                }
                let (pass, limited) = self.within_limit(n);
                let read_at = Instant::now();
                let in_force = if self.healed() {
                    Delay::default()
                } else {
                    delay
                };
                let due = schedule.due(read_at, in_force);
                let data = buf.split().freeze().slice(..pass);
                let permits = u32::try_from(pass.clamp(1, MAX_IN_FLIGHT)).unwrap_or(u32::MAX);
                let permit = budget
                    .clone()
                    .acquire_many_owned(permits)
                    .await
                    .context("waiting for buffer space")?;
                let chunk = Chunk {
                    data,
                    read_at,
                    due,
                    delayed: !in_force.is_zero(),
                    _budget: permit,
                };
                if tx.send(chunk).is_err() || limited {
                    return Ok(if limited { End::Limited } else { End::Closed });
                }
            }
        };
        let writer = async move {
            let mut next_free = Instant::now();
            while let Some(chunk) = rx.recv().await {
                if chunk.due > Instant::now() {
                    tokio::time::sleep_until(chunk.due).await;
                }
                match self.config().rate.filter(|_| !self.healed()) {
                    Some(rate) => {
                        for slice in chunk.data.chunks(PACED_SLICE) {
                            next_free = next_free.max(Instant::now());
                            tokio::time::sleep_until(next_free).await;
                            to.write_all(slice).await.context("writing")?;
                            next_free +=
                                Duration::from_secs_f64(slice.len() as f64 / rate.max(1) as f64);
                        }
                    }
                    None => to.write_all(&chunk.data).await.context("writing")?,
                }
                self.count(chunk.data.len());
                if chunk.delayed {
                    let added_ms = chunk.read_at.elapsed().as_secs_f64() * 1000.0;
                    self.shared
                        .links
                        .delayed(self.peer, chunk.data.len(), added_ms);
                }
            }
            anyhow::Ok(to)
        };
        let (end, mut to) = tokio::try_join!(reader, writer)?;
        if end == End::Closed {
            self.close(&mut to).await;
        }
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on 127.0.0.1.
    async fn echo_server() -> SocketAddrV4 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let SocketAddr::V4(addr) = listener.local_addr().unwrap() else {
            unreachable!()
        };
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if sock.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    /// A proxy on loopback that sends every connection to an echo server; `incoming` makes the
    /// echo server the node (so the shaped direction is the echo back).
    async fn proxy_to_echo(incoming: bool, change: impl FnOnce(&mut Config)) -> Proxy {
        let echo = echo_server().await;
        let node = if incoming {
            Ipv4Addr::LOCALHOST
        } else {
            Ipv4Addr::new(10, 9, 9, 9)
        };
        let mut config = Config::passthrough(node);
        config.fallback_destination = Some(echo);
        change(&mut config);
        Proxy::start(config).await.unwrap()
    }

    async fn connect_to(proxy: &Proxy) -> TcpStream {
        let sock = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.local_addr().port()))
            .await
            .unwrap();
        sock.set_nodelay(true).unwrap();
        sock
    }

    async fn round_trip(sock: &mut TcpStream, msg: &[u8]) -> Duration {
        let started = Instant::now();
        sock.write_all(msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        sock.read_exact(&mut back).await.unwrap();
        assert_eq!(back, msg);
        started.elapsed()
    }

    fn with_delay(ms: u64) -> impl FnOnce(&mut Config) {
        move |c| {
            c.delay = Delay {
                delay: Duration::from_millis(ms),
                jitter: Duration::ZERO,
            }
        }
    }

    #[tokio::test]
    async fn only_what_the_node_sends_is_delayed_and_the_link_is_counted() {
        // The client is the node (outgoing): its bytes wait, the echo does not.
        let proxy = proxy_to_echo(false, with_delay(80)).await;
        let mut sock = connect_to(&proxy).await;
        let rtt = round_trip(&mut sock, b"ping").await;
        assert!(rtt >= Duration::from_millis(80), "{rtt:?}");
        assert!(
            rtt < Duration::from_millis(160),
            "both ways delayed? {rtt:?}"
        );
        let report = proxy.report();
        let link = &report.links["127.0.0.1"];
        assert_eq!((link.connections, link.outgoing), (1, 1));
        assert_eq!(link.chunks_delayed, 1);
        assert_eq!(link.bytes_from_node, 4);
        assert_eq!(link.bytes_to_node, 4);
        assert!(link.added_ms_p50 >= 80.0, "{link:?}");
    }

    #[tokio::test]
    async fn an_incoming_connection_is_delayed_on_the_way_back() {
        let proxy = proxy_to_echo(true, with_delay(60)).await;
        let mut sock = connect_to(&proxy).await;
        assert!(round_trip(&mut sock, b"x").await >= Duration::from_millis(60));
        let link = &proxy.report().links["127.0.0.1"];
        assert_eq!(link.outgoing, 0);
        assert_eq!(link.chunks_delayed, 1);
    }

    #[tokio::test]
    async fn healing_removes_the_delay_from_an_open_connection() {
        let proxy = proxy_to_echo(false, with_delay(100)).await;
        let mut sock = connect_to(&proxy).await;
        assert!(round_trip(&mut sock, b"a").await >= Duration::from_millis(100));
        proxy.heal();
        assert!(round_trip(&mut sock, b"b").await < Duration::from_millis(50));
        assert!(proxy.report().healed);
    }

    #[tokio::test]
    async fn a_reset_peer_connection_is_reset() {
        let proxy = proxy_to_echo(false, |c| {
            c.toxic = Toxic::ResetPeer {
                after: Duration::ZERO,
            }
        })
        .await;
        let mut sock = connect_to(&proxy).await;
        // Let the reset arrive; the read then reports it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf))
            .await
            .unwrap();
        let err = read.expect_err("a reset, not data or a clean close");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
        assert_eq!(proxy.report().links["127.0.0.1"].resets, 1);
    }

    #[tokio::test]
    async fn a_blackholed_connection_is_taken_but_never_answered_until_healed() {
        let proxy = proxy_to_echo(false, |c| c.toxic = Toxic::Blackhole).await;
        let mut sock = connect_to(&proxy).await;
        sock.write_all(b"anyone?").await.unwrap();
        let mut buf = [0u8; 7];
        let silent = tokio::time::timeout(Duration::from_millis(300), sock.read(&mut buf)).await;
        assert!(silent.is_err(), "the blackhole answered: {silent:?}");
        assert_eq!(proxy.report().links["127.0.0.1"].held, 1);
        proxy.heal();
        tokio::time::timeout(Duration::from_secs(5), sock.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"anyone?");
    }

    #[tokio::test]
    async fn limit_data_closes_the_connection_at_the_limit() {
        let proxy = proxy_to_echo(false, |c| c.toxic = Toxic::LimitData { bytes: 10 }).await;
        let mut sock = connect_to(&proxy).await;
        sock.write_all(b"0123456789abcdef").await.unwrap();
        let mut back = Vec::new();
        // A clean close, or a reset where the proxy closed with bytes unread: either way, closed.
        let _ = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut back))
            .await
            .expect("the connection was not closed at the limit");
        assert!(
            back.len() <= 10,
            "{} bytes passed a 10-byte limit",
            back.len()
        );
        assert_eq!(proxy.report().links["127.0.0.1"].limited, 1);
    }

    #[tokio::test]
    async fn slow_close_passes_the_close_on_late() {
        let proxy = proxy_to_echo(false, |c| {
            c.toxic = Toxic::SlowClose {
                delay: Duration::from_millis(300),
            }
        })
        .await;
        let mut sock = connect_to(&proxy).await;
        round_trip(&mut sock, b"bye").await;
        let started = Instant::now();
        sock.shutdown().await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        assert!(proxy.report().links["127.0.0.1"].slow_closes >= 1);
    }

    #[tokio::test]
    async fn a_bandwidth_limit_paces_what_the_node_sends() {
        let proxy = proxy_to_echo(false, |c| c.rate = Some(200_000)).await;
        let mut sock = connect_to(&proxy).await;
        let data = vec![7u8; 100_000];
        let took = round_trip(&mut sock, &data).await;
        // 100 kB at 200 kB/s: half a second, give or take a slice.
        assert!(took >= Duration::from_millis(400), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[tokio::test]
    async fn a_destination_that_starts_listening_late_is_still_reached() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut config = Config::passthrough(Ipv4Addr::new(10, 9, 9, 9));
        config.fallback_destination = Some(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let proxy = Proxy::start(config).await.unwrap();
        let mut sock = connect_to(&proxy).await;
        // Nothing listens yet: the proxy keeps trying instead of closing the taken connection.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"late").await.unwrap();
        });
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(5), sock.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"late");
        assert_eq!(proxy.report().links["127.0.0.1"].connect_failures, 0);
    }

    #[tokio::test]
    async fn a_connection_nobody_redirected_is_refused_without_a_fallback() {
        let mut config = Config::passthrough(Ipv4Addr::LOCALHOST);
        config.port = 0;
        let proxy = Proxy::start(config).await.unwrap();
        let mut sock = connect_to(&proxy).await;
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
}
