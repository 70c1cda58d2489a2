//! A userspace TCP latency proxy between the harness's client workload and cluster nodes, for
//! kernels without tc netem: one loopback listener per node, latency and jitter that can be changed
//! at run time (also for open connections), and statistics as evidence that the delay was applied.
//!
//! Every chunk read from a socket is stamped with its read time and the delay in force at that
//! moment, and handed to a writer task that sleeps until it is due. Reading never waits for the
//! delay (the pipe is pipelined, so the delay does not cap throughput), only for a byte budget that
//! bounds the memory held per direction. A chunk is never due before the chunk read ahead of it, so
//! jitter cannot reorder bytes.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// How long a proxied connection waits for the node to accept before the client is dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Room made in the read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;
/// Below this much spare room the read buffer gets a fresh `READ_CHUNK`.
const MIN_READ_ROOM: usize = 4 * 1024;
/// Bytes read but not yet written, per direction of a connection; the reader stops reading (and
/// TCP pushes back on the sender) while this many are held.
const MAX_IN_FLIGHT: usize = 32 * 1024 * 1024;
/// After a failed `accept`, e.g. out of file descriptors, wait this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the proxy did for one node, as evidence for a latency fault.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyStats {
    /// Client connections proxied to the node (the upstream connection was made).
    pub connections: u64,
    /// Client connections dropped because the node could not be reached.
    pub connect_failures: u64,
    /// Proxied connections open now.
    pub active: u64,
    /// Bytes read while a delay or jitter was set, counted when written.
    pub bytes_delayed: u64,
    /// Chunks read while a delay or jitter was set, counted when written.
    pub chunks_delayed: u64,
    /// Largest (write time − read time) of a delayed chunk, in milliseconds.
    pub max_added_ms: f64,
    /// Mean (write time − read time) of the delayed chunks, in milliseconds.
    pub mean_added_ms: f64,
}

/// Loopback listeners that forward to cluster nodes with a configurable delay.
///
/// Dropping it (or [`LatencyProxy::shutdown`]) stops every listener and closes every proxied
/// connection.
pub struct LatencyProxy {
    nodes: Vec<Arc<Node>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for LatencyProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyProxy")
            .field("endpoints", &self.endpoints())
            .finish_non_exhaustive()
    }
}

impl LatencyProxy {
    /// Binds a listener on `127.0.0.1:0` for each `(node name, node address)` and starts
    /// accepting. Must be called inside a Tokio runtime.
    pub fn start(upstreams: &[(String, SocketAddr)]) -> anyhow::Result<LatencyProxy> {
        tokio::runtime::Handle::try_current()
            .context("starting the latency proxy outside a Tokio runtime")?;
        let mut listeners = Vec::with_capacity(upstreams.len());
        for (i, (name, upstream)) in upstreams.iter().enumerate() {
            if upstreams[..i].iter().any(|(other, _)| other == name) {
                bail!("latency proxy: node {name} is listed twice");
            }
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .with_context(|| {
                    format!("binding a loopback listener to proxy node {name} ({upstream})")
                })?;
            let local = listener.local_addr().with_context(|| {
                format!("reading the address of the listener for node {name} ({upstream})")
            })?;
            listeners.push((listener, local));
        }

        let (stop, _) = watch::channel(false);
        let mut proxy = LatencyProxy {
            nodes: Vec::with_capacity(upstreams.len()),
            stop,
            tasks: Mutex::new(Vec::with_capacity(upstreams.len())),
        };
        for ((name, upstream), (listener, local)) in upstreams.iter().zip(listeners) {
            // On error `proxy` is dropped, which aborts the accept loops already started.
            let listener = TcpListener::from_std(listener).with_context(|| {
                format!("registering the listener {local} for node {name} ({upstream})")
            })?;
            let node = Arc::new(Node {
                name: name.clone(),
                upstream: *upstream,
                local,
                delay: Mutex::new(Delay::default()),
                stats: Mutex::new(StatsAcc::default()),
                next_conn: AtomicU64::new(0),
            });
            let task = tokio::spawn(accept_loop(listener, node.clone(), proxy.stop.subscribe()));
            lock(&proxy.tasks).push(task);
            tracing::debug!(node = %name, %local, %upstream, "latency proxy listening");
            proxy.nodes.push(node);
        }
        Ok(proxy)
    }

