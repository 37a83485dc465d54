//! `/metrics` in Prometheus text format. Recording is the `metrics` crate's
//! atomics (counters, gauges, histograms) wherever things happen; the exporter
//! (`metrics-exporter-prometheus`, without its own HTTP listener) renders them only
//! when scraped. A few gauges that need a look at the store (the webhook queue)
//! are read at scrape time, so the hot path never pays for them.

use crate::service::Service;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds, from 100 µs to 30 s.
const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];
/// Batch size buckets for the SQLite writer.
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Installs the process's metrics recorder (once; later calls do nothing).
pub fn install() -> Result<(), String> {
    if HANDLE.get().is_some() {
        return Ok(());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), BATCH))
        .map_err(|e| format!("cannot set up metrics: {e}"))?
        .install_recorder()
        .map_err(|e| format!("cannot set up metrics: {e}"))?;
    let _ = HANDLE.set(handle);
    metrics::gauge!("groupd_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(())
}

/// `GET /metrics`.
pub async fn serve(State(service): State<Service>) -> Response {
    let Some(handle) = HANDLE.get() else {
        return (StatusCode::NOT_FOUND, "metrics are not enabled").into_response();
    };
    match service.pending_deliveries().await {
        Ok(n) => metrics::gauge!("groupd_webhook_queue_depth").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the webhook queue"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
