//! The server binary. Everything lives in the library so tests and tools can reuse it.

/// mimalloc instead of glibc's malloc: a request allocates on one worker thread and often frees on
/// another, and glibc then takes an arena lock; under load that contention (a futex per lock
/// wait) was the biggest single cost of the token check.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc returns freed pages to the system lazily, from the thread that frees: once a crowd
/// of long polls has left an idle server, its memory stayed resident (2,000 waiting QR polls: 59
/// MiB idle, 111 MiB 15 s after they left). A forced collection every 10 s returns it (78 MiB);
/// it walks this thread's empty heap and does the purges that were due anyway.
fn return_freed_memory_periodically() {
    unsafe extern "C" {
        fn mi_collect(force: bool);
    }
    let _ = std::thread::Builder::new()
        .name("mi-collect".into())
        .spawn(|| {
            // `mi_collect` works from the calling thread's heap, which exists only once the
            // thread has allocated: without this it does nothing (measured).
            drop(std::hint::black_box(Box::new(0u64)));
            loop {
                std::thread::sleep(std::time::Duration::from_secs(10));
                // SAFETY: mimalloc's own entry point, callable from any thread at any time.
                unsafe { mi_collect(true) };
            }
        });
}

#[tokio::main]
async fn main() {
    return_freed_memory_periodically();
    if let Err(message) = sesame::cli::main().await {
        eprintln!("sesame: {message}");
        std::process::exit(1);
    }
}