    /// The loopback address that forwards to `node`.
    pub fn local_addr(&self, node: &str) -> Option<SocketAddr> {
        self.node(node).map(|n| n.local)
    }

    /// `(node name, loopback address)` for every node, in the order given to `start`.
    pub fn endpoints(&self) -> Vec<(String, SocketAddr)> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), n.local))
            .collect()
    }

    /// Delays data to and from `node` by `delay` plus a uniform sample in `[-jitter, +jitter]`
    /// (never below zero). Applies to every chunk read from now on, on open and new connections,
    /// in both directions.
    pub fn set_delay(&self, node: &str, delay: Duration, jitter: Duration) -> anyhow::Result<()> {
        let n = self.known(node).with_context(|| {
            format!("setting latency proxy delay {delay:?} ± {jitter:?} for node {node}")
        })?;
        *lock(&n.delay) = Delay { delay, jitter };
        tracing::debug!(node, upstream = %n.upstream, ?delay, ?jitter, "latency proxy delay set");
        Ok(())
    }

    /// Removes the delay of `node` (chunks already waiting are still written in order).
    pub fn clear(&self, node: &str) -> anyhow::Result<()> {
        self.set_delay(node, Duration::ZERO, Duration::ZERO)
    }

    /// What the proxy did for `node` so far.
    pub fn stats(&self, node: &str) -> Option<ProxyStats> {
        let n = self.node(node)?;
        let acc = lock(&n.stats);
        let mut stats = acc.stats.clone();
        if stats.chunks_delayed > 0 {
            stats.mean_added_ms = acc.sum_added_ms / stats.chunks_delayed as f64;
        }
        Some(stats)
    }

    /// Stops accepting, closes every proxied connection and waits until all of the proxy's tasks
    /// have ended. Further calls do nothing.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for task in tasks {
            if let Err(e) = task.await
                && e.is_panic()
            {
                tracing::warn!("latency proxy accept loop panicked: {e}");
            }
        }
    }

    fn node(&self, node: &str) -> Option<&Arc<Node>> {
        self.nodes.iter().find(|n| n.name == node)
    }

    fn known(&self, node: &str) -> anyhow::Result<&Arc<Node>> {
        match self.node(node) {
            Some(n) => Ok(n),
            None => {
                let known: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
                bail!("node {node} is not proxied (proxied nodes: {known:?})")
            }
        }
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        // An accept loop owns the `JoinSet` of its connections, so aborting it aborts them too.
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Node {
    name: String,
    upstream: SocketAddr,
    local: SocketAddr,
    delay: Mutex<Delay>,
    stats: Mutex<StatsAcc>,
    next_conn: AtomicU64,
}

#[derive(Default)]
struct StatsAcc {
    stats: ProxyStats,
    sum_added_ms: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Delay {
    delay: Duration,
    jitter: Duration,
}

impl Delay {
    fn is_zero(&self) -> bool {
        self.delay.is_zero() && self.jitter.is_zero()
    }
}

/// Due times for the chunks of one direction: delay plus jitter, never earlier than the previous
/// chunk's, so bytes keep their order.
struct Schedule {
    rng: ChaCha8Rng,
    prev_due: Option<Instant>,
}

impl Schedule {
    fn new(seed: u64) -> Self {
        Schedule {
            rng: ChaCha8Rng::seed_from_u64(seed),
            prev_due: None,
        }
    }

    fn due(&mut self, read_at: Instant, delay: Delay) -> Instant {
        let added = if delay.jitter.is_zero() {
            delay.delay
        } else {
            let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            let jitter = nanos(delay.jitter);
            let offset = self.rng.random_range(0..=jitter.saturating_mul(2));
            // delay + (offset − jitter), clamped at zero.
            Duration::from_nanos(
                nanos(delay.delay)
                    .saturating_add(offset)
                    .saturating_sub(jitter),
            )
        };
        let due = read_at + added;
        let due = self.prev_due.map_or(due, |prev| due.max(prev));
        self.prev_due = Some(due);
        due
    }
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

/// Which way a pipe carries bytes, for error context.
#[derive(Clone, Copy)]
enum Way {
    ToNode,
    ToClient,
}

/// Counts a proxied connection as active until dropped (also when its task is aborted).
struct Active(Arc<Node>);

impl Drop for Active {
    fn drop(&mut self) {
        let mut acc = lock(&self.0.stats);
        acc.stats.active = acc.stats.active.saturating_sub(1);
    }
}

async fn accept_loop(listener: TcpListener, node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        let mut backoff = false;
        tokio::select! {
            // Also ends when the proxy is dropped (the sender is gone).
            () = async { drop(stop.wait_for(|stopped| *stopped).await) } => break,
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    conns.spawn(node.clone().serve(client, peer));
                }
                Err(e) => {
                    tracing::warn!(
                        node = %node.name, local = %node.local,
                        "latency proxy: accepting a connection failed: {e}"
                    );
                    backoff = true;
                }
            },
            Some(done) = conns.join_next(), if !conns.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::warn!(node = %node.name, "latency proxy connection panicked: {e}");
                }
            }
        }
        if backoff {
            tokio::time::sleep(ACCEPT_BACKOFF).await;
        }
    }
    drop(listener);
    conns.shutdown().await;
}

