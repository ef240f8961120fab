//! A small HTTP service on 127.0.0.1 that behaves like a rate-limited paid
//! API: above `limit` requests in the last second it answers 429,
//! and it fails a share of the others with 500 at random. It records when
//! every request came, so a test can check that no second saw more than the
//! limit. It stops when dropped (its thread ends with the listener).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng;

/// The running service.
pub(crate) struct Service {
    pub(crate) port: u16,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Serves `GET /ANYTHING` with `{"ok":true,"path":"/ANYTHING"}`, 429 over
    /// `limit` a second, and 500 for `fail_share` of the rest.
    pub(crate) fn start(limit: usize, fail_share: f64) -> Service {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind 127.0.0.1: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("nonblocking: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (arrivals, stop) = (Arc::clone(&arrivals), Arc::clone(&stop));
            move || {
                // Ends when the test drops the service (`stop`), checked
                // between connections every few milliseconds.
                let mut rng = rand::rng();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let now = Instant::now();
                            let status = {
                                let mut seen = arrivals.lock().unwrap_or_else(|e| e.into_inner());
                                // Requests in the second before this one.
                                let recent = seen
                                    .iter()
                                    .filter(|at| now.duration_since(**at) < Duration::from_secs(1))
                                    .count();
                                seen.push(now);
                                if recent >= limit {
                                    429
                                } else if rng.random_bool(fail_share) {
                                    500
                                } else {
                                    200
                                }
                            };
                            answer(stream, status);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => break,
                    }
                }
            }
        });
        Service {
            port,
            arrivals,
            stop,
            thread: Some(thread),
        }
    }

    /// The most requests it saw in any one-second window.
    pub(crate) fn busiest_second(&self) -> usize {
        let seen = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        (0..seen.len())
            .map(|i| {
                seen[i..]
                    .iter()
                    .take_while(|at| at.duration_since(seen[i]) < Duration::from_secs(1))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(stream: TcpStream, status: u16) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    let _ = reader.read_line(&mut request);
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    // The rest of the head, up to its blank line.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let body = match status {
        200 => format!("{{\"ok\":true,\"path\":\"{path}\"}}\n"),
        _ => String::new(),
    };
    let reason = match status {
        200 => "OK",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let mut stream = &stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
