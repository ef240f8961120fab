//! Connecting the processes of a cluster, before timely takes the sockets.
//!
//! timely can connect processes itself, but it retries forever, prints to
//! stdout, and keeps its sockets to itself. Connecting here gives a
//! deadline, clear errors (a port in use, a peer that never comes, peers
//! started with different worker counts), and a handle on every socket, so
//! that a failed run can shut them down: the peers then see the connection
//! close at once, even if this process lives on.
//!
//! Process `i` listens on its own address, connects to every process below
//! it and accepts every process above it. The connecting side sends its
//! process id and worker count; the accepting side answers with its worker
//! count; both check that the counts agree.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::{Cluster, ConfigError, RunError};

/// How long to wait before connecting again to a peer that is not listening yet.
const RETRY_CONNECT: Duration = Duration::from_millis(100);

/// Connected sockets, one per process in id order (`None` for this one),
/// and a clone of each to shut it down on failure.
pub(crate) struct Connected {
    pub(crate) sockets: Vec<Option<TcpStream>>,
    pub(crate) shutdown: Vec<TcpStream>,
}

/// Connects to every other process of `cluster` within `timeout`.
pub(crate) fn connect(
    cluster: &Cluster,
    threads: usize,
    timeout: Duration,
) -> Result<Connected, RunError> {
    let me = cluster.process_id();
    let addresses = cluster.addresses();
    let deadline = Instant::now() + timeout;
    let listener = TcpListener::bind(&addresses[me]).map_err(|source| ConfigError::PortInUse {
        address: addresses[me].clone(),
        process_id: me,
        source,
    })?;
    let mut sockets: Vec<Option<TcpStream>> = (0..addresses.len()).map(|_| None).collect();
    for (peer, address) in addresses.iter().enumerate().take(me) {
        let stream = connect_to(peer, address, deadline)?;
        let io = |err: std::io::Error| handshake_error(peer, address, &err);
        stream
            .set_read_timeout(Some(remaining(deadline)))
            .map_err(io)?;
        let mut hello = [0u8; 16];
        hello[..8].copy_from_slice(&(me as u64).to_be_bytes());
        hello[8..].copy_from_slice(&(threads as u64).to_be_bytes());
        (&stream).write_all(&hello).map_err(io)?;
        let mut answer = [0u8; 8];
        (&stream).read_exact(&mut answer).map_err(io)?;
        check_threads(peer, threads, u64::from_be_bytes(answer))?;
        stream.set_read_timeout(None).map_err(io)?;
        sockets[peer] = Some(stream);
    }
    for (peer, stream) in accept_from(&listener, addresses, me, threads, deadline)? {
        sockets[peer] = Some(stream);
    }
    let mut shutdown = Vec::new();
    for (peer, stream) in sockets.iter().enumerate() {
        if let Some(stream) = stream {
            let io = |err: std::io::Error| handshake_error(peer, &addresses[peer], &err);
            stream.set_nodelay(true).map_err(io)?;
            shutdown.push(stream.try_clone().map_err(io)?);
        }
    }
    Ok(Connected { sockets, shutdown })
}