impl Node {
    async fn serve(self: Arc<Self>, client: TcpStream, peer: SocketAddr) {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        match self.proxy(client, peer, conn).await {
            Ok(()) => tracing::trace!(node = %self.name, %peer, "proxied connection closed"),
            Err(e) => tracing::debug!(node = %self.name, %peer, "proxied connection ended: {e:#}"),
        }
    }

    async fn proxy(
        self: &Arc<Self>,
        client: TcpStream,
        peer: SocketAddr,
        conn: u64,
    ) -> anyhow::Result<()> {
        let upstream = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect(self.upstream),
        )
        .await
        {
            Ok(Ok(upstream)) => upstream,
            Ok(Err(e)) => {
                lock(&self.stats).stats.connect_failures += 1;
                return Err(e).with_context(|| {
                    format!(
                        "node {}: connecting to {} for client {peer}",
                        self.name, self.upstream
                    )
                });
            }
            Err(_) => {
                lock(&self.stats).stats.connect_failures += 1;
                bail!(
                    "node {}: connecting to {} for client {peer} timed out after {CONNECT_TIMEOUT:?}",
                    self.name,
                    self.upstream
                );
            }
        };
        {
            let mut acc = lock(&self.stats);
            acc.stats.connections += 1;
            acc.stats.active += 1;
        }
        let _active = Active(self.clone());
        // Latency is what this proxy adds; Nagle would add more.
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (node_read, node_write) = upstream.into_split();
        let seed = fnv1a(self.name.as_bytes()) ^ conn.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        tokio::try_join!(
            self.pipe(client_read, node_write, Way::ToNode, peer, seed),
            self.pipe(
                node_read,
                client_write,
                Way::ToClient,
                peer,
                seed.rotate_left(32) ^ 1
            ),
        )?;
        Ok(())
    }

    /// Copies `from` to `to` with the node's delay until `from` ends, then closes `to` for writing.
    /// An error in either direction ends the whole connection (both sockets are dropped).
    async fn pipe(
        &self,
        mut from: OwnedReadHalf,
        mut to: OwnedWriteHalf,
        way: Way,
        peer: SocketAddr,
        seed: u64,
    ) -> anyhow::Result<()> {
        let what = |doing: &str| match way {
            Way::ToNode => format!(
                "node {} ({}): {doing} client {peer} -> node",
                self.name, self.upstream
            ),
            Way::ToClient => format!(
                "node {} ({}): {doing} node -> client {peer}",
                self.name, self.upstream
            ),
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Chunk>();
        let budget = Arc::new(Semaphore::new(MAX_IN_FLIGHT));

        let reader = async {
            // Owned by the reader, so that its end closes the channel.
            let tx = tx;
            let mut schedule = Schedule::new(seed);
            let mut buf = BytesMut::new();
            loop {
                if buf.capacity() < MIN_READ_ROOM {
                    buf.reserve(READ_CHUNK);
                }
                let n = from
                    .read_buf(&mut buf)
                    .await
                    .with_context(|| what("reading"))?;
                if n == 0 {
                    // Dropping `tx` lets the writer flush what is pending, then close.
                    return anyhow::Ok(());
                }
                let read_at = Instant::now();
                let delay = *lock(&self.delay);
                let due = schedule.due(read_at, delay);
                let data = buf.split().freeze();
                let permits = u32::try_from(n.min(MAX_IN_FLIGHT)).unwrap_or(u32::MAX);
                let budget = budget
                    .clone()
                    .acquire_many_owned(permits)
                    .await
                    .with_context(|| what("waiting for buffer space"))?;
                let chunk = Chunk {
                    data,
                    read_at,
                    due,
                    delayed: !delay.is_zero(),
                    _budget: budget,
                };
                if tx.send(chunk).is_err() {
                    return Ok(());
                }
            }
        };

        let writer = async {
            while let Some(chunk) = rx.recv().await {
                if chunk.due > Instant::now() {
                    tokio::time::sleep_until(chunk.due).await;
                }
                to.write_all(&chunk.data)
                    .await
                    .with_context(|| what("writing"))?;
                if chunk.delayed {
                    let added_ms = chunk.read_at.elapsed().as_secs_f64() * 1000.0;
                    let mut acc = lock(&self.stats);
                    acc.stats.bytes_delayed += chunk.data.len() as u64;
                    acc.stats.chunks_delayed += 1;
                    acc.stats.max_added_ms = acc.stats.max_added_ms.max(added_ms);
                    acc.sum_added_ms += added_ms;
                }
            }
            // The source closed (half-close): pass it on. The peer may be gone already, which is
            // not worth failing the other direction for.
            if let Err(e) = to.shutdown().await {
                tracing::debug!("{}: {e}", what("closing"));
            }
            anyhow::Ok(())
        };

        tokio::try_join!(reader, writer)?;
        Ok(())
    }
}

