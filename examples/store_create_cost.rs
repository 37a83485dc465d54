//! What the SQLite part of a group create costs on this machine, without HTTP: a
//! fresh SQLite store (groupd's schema, synchronous=FULL, group commit) and N
//! callers that each create groups in a loop through `Store::insert_group`, the
//! call every dialect's create ends in. For each N it prints creates/s and the CPU
//! the whole process spent per create (the callers run on one thread; the writer
//! thread does the SQL, the WAL writes and the fdatasync).
//!
//! The benchmark (scripts/bench) measures creates over HTTP against the HTTP
//! ceiling; this splits out the store's share, so that the analysis in
//! docs/performance.md can say how much of a create's cost HTTP can never win back.
//!
//! cargo run --release --example store_create_cost -- [SECONDS_PER_STEP]

use groupd::store::Store;
use groupd::store::conformance::{default_ws, group};
use groupd::store::sqlite::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// CPU ticks (1/100 s) used so far by this process, or by its threads named `name`.
fn cpu_ticks(name: Option<&str>) -> Result<u64, Box<dyn std::error::Error>> {
    let stat_ticks = |stat: &str| -> Result<u64, Box<dyn std::error::Error>> {
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit(')').next().ok_or("odd stat")?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        Ok(f.get(11).ok_or("odd stat")?.parse::<u64>()?
            + f.get(12).ok_or("odd stat")?.parse::<u64>()?)
    };
    let Some(name) = name else {
        return stat_ticks(&std::fs::read_to_string("/proc/self/stat")?);
    };
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let dir = task?.path();
        if std::fs::read_to_string(dir.join("comm"))?.trim() == name {
            total += stat_ticks(&std::fs::read_to_string(dir.join("stat"))?)?;
        }
    }
    Ok(total)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 3.0,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("| callers | creates/s | process CPU per create | writer thread CPU per create |");
    println!("|---:|---:|---:|---:|");
    for callers in [1usize, 4, 8, 16, 64] {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("groupd.db"))?);
        let (creates, wall, cpu, writer) = runtime.block_on(async {
            let ws = default_ws(&store).await.id;
            let until = Instant::now() + Duration::from_secs_f64(seconds);
            let (cpu0, writer0) = (cpu_ticks(None)?, cpu_ticks(Some("groupd-sqlite-w"))?);
            let start = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..callers {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let mut made = 0u64;
                    while Instant::now() < until {
                        store.insert_group(ws, group("Bench group", None)).await?;
                        made += 1;
                    }
                    Ok::<u64, groupd::store::StoreError>(made)
                }));
            }
            let mut creates = 0;
            for task in tasks {
                creates += task.await??;
            }
            let wall = start.elapsed().as_secs_f64();
            let cpu = cpu_ticks(None)? - cpu0;
            let writer = cpu_ticks(Some("groupd-sqlite-w"))? - writer0;
            Ok::<_, Box<dyn std::error::Error>>((creates, wall, cpu, writer))
        })?;
        let per = |ticks: u64| ticks as f64 * 10_000.0 / creates.max(1) as f64;
        println!(
            "| {callers} | {:.0} | {:.1} µs | {:.1} µs |",
            creates as f64 / wall,
            per(cpu),
            per(writer)
        );
    }
    Ok(())
}
