//! The server binary. Everything lives in the library so tests and tools can reuse it.

/// mimalloc instead of glibc's malloc: a request allocates on one worker thread and often frees on
/// another, and glibc then takes an arena lock; under load that contention (a futex per lock
/// wait) was the biggest single cost of the token check.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc purges (returns to the system) the pages freed by a thread only on that thread's
/// later allocator calls, 10 ms after the fact. After a crowd of long polls leaves, the workers go
/// quiet and the pages stay resident: 10,000 waiting QR polls left RSS 272 MiB over idle, for
/// good. Purging at once returned half of it (120–162 MiB over idle; with huge pages off too, 82)
/// and measured no slower within this machine's noise (`scripts/bench-qr`: approve → desktop p99
/// 27–79 ms, 41 ms without). A periodic forced `mi_collect` returned a little more but stalled
/// requests: p99 157 ms.
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

/// No transparent huge pages for this process (Linux's `PR_SET_THP_DISABLE`, what mimalloc does
/// with `MIMALLOC_ALLOW_THP=0`). mimalloc asks for huge pages on its segments, and a 2 MiB page
/// is resident as soon as any byte of it is used: 10,000 waiting QR polls cost 27.4 KiB each with
/// them and 18.9 KiB without, the idle server 68 → 54 MiB, and a crowd left 82 MiB behind instead
/// of 136–162 (`scripts/bench-qr`). Sesame's heap is many small objects, not the large arrays
/// huge pages are for.
#[cfg(target_os = "linux")]
fn no_transparent_huge_pages() {
    unsafe extern "C" {
        fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
    }
    const PR_SET_THP_DISABLE: std::ffi::c_int = 41;
    let off: std::ffi::c_ulong = 0;
    // SAFETY: a process-wide flag; no memory is passed. On failure THP stays as it was.
    unsafe { prctl(PR_SET_THP_DISABLE, 1 as std::ffi::c_ulong, off, off, off) };
}

#[tokio::main]
async fn main() {
    #[cfg(target_os = "linux")]
    no_transparent_huge_pages();
    purge_freed_pages_at_once();
    if let Err(message) = sesame::cli::main().await {
        eprintln!("sesame: {message}");
        std::process::exit(1);
    }
}
