//! The browser bundle (JS, WASM, CSS) under content-hashed names, precompressed with brotli and
//! gzip, and served from `/pkg` so browsers keep it for a year without asking again.
//!
//! cargo-leptos writes `pkg/sesame.{js,wasm,css}`; at start-up the server copies each to
//! `pkg/sesame.<hash>.<ext>` with `.br` and `.gz` siblings next to it (skipped when they already
//! exist), and pages link those names. This runs for every build, debug or release, however the
//! server was started. Where the site is read-only (a hardened service), the copies go to a
//! folder in the temporary directory instead. cargo-leptos's own `hash-files` is not used: under `cargo leptos watch` it
//! hashes only the first build, so after a change pages would keep loading the old bundle. Here,
//! under watch, every page render checks whether the bundle changed and fingerprints it again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::services::ServeDir;

use crate::ui::AssetNames;

/// Characters of the hash in a fingerprinted name (base64url of 96 bits of SHA-256).
const HASH_CHARS: usize = 16;
/// Release bundles are compressed as hard as possible, once. Debug bundles are ten times larger
/// and rebuilt often, so above this size a fast setting is used instead.
const BEST_COMPRESSION_UP_TO: usize = 4 << 20;

pub struct Assets {
    /// What cargo-leptos built.
    pkg_dir: PathBuf,
    /// Where the fingerprinted copies are: `pkg_dir` itself when it is writable.
    out_dir: PathBuf,
    output_name: String,
    /// Under `cargo leptos watch` the bundle is rebuilt while the server runs.
    watch: bool,
    current: Mutex<Fingerprinted>,
}

#[derive(Default)]
struct Fingerprinted {
    /// Modification times of the plain files the names below were made from.
    sources: Vec<Option<SystemTime>>,
    names: AssetNames,
}

impl Assets {
    /// Fingerprints the bundle in `<site_root>/<pkg_dir>` now, so the first page is ready.
    pub fn new(site_root: &str, pkg_dir: &str, output_name: &str) -> Result<Self, String> {
        let pkg_dir = Path::new(site_root).join(pkg_dir);
        let assets = Self {
            out_dir: writable_dir(&pkg_dir)?,
            pkg_dir,
            output_name: output_name.to_string(),
            watch: std::env::var_os("LEPTOS_WATCH").is_some(),
            current: Mutex::new(Fingerprinted::default()),
        };
        assets.refresh()?;
        Ok(assets)
    }

    /// The names pages link to. Under watch, a changed bundle is fingerprinted first.
    pub fn names(&self) -> AssetNames {
        if self.watch
            && let Err(error) = self.refresh()
        {
            tracing::error!(%error, "cannot fingerprint the rebuilt bundle");
        }
        self.current
            .lock()
            .map(|c| c.names.clone())
            .unwrap_or_default()
    }

    fn refresh(&self) -> Result<(), String> {
        let mut current = self.current.lock().map_err(|e| e.to_string())?;
        let plain = |ext: &str| self.pkg_dir.join(format!("{}.{ext}", self.output_name));
        let sources: Vec<_> = ["js", "wasm", "css"]
            .iter()
            .map(|ext| {
                std::fs::metadata(plain(ext))
                    .and_then(|m| m.modified())
                    .ok()
            })
            .collect();
        if current.sources == sources {
            return Ok(());
        }
        let js =
            std::fs::read(plain("js")).map_err(|e| format!("{}: {e}", plain("js").display()))?;
        let wasm = std::fs::read(plain("wasm"))
            .map_err(|e| format!("{}: {e}", plain("wasm").display()))?;
        let css =
            std::fs::read(plain("css")).map_err(|e| format!("{}: {e}", plain("css").display()))?;
        // The JS glue and the WASM are made together by wasm-bindgen and only work as a pair:
        // one hash names both, which is what Leptos's hydration script expects.
        let app = format!("{}.{}", self.output_name, hash(&[&js, &wasm]));
        let css_name = format!("{}.{}.css", self.output_name, hash(&[&css]));
        self.publish(&format!("{app}.js"), &js)?;
        self.publish(&format!("{app}.wasm"), &wasm)?;
        self.publish(&css_name, &css)?;
        tracing::info!("serving the browser bundle as /pkg/{app}.{{js,wasm}} and /pkg/{css_name}");
        current.sources = sources;
        current.names = AssetNames {
            app,
            // cargo-leptos's CSS hot reload swaps the link to `pkg/sesame.css` in place; it can
            // only find the plain name.
            css: if self.watch {
                format!("{}.css", self.output_name)
            } else {
                css_name
            },
        };
        Ok(())
    }

