//! The site's WebAssembly, scripts and styles (`/pkg/…`), sent compressed to browsers that
//! accept it: each file compressed once (brotli and gzip), kept in memory, and compressed
//! again when the file changes (a rebuild under `make watch`).
//!
//! Owns: choosing the encoding a request accepts, and the compressed copies. Must not: serve
//! anything else (the pages and every other file are Leptos's and axum's, uncompressed).
//!
//! Why not tower-http's compression layer: it compresses every response again, and brotli at
//! a useful quality costs a fifth of a second of CPU per download of the 2 MB WebAssembly
//! (measured; quality 11 takes 4.7 s), a cost any visitor could make the server pay at will.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Where the compressed files are served from.
const PKG: &str = "/pkg/";

/// Brotli's quality: 9 makes the WebAssembly 627 KB in 0.2 s here; 11 makes it 555 KB but
/// takes 4.7 s, at every start and rebuild.
const BROTLI_QUALITY: u32 = 9;

/// The encodings sent, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
}

/// One file's compressed copies, for the version of the file they were made from.
struct Copies {
    modified: SystemTime,
    len: u64,
    brotli: axum::body::Bytes,
    gzip: axum::body::Bytes,
}

/// The compressed copies of the site's `pkg` files.
pub struct Assets {
    /// The site's root (`LEPTOS_SITE_ROOT`).
    root: PathBuf,
    copies: Mutex<HashMap<String, Arc<Copies>>>,
    /// The files being compressed now (a request meanwhile gets the file as it is).
    compressing: Mutex<std::collections::HashSet<String>>,
}

