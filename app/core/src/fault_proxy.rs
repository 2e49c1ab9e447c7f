//! A fault-injecting TCP proxy on loopback: the network between twinscope and a broker, made
//! slow or broken on purpose, for `twinscope bench --latency` and the tests. Real TCP on both
//! sides; only the link in between is emulated.
//!
//! - `FaultProxy::start(target, one_way)` forwards every byte after `one_way` in each
//!   direction (a round trip costs twice that), without limiting throughput;
//! - `cut()` closes every link open now (the broker "vanishes" mid-stream; new connections
//!   still work);
//! - `FaultProxy::silent()` accepts TCP and never answers (a broker that hangs before CONNACK).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub struct FaultProxy {
    pub port: u16,
    links: Arc<Mutex<Vec<TcpStream>>>,
    stopped: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Forwards to `127.0.0.1:target` with `one_way` of delay in each direction.
    pub fn start(target: u16, one_way: Duration) -> std::io::Result<FaultProxy> {
        Self::spawn(Some((target, one_way)))
    }

    /// Accepts connections, reads what clients send, and never answers.
    pub fn silent() -> std::io::Result<FaultProxy> {
        Self::spawn(None)
    }

    fn spawn(forward: Option<(u16, Duration)>) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let links: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let stopped = Arc::new(AtomicBool::new(false));
        {
            let (links, stopped) = (links.clone(), stopped.clone());
            std::thread::spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    let client = match listener.accept() {
                        Ok((client, _)) => client,
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    };
                    let Ok(client_copy) = client.try_clone() else {
                        continue;
                    };
                    let _ = client.set_nonblocking(false);
                    let _ = client.set_nodelay(true);
                    lock(&links).push(client_copy);
                    match forward {
                        None => {
                            std::thread::spawn(move || {
                                let mut sink = [0u8; 4096];
                                let mut client = client;
                                while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
                            });
                        }
                        Some((target, one_way)) => {
                            let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, target))
                            else {
                                let _ = client.shutdown(Shutdown::Both);
                                continue;
                            };
                            let _ = server.set_nodelay(true);
                            let (Ok(server_copy), Ok(server_reader), Ok(client_reader)) =
                                (server.try_clone(), server.try_clone(), client.try_clone())
                            else {
                                continue;
                            };
                            lock(&links).push(server_copy);
                            pump(client_reader, server, one_way);
                            pump(server_reader, client, one_way);
                        }
                    }
                }
            });
        }
        Ok(FaultProxy {
            port,
            links,
            stopped,
        })
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Closes every link open now, both ends, as a network failure would.
    pub fn cut(&self) {
        for link in lock(&self.links).drain(..) {
            let _ = link.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.cut();
    }
}

fn lock(links: &Mutex<Vec<TcpStream>>) -> std::sync::MutexGuard<'_, Vec<TcpStream>> {
    links
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Copies `from` → `to`, each chunk delivered `delay` after it was read: a reader thread
/// timestamps chunks, a writer thread releases them when due.
fn pump(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (chunks, due) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks
                        .send((Instant::now() + delay, buffer[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        // Dropping `chunks` ends the writer after it delivered what is queued.
    });
    std::thread::spawn(move || {
        for (when, chunk) in due {
            if let Some(wait) = when.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
