//! The server binary. Everything lives in the library so tests and tools can reuse it.

/// jemalloc instead of glibc's malloc: a request allocates on one worker thread and often frees on
/// another, and glibc then takes an arena lock; under load that contention (a futex per lock
/// wait) was the biggest single cost of the token check.
///
/// jemalloc rather than mimalloc (used before) for what a crowd of long polls leaves behind: after
/// 10,000 waiting QR polls ended, mimalloc kept 94 MiB over idle for good (it returns the pages a
/// thread freed only when that thread allocates again, and idle workers don't), jemalloc 9 MiB,
/// with the same memory per waiter (`scripts/bench-qr`) and no slower: `/api/me` at 0.98× the
/// bare handler in `scripts/bench` (0.80–0.94× with mimalloc).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc reads its settings from this symbol at its first allocation (the `_rjem_` prefix is
/// tikv-jemalloc-sys'). A background thread returns freed pages to the system about a second
/// after they were freed, whether or not the thread that freed them ever runs again.
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_SETTINGS: JemallocSettings =
    JemallocSettings(c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr());

/// jemalloc's `const char *malloc_conf`.
#[repr(transparent)]
struct JemallocSettings(*const std::ffi::c_char);
// SAFETY: it points at a constant string that nothing writes.
unsafe impl Sync for JemallocSettings {}

/// No transparent huge pages for this process (Linux's `PR_SET_THP_DISABLE`). Where a host has
/// them on for every mapping (`always`, the default on some distributions), each 2 MiB region of
/// the heap is resident as soon as any byte of it is used. Sesame's heap is many small objects,
/// not the large arrays huge pages are for: when the allocator (mimalloc, then) asked for huge
/// pages, 10,000 waiting QR polls cost 27.4 KiB each with them and 18.9 KiB without.
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
    if let Err(message) = sesame::cli::main().await {
        eprintln!("sesame: {message}");
        std::process::exit(1);
    }
}
