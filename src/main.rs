//! The server binary. Everything lives in the library so tests and tools can reuse it.

/// mimalloc instead of glibc's malloc: a request allocates on one worker thread and often frees on
/// another, and glibc then takes an arena lock; under load that contention (a futex per lock
/// wait) was the biggest single cost of the token check.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    if let Err(message) = sesame::cli::main().await {
        eprintln!("sesame: {message}");
        std::process::exit(1);
    }
}