impl Assets {
    /// The site rooted at `root`; its files are compressed in the background from now on.
    pub fn new(root: impl Into<PathBuf>) -> Arc<Self> {
        let assets = Arc::new(Self {
            root: root.into(),
            copies: Mutex::default(),
            compressing: Mutex::default(),
        });
        let dir = assets.root.join(PKG.trim_matches('/'));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if let Some(name) = entry.file_name().to_str().filter(|n| content_type(n).is_some())
                {
                    assets.compress_later(format!("{PKG}{name}"));
                }
            }
        }
        assets
    }

    /// The file a `/pkg/…` path names, if it is one of ours to compress (no way out of the
    /// directory: one plain name).
    fn file(&self, path: &str) -> Option<PathBuf> {
        let name = path.strip_prefix(PKG)?;
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.');
        (plain && content_type(name).is_some())
            .then(|| self.root.join(PKG.trim_matches('/')).join(name))
    }

    /// The copies of `path` for the file as it is now, if made; otherwise they are made in
    /// the background.
    fn fresh(self: &Arc<Self>, path: &str) -> Option<Arc<Copies>> {
        let file = self.file(path)?;
        let meta = std::fs::metadata(&file).ok()?;
        let modified = meta.modified().ok()?;
        let copies = lock(&self.copies).get(path).cloned();
        match copies {
            Some(c) if c.modified == modified && c.len == meta.len() => Some(c),
            _ => {
                self.compress_later(path.to_owned());
                None
            }
        }
    }

    /// Compresses `path` on a blocking thread, unless that is under way.
    fn compress_later(self: &Arc<Self>, path: String) {
        if !lock(&self.compressing).insert(path.clone()) {
            return;
        }
        let assets = self.clone();
        let work = move || {
            match assets.file(&path).map(|file| compress(&file)) {
                Some(Ok(copies)) => {
                    lock(&assets.copies).insert(path.clone(), Arc::new(copies));
                }
                Some(Err(e)) => {
                    tracing::warn!(path, error = %e, "compressing a site file failed; it is sent as it is")
                }
                None => {}
            }
            lock(&assets.compressing).remove(&path);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(work)),
            Err(_) => work(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The type of the files compressed, by their name; others are not compressed (images are
/// compressed already).
fn content_type(name: &str) -> Option<&'static str> {
    let ext = Path::new(name).extension()?.to_str()?;
    match ext {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript"),
        "css" => Some("text/css"),
        _ => None,
    }
}

/// Reads `file` and makes its two compressed copies.
fn compress(file: &Path) -> std::io::Result<Copies> {
    let meta = std::fs::metadata(file)?;
    let bytes = std::fs::read(file)?;
    let mut brotli = Vec::with_capacity(bytes.len() / 3);
    {
        let mut w = brotli::CompressorWriter::new(&mut brotli, 64 * 1024, BROTLI_QUALITY, 22);
        w.write_all(&bytes)?;
        w.flush()?;
    }
    let mut gzip = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::best(),
    );
    gzip.write_all(&bytes)?;
    let gzip = gzip.finish()?;
    // The version read before the bytes: a file replaced meanwhile differs from it, and is
    // compressed again at the next request.
    Ok(Copies {
        modified: meta.modified()?,
        len: meta.len(),
        brotli: brotli.into(),
        gzip: gzip.into(),
    })
}

/// The best encoding `accept` (an `Accept-Encoding` value) allows, if any.
fn preferred(accept: &str) -> Option<Encoding> {
    let allowed = |name: &str| {
        accept.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0)
            });
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    if allowed("br") {
        Some(Encoding::Brotli)
    } else if allowed("gzip") {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

/// Middleware: a `GET /pkg/…` for a compressed copy the browser accepts gets it; everything
/// else goes on as it came (a `pkg` file then says its content depends on the encoding).
pub async fn compressed(State(assets): State<Arc<Assets>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with(PKG) {
        return next.run(req).await;
    }
    let encoding = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(preferred);
    let copies = match (req.method(), encoding) {
        (&Method::GET, Some(_)) => assets.fresh(path),
        _ => None,
    };
    let (Some(copies), Some(encoding), Some(kind)) =
        (copies, encoding, path.rsplit('/').next().and_then(content_type))
    else {
        let mut response = next.run(req).await;
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        return response;
    };
    let (body, coding) = match encoding {
        Encoding::Brotli => (copies.brotli.clone(), "br"),
        Encoding::Gzip => (copies.gzip.clone(), "gzip"),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CONTENT_ENCODING, HeaderValue::from_static(coding)),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ],
        Body::from(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_encoding_the_browser_accepts_is_chosen() {
        assert_eq!(preferred("gzip, deflate, br, zstd"), Some(Encoding::Brotli));
        assert_eq!(preferred("gzip, deflate"), Some(Encoding::Gzip));
        assert_eq!(preferred("br;q=0, gzip;q=0.5"), Some(Encoding::Gzip));
        assert_eq!(preferred("BR"), Some(Encoding::Brotli));
        assert_eq!(preferred("identity"), None);
        assert_eq!(preferred(""), None);
        assert_eq!(preferred("gzip;q=0"), None);
    }

    /// Waits until `path`'s copies match the file as it is.
    async fn compressed_copies(assets: &Arc<Assets>, path: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while assets.fresh(path).is_none() {
            assert!(std::time::Instant::now() < deadline, "{path} was never compressed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn get(app: &axum::Router, path: &str, accept: &str) -> (Response, Vec<u8>) {
        use tower::ServiceExt as _;
        let req = Request::get(path).header(header::ACCEPT_ENCODING, accept).body(Body::empty());
        let response = app.clone().oneshot(req.expect("request")).await.expect("response");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body").to_vec();
        (Response::from_parts(parts, Body::empty()), bytes)
    }

    #[tokio::test]
    async fn a_pkg_file_goes_out_compressed_as_the_browser_accepts_and_again_once_changed() {
        use std::io::Read as _;
        let site = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(site.path().join("pkg")).expect("pkg");
        let file = site.path().join("pkg/chat.js");
        let script = "export function hello() { return 'hello'; }\n".repeat(200);
        std::fs::write(&file, &script).expect("write");
        let assets = Assets::new(site.path());
        // What the rest of the site would send: the file as it is.
        let served = std::fs::read(&file).expect("read");
        let app = axum::Router::new()
            .fallback(move || {
                let served = served.clone();
                async move { served }
            })
            .layer(axum::middleware::from_fn_with_state(assets.clone(), compressed));
        compressed_copies(&assets, "/pkg/chat.js").await;

        let (response, body) = get(&app, "/pkg/chat.js", "gzip, deflate, br").await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript");
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        assert!(body.len() * 10 < script.len(), "{} bytes for {}", body.len(), script.len());
        let mut plain = String::new();
        brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut plain).expect("brotli");
        assert_eq!(plain, script);

        let (response, body) = get(&app, "/pkg/chat.js", "gzip").await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut plain).expect("gzip");
        assert_eq!(plain, script);

        let (response, body) = get(&app, "/pkg/chat.js", "identity").await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        assert_eq!(body, script.as_bytes());

        // A rebuild changes the file: its old copies are never sent again.
        let changed = "export function hello() { return 'changed'; }\n".repeat(300);
        std::fs::write(&file, &changed).expect("rewrite");
        let (response, _) = get(&app, "/pkg/chat.js", "br").await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none(), "stale copy sent");
        compressed_copies(&assets, "/pkg/chat.js").await;
        let (_, body) = get(&app, "/pkg/chat.js", "br").await;
        let mut plain = String::new();
        brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut plain).expect("brotli");
        assert_eq!(plain, changed);
    }

    #[test]
    fn only_plain_names_in_pkg_are_ours() {
        let assets = Assets::new("/nonexistent-site");
        assert!(assets.file("/pkg/chat.wasm").is_some());
        assert!(assets.file("/pkg/chat.css").is_some());
        assert!(assets.file("/pkg/../secret.js").is_none());
        assert!(assets.file("/pkg/a/b.js").is_none());
        assert!(assets.file("/pkg/.hidden.js").is_none());
        assert!(assets.file("/pkg/picture.png").is_none());
        assert!(assets.file("/other/chat.js").is_none());
    }
}