/// Shuts down every socket, so that peers see the connection close.
pub(crate) fn shut_down(sockets: &[TcpStream]) {
    for socket in sockets {
        // The peer may already be gone; a socket that cannot be shut down
        // is closed anyway when the process exits.
        let _ = socket.shutdown(Shutdown::Both);
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

fn handshake_error(peer: usize, address: &str, err: &std::io::Error) -> RunError {
    RunError::Connect {
        process_id: peer,
        address: address.to_owned(),
        message: err.to_string(),
    }
}

fn check_threads(peer: usize, ours: usize, theirs: u64) -> Result<(), RunError> {
    if theirs == ours as u64 {
        Ok(())
    } else {
        Err(ConfigError::WorkerCountMismatch {
            process_id: peer,
            ours,
            theirs: theirs as usize,
        }
        .into())
    }
}

/// Connects to `address`, retrying while the peer is not listening yet.
fn connect_to(peer: usize, address: &str, deadline: Instant) -> Result<TcpStream, RunError> {
    let resolved = address
        .to_socket_addrs()
        .map_err(|err| handshake_error(peer, address, &err))?
        .next()
        .ok_or_else(|| RunError::Connect {
            process_id: peer,
            address: address.to_owned(),
            message: "the address resolves to nothing".into(),
        })?;
    loop {
        match TcpStream::connect_timeout(&resolved, remaining(deadline)) {
            Ok(stream) => return Ok(stream),
            Err(err) if Instant::now() >= deadline => {
                return Err(RunError::Connect {
                    process_id: peer,
                    address: address.to_owned(),
                    message: format!("not reachable before the connect timeout: {err}"),
                })
            }
            // The peer has not bound its address yet: there is nothing to
            // wait on but time, so try again shortly.
            Err(_) => std::thread::sleep(RETRY_CONNECT.min(remaining(deadline))),
        }
    }
}

/// Accepts the processes above `me`, each once, before `deadline`.
fn accept_from(
    listener: &TcpListener,
    addresses: &[String],
    me: usize,
    threads: usize,
    deadline: Instant,
) -> Result<Vec<(usize, TcpStream)>, RunError> {
    let expected = addresses.len() - me - 1;
    if expected == 0 {
        return Ok(Vec::new());
    }
    let acceptor = listener
        .try_clone()
        .map_err(|err| handshake_error(me, &addresses[me], &err))?;
    let stop = Arc::new(AtomicBool::new(false));
    // At most `expected` streams plus one error: bounded by construction.
    let (found_tx, found_rx) = mpsc::channel();
    let thread_stop = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("pipework:accept".into())
        .spawn(move || {
            for _ in 0..expected {
                let accepted = acceptor.accept();
                if thread_stop.load(Ordering::SeqCst) {
                    return;
                }
                let last = accepted.is_err();
                // The receiver leaves only when it has given up; then the
                // connection is of no use and is dropped.
                let _ = found_tx.send(accepted.map(|(stream, _)| stream));
                if last {
                    return;
                }
            }
        })
        .map_err(|err| handshake_error(me, &addresses[me], &err))?;
    let mut accepted = Vec::new();
    let mut seen = vec![false; addresses.len()];
    while accepted.len() < expected {
        let stream = match found_rx.recv_timeout(remaining(deadline)) {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => return Err(handshake_error(me, &addresses[me], &err)),
            Err(_) => {
                // Unblock the accepting thread so that it can exit.
                stop.store(true, Ordering::SeqCst);
                let _ = TcpStream::connect(&addresses[me]);
                let missing: Vec<usize> = (me + 1..addresses.len())
                    .filter(|peer| !seen[*peer])
                    .collect();
                let peer = missing.first().copied().unwrap_or(me + 1);
                return Err(RunError::Connect {
                    process_id: peer,
                    address: addresses[peer].clone(),
                    message: format!(
                        "processes {missing:?} did not connect before the connect timeout"
                    ),
                });
            }
        };
        let io = |err: std::io::Error| handshake_error(me, &addresses[me], &err);
        stream
            .set_read_timeout(Some(remaining(deadline)))
            .map_err(io)?;
        let mut hello = [0u8; 16];
        (&stream).read_exact(&mut hello).map_err(io)?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&hello[..8]);
        let mut count = [0u8; 8];
        count.copy_from_slice(&hello[8..]);
        let peer = u64::from_be_bytes(id) as usize;
        if peer <= me || peer >= addresses.len() || seen[peer] {
            return Err(RunError::Connect {
                process_id: me,
                address: addresses[me].clone(),
                message: format!("unexpected connection claiming to be process {peer}"),
            });
        }
        (&stream)
            .write_all(&(threads as u64).to_be_bytes())
            .map_err(io)?;
        check_threads(peer, threads, u64::from_be_bytes(count))?;
        stream.set_read_timeout(None).map_err(io)?;
        seen[peer] = true;
        accepted.push((peer, stream));
    }
    Ok(accepted)
}
