//! The proxy's HTTP side: a small threaded server bound to one address (the
//! gateway of the run's private network), stopped and joined on drop.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{IndexOptions, Proxy, ProxyLog, Reply};
use crate::error::{Error, Result};

const WORKERS: usize = 8;

/// The name the cells reach the proxy by (an `/etc/hosts` entry of theirs),
/// and the port it prefers. With both the same in every run, a cell's index
/// URLs are the same from run to run, and so are its venv's path and its
/// installer's cache keys.
pub const HOST_IN_CELLS: &str = "hpc-kernels-index";
pub const PREFERRED_PORT: u16 = 3141;

pub struct IndexProxy {
    addr: SocketAddr,
    /// `http://host:port`, as the cells see it.
    base: String,
    proxy: Arc<Proxy>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl IndexProxy {
    /// Starts serving on `bind`, at `port` when it is free (else one the
    /// system picks; 0: always). Clients name it `host` (default: the address).
    pub fn start(bind: IpAddr, port: u16, host: Option<&str>, opts: IndexOptions) -> Result<IndexProxy> {
        let server = tiny_http::Server::http(SocketAddr::new(bind, port))
            .or_else(|_| tiny_http::Server::http(SocketAddr::new(bind, 0)))
            .map_err(|e| {
                Error::environment(format!("start the package index proxy on {bind}"))
                    .with_hint(format!("{e}; the address must belong to this host (the gateway of the run's Docker network)"))
            })?;
        let addr = server.server_addr().to_ip().ok_or_else(|| Error::internal("the index proxy listens on no IP address"))?;
        let server = Arc::new(server);
        let proxy = Arc::new(Proxy::new(opts));
        let stop = Arc::new(AtomicBool::new(false));
        let base = match host {
            Some(host) => format!("http://{host}:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        let workers = (0..WORKERS)
            .map(|_| {
                let (server, proxy, stop, base) = (server.clone(), proxy.clone(), stop.clone(), base.clone());
                std::thread::spawn(move || serve(&server, &proxy, &stop, &base))
            })
            .collect();
        Ok(IndexProxy { addr, base, proxy, stop, workers })
    }

    /// `http://host:port/<cell>/<index>/simple`: the index URL for one cell.
    pub fn index_url(&self, cell: &str, index: usize) -> String {
        format!("{}/{cell}/{index}/simple", self.base)
    }

    /// How the harness tells the proxy what cell `cell`'s modules declare.
    pub fn declarer(&self, cell: &str) -> Declarer {
        Declarer { proxy: self.proxy.clone(), cell: cell.to_string() }
    }

    /// Whether the cells' URLs are the ones every run gives them.
    pub fn at_preferred_port(&self) -> bool {
        self.addr.port() == PREFERRED_PORT
    }

    pub fn log(&self) -> ProxyLog {
        self.proxy.log()
    }
}

/// Tells the proxy the interpreter version one cell's modules declare.
#[derive(Clone)]
pub struct Declarer {
    proxy: Arc<Proxy>,
    cell: String,
}

impl Declarer {
    pub fn declare(&self, version: &str) {
        self.proxy.declare(&self.cell, version);
    }
}

impl std::fmt::Debug for Declarer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Declarer({})", self.cell)
    }
}

impl Drop for IndexProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn serve(server: &tiny_http::Server, proxy: &Proxy, stop: &AtomicBool, base: &str) {
    while !stop.load(Ordering::SeqCst) {
        let request = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(_) => return,
        };
        let accepts_json = request
            .headers()
            .iter()
            .any(|h| h.field.equiv("Accept") && h.value.as_str().contains(super::upstream::PEP_691_JSON));
        let user_agent =
            request.headers().iter().find(|h| h.field.equiv("User-Agent")).map(|h| h.value.as_str().to_string());
        let reply = if *request.method() == tiny_http::Method::Get || *request.method() == tiny_http::Method::Head {
            proxy.handle(request.url(), accepts_json, base, user_agent.as_deref())
        } else {
            Reply::status(405, "only GET\n")
        };
        // A client that hung up is not the proxy's problem.
        let _ = match reply {
            Reply::Bytes { status, content_type, body } => {
                let mut response = tiny_http::Response::from_data(body).with_status_code(status).with_header(header(content_type));
                if content_type != "application/octet-stream" {
                    // Pages depend on the interpreter asking: never from a shared cache.
                    if let Ok(h) = tiny_http::Header::from_bytes(&b"Cache-Control"[..], &b"no-store"[..]) {
                        response.add_header(h);
                    }
                }
                request.respond(response)
            }
            Reply::File { content_type, path } => match std::fs::File::open(&path) {
                Ok(file) => request.respond(tiny_http::Response::from_file(file).with_header(header(content_type))),
                Err(e) => request.respond(
                    tiny_http::Response::from_string(format!("{}: {e}\n", path.display())).with_status_code(500),
                ),
            },
        };
    }
}

fn header(content_type: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes())
        .unwrap_or_else(|_| tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/octet-stream"[..]).expect("a valid header"))
}