/// A stable hash (unlike `std`'s), so jitter is reproducible for a node and connection number.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the echo server saw on a connection.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Accepted,
        Eof,
    }

    /// An echo server on `127.0.0.1:0` that reports accepts and EOFs.
    async fn echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                let _ = tx.send(Seen::Accepted);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => {
                                let _ = tx.send(Seen::Eof);
                                let _ = sock.shutdown().await;
                                return;
                            }
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
        (addr, rx)
    }

    async fn proxied_echo() -> (LatencyProxy, mpsc::UnboundedReceiver<Seen>) {
        let (addr, seen) = echo_server().await;
        let proxy = LatencyProxy::start(&[("zk1".to_string(), addr)]).unwrap();
        (proxy, seen)
    }

    async fn connect(proxy: &LatencyProxy) -> TcpStream {
        let sock = TcpStream::connect(proxy.local_addr("zk1").unwrap())
            .await
            .unwrap();
        sock.set_nodelay(true).unwrap();
        sock
    }

    async fn round_trip(sock: &mut TcpStream, msg: &[u8]) -> Duration {
        let start = Instant::now();
        sock.write_all(msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_secs(3), sock.read_exact(&mut back))
            .await
            .expect("round trip timed out")
            .unwrap();
        assert_eq!(back, msg);
        start.elapsed()
    }

    async fn expect_seen(seen: &mut mpsc::UnboundedReceiver<Seen>, want: Seen) {
        let got = tokio::time::timeout(Duration::from_secs(2), seen.recv()).await;
        assert_eq!(got.expect("echo server saw nothing in time"), Some(want));
    }

    /// Writes `data` through the proxy to the echo server, half-closes, and reads all back.
    async fn echo_all(proxy: &LatencyProxy, data: &[u8]) -> Vec<u8> {
        let (mut rd, mut wr) = connect(proxy).await.into_split();
        let sent = data.to_vec();
        let writer = tokio::spawn(async move {
            wr.write_all(&sent).await.unwrap();
            // Half-close: the echo server sees EOF, closes, and that EOF comes back.
            wr.shutdown().await.unwrap();
            wr
        });
        let mut back = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), rd.read_to_end(&mut back))
            .await
            .expect("echo timed out")
            .unwrap();
        writer.await.unwrap();
        back
    }

    #[tokio::test]
    async fn bytes_round_trip_unchanged_without_delay() {
        let (proxy, mut seen) = proxied_echo().await;
        let mut data = vec![0u8; 1024 * 1024];
        ChaCha8Rng::seed_from_u64(7).fill(&mut data[..]);

        let back = echo_all(&proxy, &data).await;
        assert_eq!(back.len(), data.len());
        assert!(back == data, "bytes changed on the way");
        expect_seen(&mut seen, Seen::Accepted).await;
        expect_seen(&mut seen, Seen::Eof).await;

        let stats = proxy.stats("zk1").unwrap();
        assert_eq!(stats.connections, 1);
        assert_eq!(stats.bytes_delayed, 0);
        assert_eq!(stats.chunks_delayed, 0);
    }

    #[tokio::test]
    async fn delay_applies_to_an_open_connection_both_ways() {
        let (proxy, _seen) = proxied_echo().await;
        let mut sock = connect(&proxy).await;
        let fast = round_trip(&mut sock, b"ping").await;
        assert!(
            fast < Duration::from_millis(100),
            "undelayed round trip took {fast:?}"
        );

        proxy
            .set_delay("zk1", Duration::from_millis(200), Duration::ZERO)
            .unwrap();
        let slow = round_trip(&mut sock, b"ping").await;
        assert!(
            slow >= Duration::from_millis(400),
            "delayed round trip took only {slow:?}"
        );
        assert!(
            slow < Duration::from_secs(2),
            "delayed round trip took {slow:?}"
        );

        let stats = proxy.stats("zk1").unwrap();
        assert_eq!(stats.connections, 1);
        assert_eq!(stats.active, 1);
        assert_eq!(stats.bytes_delayed, 8, "{stats:?}");
        assert_eq!(stats.chunks_delayed, 2, "{stats:?}");
        assert!(stats.mean_added_ms >= 190.0, "{stats:?}");
        assert!(stats.max_added_ms >= stats.mean_added_ms, "{stats:?}");
    }

    #[tokio::test]
    async fn clear_removes_the_delay() {
        let (proxy, _seen) = proxied_echo().await;
        let mut sock = connect(&proxy).await;
        proxy
            .set_delay("zk1", Duration::from_millis(100), Duration::from_millis(20))
            .unwrap();
        let slow = round_trip(&mut sock, b"hello").await;
        assert!(
            slow >= Duration::from_millis(160),
            "delayed round trip took only {slow:?}"
        );

        proxy.clear("zk1").unwrap();
        let fast = round_trip(&mut sock, b"hello").await;
        assert!(
            fast < Duration::from_millis(100),
            "round trip after clear took {fast:?}"
        );
        // A new connection is not delayed either.
        let mut other = connect(&proxy).await;
        let fast = round_trip(&mut other, b"again").await;
        assert!(
            fast < Duration::from_millis(100),
            "new connection round trip took {fast:?}"
        );
        assert_eq!(proxy.stats("zk1").unwrap().chunks_delayed, 2);
    }

    #[tokio::test]
    async fn delay_does_not_limit_throughput() {
        let (proxy, _seen) = proxied_echo().await;
        proxy
            .set_delay("zk1", Duration::from_millis(100), Duration::from_millis(10))
            .unwrap();
        let data = vec![0x5au8; 8 * 1024 * 1024];
        let start = Instant::now();
        let back = echo_all(&proxy, &data).await;
        let took = start.elapsed();
        assert!(back == data, "bytes changed on the way");
        // Hundreds of chunks each way; one delay at a time would take far longer.
        let stats = proxy.stats("zk1").unwrap();
        assert!(stats.chunks_delayed >= 100, "{stats:?}");
        assert!(
            took < Duration::from_secs(2),
            "8 MiB took {took:?}, {stats:?}"
        );
    }

    #[tokio::test]
    async fn jitter_never_reorders_bytes() {
        let (proxy, _seen) = proxied_echo().await;
        proxy
            .set_delay("zk1", Duration::from_millis(50), Duration::from_millis(40))
            .unwrap();
        let (mut rd, mut wr) = connect(&proxy).await.into_split();
        const N: u32 = 200;
        let writer = tokio::spawn(async move {
            for i in 0..N {
                wr.write_all(&i.to_be_bytes()).await.unwrap();
                // Separate reads at the proxy, so each message gets its own jitter sample.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            wr
        });
        let mut back = vec![0u8; 4 * N as usize];
        tokio::time::timeout(Duration::from_secs(3), rd.read_exact(&mut back))
            .await
            .expect("messages did not come back in time")
            .unwrap();
        let _wr = writer.await.unwrap();
        let got: Vec<u32> = back
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(got, (0..N).collect::<Vec<_>>());

        let stats = proxy.stats("zk1").unwrap();
        assert_eq!(stats.bytes_delayed, 2 * 4 * u64::from(N));
        assert!(
            stats.chunks_delayed >= 50,
            "too few separate chunks to test jitter: {stats:?}"
        );
        assert!(stats.mean_added_ms >= 10.0, "{stats:?}");
    }

    #[test]
    fn schedule_keeps_order_and_bounds() {
        let mut schedule = Schedule::new(1);
        let delay = Delay {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(40),
        };
        let start = Instant::now();
        let mut prev = start;
        let mut distinct = std::collections::HashSet::new();
        for i in 0..1000u64 {
            let read_at = start + Duration::from_micros(100 * i);
            let due = schedule.due(read_at, delay);
            assert!(due >= prev, "chunk {i} due before the one ahead of it");
            assert!(due >= read_at + Duration::from_millis(10));
            distinct.insert(due - read_at);
            prev = due;
        }
        assert!(distinct.len() > 100, "jitter not applied");

        // Jitter larger than the delay is clamped at zero, never before the read.
        let mut schedule = Schedule::new(2);
        let delay = Delay {
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(40),
        };
        let read_at = Instant::now();
        assert!((0..100).all(|_| schedule.due(read_at, delay) >= read_at));
    }

    #[tokio::test]
    async fn closing_the_client_closes_the_upstream_connection() {
        let (proxy, mut seen) = proxied_echo().await;
        let mut sock = connect(&proxy).await;
        round_trip(&mut sock, b"x").await;
        expect_seen(&mut seen, Seen::Accepted).await;
        drop(sock);
        expect_seen(&mut seen, Seen::Eof).await;

        let deadline = Instant::now() + Duration::from_secs(2);
        while proxy.stats("zk1").unwrap().active > 0 {
            assert!(Instant::now() < deadline, "connection task did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn shutdown_closes_connections_and_listeners() {
        let (proxy, mut seen) = proxied_echo().await;
        let addr = proxy.local_addr("zk1").unwrap();
        proxy
            .set_delay("zk1", Duration::from_millis(500), Duration::ZERO)
            .unwrap();
        let mut sock = connect(&proxy).await;
        expect_seen(&mut seen, Seen::Accepted).await;
        sock.write_all(b"pending").await.unwrap();

        tokio::time::timeout(Duration::from_secs(2), proxy.shutdown())
            .await
            .expect("shutdown hung");
        assert_eq!(proxy.stats("zk1").unwrap().active, 0);
        expect_seen(&mut seen, Seen::Eof).await;
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "client not closed: {read:?}"
        );
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "listener still open"
        );
        proxy.shutdown().await;
    }

    #[tokio::test]
    async fn dropping_the_proxy_closes_connections() {
        let (proxy, mut seen) = proxied_echo().await;
        let mut sock = connect(&proxy).await;
        round_trip(&mut sock, b"x").await;
        expect_seen(&mut seen, Seen::Accepted).await;
        drop(proxy);
        expect_seen(&mut seen, Seen::Eof).await;
    }

    #[tokio::test]
    async fn unreachable_node_drops_the_client() {
        let dead = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let dead_addr = dead.local_addr().unwrap();
        drop(dead);
        let proxy = LatencyProxy::start(&[("bk1".to_string(), dead_addr)]).unwrap();
        let mut sock = TcpStream::connect(proxy.local_addr("bk1").unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "client not dropped: {read:?}"
        );
        let stats = proxy.stats("bk1").unwrap();
        assert_eq!((stats.connections, stats.connect_failures), (0, 1));
    }

    #[tokio::test]
    async fn errors_name_the_node() {
        let (proxy, _seen) = proxied_echo().await;
        let err = proxy
            .set_delay("zk9", Duration::from_millis(5), Duration::ZERO)
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("zk9") && msg.contains("zk1"), "{msg}");
        assert!(proxy.stats("zk9").is_none());
        assert!(proxy.local_addr("zk9").is_none());
        assert_eq!(
            proxy.endpoints(),
            vec![("zk1".to_string(), proxy.local_addr("zk1").unwrap())]
        );

        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let twice = [("a".to_string(), addr), ("a".to_string(), addr)];
        let err = LatencyProxy::start(&twice).unwrap_err();
        assert!(format!("{err:#}").contains("node a is listed twice"));
    }
}
