use clap::Parser;
use groupd::cli::Cli;
use std::process::ExitCode;

/// At most two malloc arenas. argon2id takes 19 MiB per hash; glibc keeps freed
/// blocks that size in the arena of whichever thread freed them, and with its
/// default 8 arenas per core peak RSS reached 870 MB under a password-create load
/// (52 MB with two). Forcing such blocks to mmap instead halved hashing throughput
/// (page faults on every hash).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_allocations() {
    // SAFETY: mallopt only sets an allocator tunable; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations() {}

fn main() -> ExitCode {
    return_large_allocations();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("groupd: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    groupd::logging::init(cli.log_format);
    match groupd::cli::run(cli).await {
        Ok(()) | Err(groupd::server::StartupError::OutputClosed) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("groupd: {e}");
            ExitCode::FAILURE
        }
    }
}
