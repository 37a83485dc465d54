//! A webhook receiver for the benchmark: answers every request 204 at once and
//! counts them, so that `scripts/bench` measures groupd's delivery, not a slow
//! receiver. Prints `listening http://ADDR` and then, every second, the number
//! of deliveries received so far.
//!
//! cargo run --release --example webhook_sink

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening http://{}/hook", listener.local_addr()?);
    let count = Arc::new(AtomicU64::new(0));
    let shown = count.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            println!("{}", shown.load(Ordering::Relaxed));
        }
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let count = count.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let count = count.clone();
                async move {
                    // Read the body to its end, so the connection can be used again.
                    let _ = http_body_util::BodyExt::collect(req.into_body()).await;
                    count.fetch_add(1, Ordering::Relaxed);
                    let mut answer = Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                    *answer.status_mut() = StatusCode::NO_CONTENT;
                    Ok::<_, std::convert::Infallible>(answer)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
