//! A webhook receiver on 127.0.0.1 for tests: records every request, answers
//! with the status it is told to, and can be stopped and started again on its
//! port (an endpoint that is down, then up).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_string()
    }

    /// Checks the Standard Webhooks signature with `secret`.
    pub fn verifies_with(&self, secret: &str) -> bool {
        standardwebhooks::Webhook::new(secret)
            .expect("a whsec_ secret")
            .verify(&self.body, &self.headers)
            .is_ok()
    }
}

#[derive(Clone, Default)]
struct Shared {
    got: Arc<Mutex<Vec<Received>>>,
    /// The status to answer; 0 means 204.
    status: Arc<AtomicU16>,
    /// `Retry-After` to send with the status, in seconds (0: none).
    retry_after: Arc<AtomicU16>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn record(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    s.got.lock().expect("lock").push(Received {
        at: Instant::now(),
        headers,
        body,
    });
    let status = match s.status.load(Ordering::SeqCst) {
        0 => StatusCode::NO_CONTENT,
        n => StatusCode::from_u16(n).expect("a status"),
    };
    match s.retry_after.load(Ordering::SeqCst) {
        0 => status.into_response(),
        secs => (status, [("retry-after", secs.to_string())]).into_response(),
    }
}

impl Receiver {
    /// A receiver listening on a free port.
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().expect("address"), Shared::default()).await
    }

    /// A port nothing listens on yet: the receiver there is down until `up`.
    pub async fn down() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        drop(listener);
        Receiver {
            addr,
            shared: Shared::default(),
            stop: None,
        }
    }

    async fn start_on(addr: SocketAddr, shared: Shared) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = Router::new()
            .fallback(axum::routing::post(record))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Receiver {
            addr,
            shared,
            stop: Some(stop),
        }
    }

    /// Starts listening again on the same port.
    pub async fn up(&mut self) {
        assert!(self.stop.is_none(), "already up");
        let mut again = Receiver::start_on(self.addr, self.shared.clone()).await;
        self.stop = again.stop.take();
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answer every request with `status` from now on (and `Retry-After`).
    pub fn answer(&self, status: u16, retry_after: Option<u16>) {
        self.shared.status.store(status, Ordering::SeqCst);
        self.shared
            .retry_after
            .store(retry_after.unwrap_or(0), Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.got.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for what was received, at most `within`.
    pub async fn wait_for(
        &self,
        within: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if done(&got) || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