    /// Writes `name` and its `.br` and `.gz` versions, each complete before it appears (a
    /// browser must never cache half a file for a year).
    fn publish(&self, name: &str, contents: &[u8]) -> Result<(), String> {
        let path = self.out_dir.join(name);
        if path.exists() {
            return Ok(());
        }
        let best = contents.len() <= BEST_COMPRESSION_UP_TO;
        let br = {
            // A window just big enough for the whole file compresses as well as the largest
            // one, with a fraction of its memory (hundreds of MB at quality 11 for 16 MiB).
            let window_bits = contents.len().max(1).next_power_of_two().trailing_zeros().clamp(10, 24);
            let mut encoder = brotli::CompressorWriter::new(
                Vec::new(),
                64 * 1024,
                if best { 11 } else { 5 },
                window_bits,
            );
            encoder.write_all(contents).map_err(|e| e.to_string())?;
            encoder.into_inner()
        };
        let gz = {
            let level = if best { 9 } else { 6 };
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            encoder.write_all(contents).map_err(|e| e.to_string())?;
            encoder.finish().map_err(|e| e.to_string())?
        };
        for (file, bytes) in [
            (format!("{name}.br"), br.as_slice()),
            (format!("{name}.gz"), gz.as_slice()),
            (name.to_string(), contents),
        ] {
            let target = self.out_dir.join(&file);
            // Several instances may share the site and start at once: each writes its own.
            let partial = self
                .out_dir
                .join(format!(".{file}.{}.partial", std::process::id()));
            std::fs::write(&partial, bytes)
                .and_then(|()| std::fs::rename(&partial, &target))
                .map_err(|e| format!("{}: {e}", target.display()))?;
        }
        Ok(())
    }

    /// `/pkg`: the `.br` or `.gz` file when the browser accepts it, with caching headers.
    pub fn router(&self) -> Router {
        let files = ServeDir::new(&self.out_dir)
            .precompressed_br()
            .precompressed_gzip()
            .fallback(ServeDir::new(&self.pkg_dir));
        Router::new()
            .fallback_service(files)
            .layer(axum::middleware::from_fn(cache_control))
    }
}

/// `pkg_dir` if this process may write there, else `<temp>/sesame-bundle`.
fn writable_dir(pkg_dir: &Path) -> Result<PathBuf, String> {
    let probe = pkg_dir.join(format!(".write-test.{}", std::process::id()));
    if std::fs::write(&probe, b"").is_ok() {
        let _ = std::fs::remove_file(&probe);
        return Ok(pkg_dir.to_path_buf());
    }
    let dir = std::env::temp_dir().join("sesame-bundle");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    tracing::info!(
        "{} is read-only: the fingerprinted bundle goes to {}",
        pkg_dir.display(),
        dir.display()
    );
    Ok(dir)
}

fn hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..HASH_CHARS * 3 / 4])
}

/// `name.<hash>.ext`: its contents never change, so it may be cached for good.
fn is_fingerprinted(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let mut parts = file.split('.');
    let (Some(_), Some(hash), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    hash.len() == HASH_CHARS
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Fingerprinted files are cached for a year and never revalidated; anything else under `/pkg`
/// (the plain names cargo-leptos writes) is revalidated on every use. Caches on the way must keep
/// the brotli, gzip and plain answers apart (`ServeDir` does not say so itself).
async fn cache_control(request: Request, next: Next) -> Response {
    let forever = is_fingerprinted(request.uri().path());
    let mut response = next.run(request).await;
    let policy = if forever && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_names_count_as_fingerprinted() {
        let name = format!("/pkg/sesame.{}.wasm", hash(&[b"contents"]));
        assert!(is_fingerprinted(&name), "{name}");
        assert!(!is_fingerprinted("/pkg/sesame.wasm"));
        assert!(!is_fingerprinted("/pkg/sesame.wasm.br"));
        assert!(!is_fingerprinted("/pkg/snippets/a.b.c.d"));
    }

    #[test]
    fn bundle_gets_hashed_precompressed_copies_and_a_new_name_when_it_changes() {
        let site = std::env::temp_dir().join(format!("sesame-assets-{}", std::process::id()));
        let pkg = site.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        for (ext, text) in [("js", "export {}"), ("wasm", "\0asm"), ("css", "body{}")] {
            std::fs::write(pkg.join(format!("app.{ext}")), text.repeat(100)).unwrap();
        }
        let assets = Assets::new(site.to_str().unwrap(), "pkg", "app").unwrap();
        let names = assets.names();
        for file in [
            format!("{}.wasm", names.app),
            format!("{}.wasm.br", names.app),
            format!("{}.js.gz", names.app),
            format!("{}.br", names.css),
        ] {
            assert!(pkg.join(&file).exists(), "{file}");
        }
        let br = std::fs::read(pkg.join(format!("{}.br", names.css))).unwrap();
        let mut css = Vec::new();
        brotli::BrotliDecompress(&mut br.as_slice(), &mut css).unwrap();
        assert_eq!(css, "body{}".repeat(100).as_bytes());

        std::fs::write(pkg.join("app.css"), "p{}").unwrap();
        let again = Assets::new(site.to_str().unwrap(), "pkg", "app").unwrap();
        assert_eq!(again.names().app, names.app);
        assert_ne!(again.names().css, names.css);
        std::fs::remove_dir_all(&site).unwrap();
    }
}
