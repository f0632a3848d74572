//! The server binary. Everything lives in the library so tests and tools can reuse it.

/// mimalloc instead of glibc's malloc: a request allocates on one worker thread and often frees on
/// another, and glibc then takes an arena lock; under load that contention (a futex per lock
/// wait) was the biggest single cost of the token check.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc purges (returns to the system) the pages freed by a thread only on that thread's
/// later allocator calls, 10 ms after the fact. After a crowd of long polls leaves, the workers go
/// quiet and the pages stay resident: 10,000 waiting QR polls left RSS 272 MiB over idle, for
/// good. Purging at once returns most of it (120 MiB over idle) and measured no slower
/// (`scripts/bench-qr`: approve → desktop p99 27 ms). A periodic forced `mi_collect` returned a
/// little more but stalled requests: p99 157 ms.
fn purge_freed_pages_at_once() {
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // `mi_option_purge_delay` in mimalloc.h, v2 and v3 alike (libmimalloc-sys is pinned in
    // Cargo.lock); the same as running with `MIMALLOC_PURGE_DELAY=0`.
    const PURGE_DELAY: std::ffi::c_int = 15;
    // SAFETY: mimalloc's own entry point; options may be set at any time.
    unsafe { mi_option_set(PURGE_DELAY, 0) };
}

#[tokio::main]
async fn main() {
    purge_freed_pages_at_once();
    if let Err(message) = sesame::cli::main().await {
        eprintln!("sesame: {message}");
        std::process::exit(1);
    }
}
