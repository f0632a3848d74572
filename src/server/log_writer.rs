//! Where log lines go: appended to a buffer in memory (a short uncontended lock, no system call)
//! and written out by one thread every `FLUSH_EVERY`. A per-line channel (tracing-appender) costs
//! a thread wake-up and a `write` system call for every request, on the same cores that serve it.
//! A line reaches stdout at most `FLUSH_EVERY` late; if stdout stalls, lines beyond
//! `MAX_PENDING` bytes are dropped and counted rather than blocking requests or growing without end.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const FLUSH_EVERY: Duration = Duration::from_millis(50);
const MAX_PENDING: usize = 4 << 20;

#[derive(Default)]
struct Shared {
    pending: Mutex<Vec<u8>>,
    dropped: AtomicU64,
    stopping: Mutex<bool>,
    stop: Condvar,
}

/// The writer handed to the tracing subscriber (one `write` per formatted line).
#[derive(Clone)]
pub struct LogWriter(Arc<Shared>);

/// Stops the flushing thread and writes what is left when dropped (at the end of `serve`).
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the flushing thread writing to `out`.
pub fn batched(out: impl Write + Send + 'static) -> (LogWriter, FlushGuard) {
    let shared = Arc::new(Shared::default());
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || flush_until_stopped(&shared, out))
            .expect("spawn the log writer thread")
    };
    (
        LogWriter(shared.clone()),
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    )
}

fn flush_until_stopped(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let stopping = {
            let stopping = shared.stopping.lock().unwrap_or_else(|e| e.into_inner());
            let (stopping, _) = shared
                .stop
                .wait_timeout_while(stopping, FLUSH_EVERY, |stopping| !*stopping)
                .unwrap_or_else(|e| e.into_inner());
            *stopping
        };
        std::mem::swap(
            &mut batch,
            &mut *shared.pending.lock().unwrap_or_else(|e| e.into_inner()),
        );
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(batch, "WARN log: {dropped} lines dropped (stdout too slow)");
        }
        if !batch.is_empty() {
            // Nowhere to report a failing stdout; the next batch tries again.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
        }
        if stopping {
            return;
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.0.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() + line.len() > MAX_PENDING {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.extend_from_slice(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        *self
            .shared
            .stopping
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `out` the test can read while the writer holds it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_come_out_in_order_soon_and_all_of_them_at_shutdown() {
        let out = Captured::default();
        let (mut writer, guard) = batched(out.clone());
        writer.write_all(b"one\n").unwrap();
        writer.write_all(b"two\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while out.0.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            *out.0.lock().unwrap(),
            b"one\ntwo\n",
            "a quiet server's lines appear without a shutdown"
        );
        writer.write_all(b"three\n").unwrap();
        drop(guard);
        assert_eq!(*out.0.lock().unwrap(), b"one\ntwo\nthree\n");
    }

    #[test]
    fn a_stalled_stdout_drops_lines_beyond_the_limit_and_says_how_many() {
        struct Stalled(std::sync::mpsc::Receiver<()>, Captured);
        impl Write for Stalled {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let _ = self.0.recv(); // blocks until the test lets it go
                self.1.write(bytes)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (release, stalled) = std::sync::mpsc::channel();
        let out = Captured::default();
        let (mut writer, guard) = batched(Stalled(stalled, out.clone()));
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<_>>();
        for _ in 0..(MAX_PENDING / line.len() + 10) * 2 {
            writer.write_all(&line).unwrap();
        }
        drop(release);
        drop(guard);
        let written = out.0.lock().unwrap().clone();
        assert!(
            written.len() <= 2 * MAX_PENDING + 100,
            "memory stays bounded"
        );
        let text = String::from_utf8(written).unwrap();
        assert!(
            text.contains(" lines dropped (stdout too slow)"),
            "the loss is reported"
        );
    }
}
