//! The browser bundle (JS, WASM and its lazily loaded chunks, CSS) under content-hashed names,
//! precompressed with brotli and gzip, and served from `/pkg` so browsers keep it for a year
//! without asking again.
//!
//! cargo-leptos writes `pkg/sesame.{js,wasm,css}`, and with `--split` the chunks of lazily loaded
//! pages (`chunk_*.wasm`, `split_*.wasm`, `__wasm_split*.js`, their manifest). These load each
//! other by relative name, so the server copies the whole set, unrenamed, into a folder named by
//! one hash over all of them, `pkg/<hash>/`, and the stylesheet to `pkg/sesame.<hash>.css`; each
//! file gets `.br` and `.gz` siblings (skipped when they already exist), and pages link those
//! names. This runs for every build, debug or release, however the server was started. Where the
//! site is read-only (a hardened service), the copies go to a private folder instead (see
//! `writable_dir`). cargo-leptos's own `hash-files` is not used: under `cargo leptos watch` it hashes only
//! the first build, so after a change pages would keep loading the old bundle, and it renames
//! files that the chunks import by their plain names. Under watch, every page render checks
//! whether the bundle changed and fingerprints it again.

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
    /// Names and modification times of the plain files the names below were made from.
    sources: Vec<(String, Option<SystemTime>)>,
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

    /// The plain files cargo-leptos wrote: the stylesheet first, then the JS and WASM files,
    /// by name; type declarations and our own copies are left out.
    fn sources(&self) -> Result<Vec<(String, Option<SystemTime>)>, String> {
        let css = format!("{}.css", self.output_name);
        let listing = std::fs::read_dir(&self.pkg_dir)
            .map_err(|e| format!("{}: {e}", self.pkg_dir.display()))?;
        let mut bundle = Vec::new();
        for entry in listing.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let part_of_bundle = [".js", ".wasm", ".json"]
                .iter()
                .any(|ext| name.ends_with(ext))
                && !name.starts_with('.')
                && entry.file_type().is_ok_and(|t| t.is_file());
            if part_of_bundle {
                bundle.push(name);
            }
        }
        bundle.sort();
        let modified = |name: &str| {
            std::fs::metadata(self.pkg_dir.join(name))
                .and_then(|m| m.modified())
                .ok()
        };
        Ok(std::iter::once(css)
            .chain(bundle)
            .map(|name| {
                let time = modified(&name);
                (name, time)
            })
            .collect())
    }

    fn refresh(&self) -> Result<(), String> {
        let mut current = self.current.lock().map_err(|e| e.to_string())?;
        let sources = self.sources()?;
        if current.sources == sources {
            return Ok(());
        }
        let read = |name: &str| {
            let path = self.pkg_dir.join(name);
            std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
        };
        let (css_source, bundle_sources) = sources.split_first().ok_or("no bundle")?;
        let css = read(&css_source.0)?;
        let mut bundle = Vec::new();
        for (name, _) in bundle_sources {
            bundle.push((name.as_str(), read(name)?));
        }
        if !bundle
            .iter()
            .any(|(name, _)| *name == format!("{}.wasm", self.output_name))
        {
            return Err(format!("{}.wasm is missing", self.output_name));
        }
        let mut parts: Vec<&[u8]> = Vec::new();
        for (name, contents) in &bundle {
            parts.extend([name.as_bytes(), b"\0", contents.as_slice()]);
        }
        let folder = hash(&parts);
        let css_name = format!("{}.{}.css", self.output_name, hash(&[&css]));
        for (name, contents) in &bundle {
            self.publish(&format!("{folder}/{name}"), contents)?;
        }
        self.publish(&css_name, &css)?;
        tracing::info!("serving the browser bundle from /pkg/{folder}/ and /pkg/{css_name}");
        if self.watch {
            // Each rebuild leaves a folder of tens of MB behind; keep the one pages loaded a
            // moment ago, drop older ones. (In production several instances may share a site
            // and serve different builds during a rollout, so nothing is removed there.)
            self.remove_bundles_except(&[&folder, &current.names.bundle]);
        }
        current.sources = sources;
        current.names = AssetNames {
            bundle: folder,
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

    fn remove_bundles_except(&self, keep: &[&str]) {
        let Ok(listing) = std::fs::read_dir(&self.out_dir) else {
            return;
        };
        for entry in listing.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_hash(&name) && !keep.contains(&name.as_str()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Writes `name` and its `.br` and `.gz` versions, each complete before it appears (a
    /// browser must never cache half a file for a year).
    fn publish(&self, name: &str, contents: &[u8]) -> Result<(), String> {
        let path = self.out_dir.join(name);
        // Only a real file counts as done: a link left in its place is replaced, never served.
        if std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_file()) {
            return Ok(());
        }
        let best = contents.len() <= BEST_COMPRESSION_UP_TO;
        let br = {
            // A window just big enough for the whole file compresses as well as the largest
            // one, with a fraction of its memory (hundreds of MB at quality 11 for 16 MiB).
            let window_bits = contents
                .len()
                .max(1)
                .next_power_of_two()
                .trailing_zeros()
                .clamp(10, 24);
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
        let folder = path.parent().unwrap_or(&self.out_dir);
        std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        for (file, bytes) in [
            (format!("{name}.br"), br.as_slice()),
            (format!("{name}.gz"), gz.as_slice()),
            (name.to_string(), contents),
        ] {
            let target = self.out_dir.join(&file);
            let file_name = target.file_name().unwrap_or_default().to_string_lossy();
            // Several instances may share the site and start at once: each writes its own, as a
            // new file (never through a link someone left), then renames it into place.
            let partial = folder.join(format!(".{file_name}.{}.partial", std::process::id()));
            let _ = std::fs::remove_file(&partial);
            create_new(&partial)
                .and_then(|mut file| file.write_all(bytes))
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

/// `pkg_dir` if this process may write there. Else a folder no other user can write to: systemd's
/// `CacheDirectory` (`$CACHE_DIRECTORY`) when it is ours and not writable by others, or a fresh
/// private (0700) folder in the temporary directory. Never a fixed name there: another local user
/// could create it first and have every visitor run their script.
fn writable_dir(pkg_dir: &Path) -> Result<PathBuf, String> {
    if may_write(pkg_dir) {
        return Ok(pkg_dir.to_path_buf());
    }
    let dir = match std::env::var_os("CACHE_DIRECTORY") {
        // systemd may list several, separated by ':'.
        Some(dirs) => private_cache_dir(Path::new(&dirs).iter().next().map(Path::new))?,
        None => fresh_private_dir(&std::env::temp_dir())?,
    };
    tracing::info!(
        "{} is read-only: the fingerprinted bundle goes to {}",
        pkg_dir.display(),
        dir.display()
    );
    Ok(dir)
}

fn may_write(dir: &Path) -> bool {
    let probe = dir.join(format!(".write-test.{}", std::process::id()));
    let written = create_new(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    written
}

/// A file created here and now, never one that existed (or a symlink someone planted).
fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
}

/// `dir/bundle` in a cache folder that belongs to this process's user and that no one else may
/// write to (what systemd's `CacheDirectory=` makes).
fn private_cache_dir(dir: Option<&Path>) -> Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let dir = dir.ok_or("CACHE_DIRECTORY is empty")?;
    let problem = |what: &str| format!("{}: {what}", dir.display());
    let probe = dir.join(format!(".owner-test.{}", std::process::id()));
    let ours = create_new(&probe)
        .and_then(|file| file.metadata())
        .map_err(|e| problem(&e.to_string()))?
        .uid();
    let _ = std::fs::remove_file(&probe);
    let meta = std::fs::symlink_metadata(dir).map_err(|e| problem(&e.to_string()))?;
    if !meta.is_dir() || meta.uid() != ours || meta.mode() & 0o022 != 0 {
        return Err(problem(
            "must be a folder of the service's user that no one else can write to",
        ));
    }
    let bundle = dir.join("bundle");
    match std::fs::symlink_metadata(&bundle) {
        Ok(meta) if meta.is_dir() && meta.uid() == ours && meta.mode() & 0o022 == 0 => {}
        Ok(_) => return Err(problem("bundle: not this service's private folder")),
        Err(_) => make_private_dir(&bundle).map_err(|e| problem(&e.to_string()))?,
    }
    Ok(bundle)
}

/// A new folder with a random name and mode 0700 under `parent`: created by this call, so no one
/// else owns it or put anything in it.
fn fresh_private_dir(parent: &Path) -> Result<PathBuf, String> {
    for _ in 0..8 {
        let dir = parent.join(format!("sesame-bundle-{}", uuid::Uuid::new_v4().simple()));
        match make_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    Err(format!("{}: no fresh folder name", parent.display()))
}

fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

fn hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..HASH_CHARS * 3 / 4])
}

fn is_hash(part: &str) -> bool {
    part.len() == HASH_CHARS
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `<hash>/anything` or `name.<hash>.ext`: its contents never change, so it may be cached for good.
fn is_fingerprinted(path: &str) -> bool {
    let mut segments = path.rsplit('/');
    let file = segments.next().unwrap_or_default();
    if segments.next().is_some_and(is_hash) {
        return !file.is_empty();
    }
    let mut parts = file.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(_), Some(hash), Some(_), None) if is_hash(hash)
    )
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
    fn a_read_only_site_gets_a_fresh_private_folder_and_no_other_users_folder() {
        use std::os::unix::fs::PermissionsExt;
        let parent = std::env::temp_dir().join(format!("sesame-private-{}", std::process::id()));
        make_private_dir(&parent).unwrap();
        let (one, two) = (
            fresh_private_dir(&parent).unwrap(),
            fresh_private_dir(&parent).unwrap(),
        );
        assert_ne!(one, two, "never a name someone could guess and take first");
        let mode = std::fs::metadata(&one).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);

        // A cache folder others may write to is refused; a proper one is used.
        let cache = parent.join("cache");
        make_private_dir(&cache).unwrap();
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(private_cache_dir(Some(&cache)).is_err());
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            private_cache_dir(Some(&cache)).unwrap(),
            cache.join("bundle")
        );
        std::fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn a_link_planted_where_a_copy_goes_is_replaced_not_followed() {
        let site = std::env::temp_dir().join(format!("sesame-link-{}", std::process::id()));
        let pkg = site.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("app.css"), "body{}").unwrap();
        std::fs::write(pkg.join("app.wasm"), "\0asm").unwrap();
        let secret = site.join("secret.txt");
        std::fs::write(&secret, "not for visitors").unwrap();
        let css = format!("app.{}.css", hash(&[b"body{}"]));
        for planted in [css.clone(), format!("{css}.br")] {
            std::os::unix::fs::symlink(&secret, pkg.join(planted)).unwrap();
        }
        let assets = Assets::new(site.to_str().unwrap(), "pkg", "app").unwrap();
        assert_eq!(assets.names().css, css);
        for copy in [css.clone(), format!("{css}.br")] {
            let meta = std::fs::symlink_metadata(pkg.join(&copy)).unwrap();
            assert!(meta.is_file(), "{copy} is a file of ours now");
        }
        assert_eq!(std::fs::read_to_string(pkg.join(&css)).unwrap(), "body{}");
        assert_eq!(
            std::fs::read_to_string(&secret).unwrap(),
            "not for visitors"
        );
        std::fs::remove_dir_all(&site).unwrap();
    }

    #[test]
    fn only_hashed_names_count_as_fingerprinted() {
        let hashed = hash(&[b"contents"]);
        for name in [
            format!("/pkg/sesame.{hashed}.css"),
            format!("/pkg/{hashed}/sesame.wasm"),
            format!("/pkg/{hashed}/chunk_5.wasm"),
        ] {
            assert!(is_fingerprinted(&name), "{name}");
        }
        assert!(!is_fingerprinted("/pkg/sesame.wasm"));
        assert!(!is_fingerprinted("/pkg/sesame.wasm.br"));
        assert!(!is_fingerprinted("/pkg/snippets/a.b.c.d"));
        assert!(!is_fingerprinted(&format!("/pkg/{hashed}/")));
    }

    #[test]
    fn bundle_gets_a_hashed_folder_of_precompressed_copies_and_a_new_one_when_it_changes() {
        let site = std::env::temp_dir().join(format!("sesame-assets-{}", std::process::id()));
        let pkg = site.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        for (file, text) in [
            ("app.js", "export {}"),
            ("app.wasm", "\0asm"),
            ("chunk_1.wasm", "\0asm chunk"),
            ("__wasm_split.js", "import './app.js'"),
            ("app.css", "body{}"),
            ("app.d.ts", "declare"),
        ] {
            std::fs::write(pkg.join(file), text.repeat(100)).unwrap();
        }
        let assets = Assets::new(site.to_str().unwrap(), "pkg", "app").unwrap();
        let names = assets.names();
        let folder = pkg.join(&names.bundle);
        for file in [
            "app.wasm",
            "app.wasm.br",
            "app.js.gz",
            "chunk_1.wasm.br",
            "__wasm_split.js",
        ] {
            assert!(folder.join(file).exists(), "{file}");
        }
        assert!(!folder.join("app.d.ts").exists());
        assert!(pkg.join(format!("{}.br", names.css)).exists());
        let br = std::fs::read(folder.join("chunk_1.wasm.br")).unwrap();
        let mut chunk = Vec::new();
        brotli::BrotliDecompress(&mut br.as_slice(), &mut chunk).unwrap();
        assert_eq!(chunk, "\0asm chunk".repeat(100).as_bytes());

        std::fs::write(pkg.join("app.css"), "p{}").unwrap();
        let again = Assets::new(site.to_str().unwrap(), "pkg", "app").unwrap();
        assert_eq!(again.names().bundle, names.bundle);
        assert_ne!(again.names().css, names.css);
        std::fs::write(pkg.join("chunk_1.wasm"), "\0asm changed").unwrap();
        let changed = Assets::new(site.to_str().unwrap(), "pkg", "app").unwrap();
        assert_ne!(
            changed.names().bundle,
            names.bundle,
            "a changed chunk is a new bundle"
        );
        assert!(folder.exists(), "outside watch, earlier bundles stay");

        // Under watch, the bundle before the current one stays (pages loaded a moment ago use
        // it); older ones go.
        let watched = Assets {
            watch: true,
            ..Assets::new(site.to_str().unwrap(), "pkg", "app").unwrap()
        };
        let second = watched.names().bundle;
        std::fs::write(pkg.join("app.wasm"), "\0asm third").unwrap();
        let third = watched.names().bundle;
        assert!(pkg.join(&second).exists() && pkg.join(&third).exists());
        assert!(!folder.exists(), "an older bundle is removed under watch");
        std::fs::remove_dir_all(&site).unwrap();
    }
}
