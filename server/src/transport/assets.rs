//! The site's files as browsers get them: compressed (brotli or gzip) where the browser
//! accepts it, with an `ETag` so that a return visit revalidates them instead of
//! downloading them again.
//!
//! Two sources:
//! - **on disk** (`LEPTOS_SITE_ROOT`, the `server` binary): the WebAssembly, scripts and
//!   styles under `/pkg/` are compressed once (brotli and gzip), kept in memory, and
//!   compressed again when the file changes (a rebuild under `make watch`); every other file,
//!   and `pkg` files while their copies are being made, are Leptos's and axum's to serve;
//! - **built in** ([`Site`], the `chat` binary of the `bundle` package): every file of the
//!   site is in the binary, compressed at build time (brotli at its best quality), and served
//!   from memory by exact name.
//!
//! Built in, the app's own script, WebAssembly and styles are also served under names that
//! carry their version (`pkg/chat.<digest>.wasm`: [`Site::versioned`]), which the pages
//! load: those are cached as immutable, so a return visit asks nothing about them, and a
//! new build is a new name. The plain names stay, revalidated, for whatever asks for them by
//! name (scripts, links kept from before). A page the previous build rendered names files
//! this build does not have: it works once loaded again (pages themselves are not cached; a
//! cluster is upgraded all at once, see the README).
//!
//! Owns: choosing the encoding a request accepts, the compressed copies, revalidation
//! (`If-None-Match`), the versioned names. Must not: serve the pages (Leptos renders them).
//!
//! Why not tower-http's compression layer: it compresses every response again, and brotli at
//! a useful quality costs a fifth of a second of CPU per download of the 2 MB WebAssembly
//! (measured; quality 11 takes 4.7 s), a cost any visitor could make the server pay at will.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;

/// Where the files compressed from disk are (the site's `pkg` directory).
const PKG: &str = "/pkg/";

/// Brotli's quality for files compressed at run time: 9 makes the WebAssembly 627 KB in
/// 0.2 s here; 11 makes it 555 KB but takes 4.7 s, at every start and rebuild. (The `chat`
/// binary's files are compressed at 11, once, when it is built.)
const BROTLI_QUALITY: u32 = 9;

/// What a browser that already has the file must do before using it again: ask whether it
/// changed (the names carry no version, so a new build must not be missed); the answer is a
/// `304 Not Modified` without the body when it did not.
const CACHE_CONTROL: &str = "no-cache";

/// A file whose name carries its version never changes: kept for a year, never revalidated.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The files of the app that the pages load, by extension: they get a versioned name
/// together (one version for the three, so the pages name them all from one output name).
const VERSIONED: [&str; 3] = ["js", "wasm", "css"];

/// The encodings sent, best first, and the name each has in the headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    fn token(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
            Encoding::Identity => "identity",
        }
    }
}

/// One file as it can be sent: the copies there are of it, for the version of the file they
/// were made from.
#[derive(Clone)]
struct Copies {
    /// On disk: the file's modification time and length when it was read (none: built in).
    version: Option<(SystemTime, u64)>,
    /// The file as it is (built in only: on disk, axum sends it).
    plain: Option<Bytes>,
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
    content_type: HeaderValue,
    /// The start of the file's SHA-256, in hex: the `ETag`s are made from it.
    digest: String,
    /// Served under a name that carries its version (cached as immutable).
    versioned: bool,
}

impl Copies {
    /// The body to send in `encoding`, if there is such a copy.
    fn body(&self, encoding: Encoding) -> Option<&Bytes> {
        match encoding {
            Encoding::Brotli => self.brotli.as_ref(),
            Encoding::Gzip => self.gzip.as_ref(),
            Encoding::Identity => self.plain.as_ref(),
        }
    }

    /// The `ETag` of the copy in `encoding` (each encoding is a different sequence of bytes,
    /// so each has its own strong tag).
    fn etag(&self, encoding: Encoding) -> HeaderValue {
        let suffix = match encoding {
            Encoding::Brotli => "-br",
            Encoding::Gzip => "-gz",
            Encoding::Identity => "",
        };
        HeaderValue::from_str(&format!("\"{}{suffix}\"", self.digest))
            .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
    }
}

/// The start of `bytes`' SHA-256, in hex.
fn digest(bytes: &[u8]) -> String {
    hex::encode(&sha2::Sha256::digest(bytes)[..12])
}

/// The site's files built into the binary (the `chat` binary's), by their path under the
/// site's root (`pkg/chat.wasm`, `favicon.svg`).
pub struct Site {
    files: HashMap<String, Arc<Copies>>,
    /// By output name (`chat`): the name with its version (`chat.1f2e…`), for the app's
    /// files that have one.
    versions: HashMap<String, String>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site").field("files", &self.files.len()).finish()
    }
}

impl Site {
    /// The site of `files`, by their paths under the site's root. A file compressed at build
    /// time has its copies beside it, named with `.br` and `.gz` added; those copies are
    /// not files of the site themselves.
    pub fn new(files: impl IntoIterator<Item = (String, Cow<'static, [u8]>)>) -> Self {
        let bytes = |data: Cow<'static, [u8]>| match data {
            Cow::Borrowed(b) => Bytes::from_static(b),
            Cow::Owned(v) => Bytes::from(v),
        };
        let all: HashMap<String, Bytes> =
            files.into_iter().map(|(path, data)| (path, bytes(data))).collect();
        let copy_of = |path: &str| {
            [".br", ".gz"]
                .iter()
                .any(|ext| path.strip_suffix(ext).is_some_and(|file| all.contains_key(file)))
        };
        let files = all
            .iter()
            .filter(|(path, _)| !copy_of(path))
            .map(|(path, plain)| {
                let copies = Copies {
                    version: None,
                    plain: Some(plain.clone()),
                    brotli: all.get(&format!("{path}.br")).cloned(),
                    gzip: all.get(&format!("{path}.gz")).cloned(),
                    content_type: content_type(path),
                    digest: digest(plain),
                    versioned: false,
                };
                (path.clone(), Arc::new(copies))
            })
            .collect();
        let mut site = Self { files, versions: HashMap::new() };
        site.add_versions();
        site
    }

    /// Gives each app in `pkg` (a script and its WebAssembly: `pkg/chat.js` and
    /// `pkg/chat.wasm`, with `pkg/chat.css` if there is one) a versioned name: the output
    /// name followed by a digest of the files' contents (`chat.1f2e…`), under which the same
    /// copies are served, as immutable.
    fn add_versions(&mut self) {
        let apps: Vec<String> = self
            .files
            .keys()
            .filter_map(|path| path.strip_prefix("pkg/")?.strip_suffix(".wasm"))
            .filter(|name| {
                !name.contains('/') && self.files.contains_key(&format!("pkg/{name}.js"))
            })
            .map(str::to_owned)
            .collect();
        for name in apps {
            let present: Vec<(&str, Arc<Copies>)> = VERSIONED
                .iter()
                .filter_map(|ext| {
                    Some((*ext, self.files.get(&format!("pkg/{name}.{ext}"))?.clone()))
                })
                .collect();
            // The digests of the files (each of their whole contents), in a fixed order.
            let all: String = present.iter().map(|(_, copies)| copies.digest.as_str()).collect();
            let version = format!("{name}.{}", &digest(all.as_bytes())[..16]);
            for (ext, copies) in present {
                let versioned = Copies { versioned: true, ..(*copies).clone() };
                self.files.insert(format!("pkg/{version}.{ext}"), Arc::new(versioned));
            }
            self.versions.insert(name, version);
        }
    }

    /// The versioned name of the app called `output` (`chat` → `chat.1f2e…`): the pages
    /// load `pkg/<that>.js`, `.wasm` and `.css`. None: there is no such app in the site.
    pub fn versioned(&self, output: &str) -> Option<&str> {
        self.versions.get(output).map(String::as_str)
    }

    /// Whether the site has a file at `path` (under its root: `pkg/chat.wasm`).
    pub fn has(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// How many files the site has (a file served under a versioned name too counts once).
    pub fn len(&self) -> usize {
        self.files.values().filter(|copies| !copies.versioned).count()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The `Content-Type` of a file, by its name.
fn content_type(path: &str) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    HeaderValue::from_str(mime.essence_str())
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// Where the files come from.
pub struct Assets {
    source: Source,
}

enum Source {
    Disk(Arc<Disk>),
    BuiltIn(Arc<Site>),
}

impl Assets {
    /// The site's files on disk, rooted at `root` (`LEPTOS_SITE_ROOT`): its `pkg` files are
    /// compressed in the background from now on.
    pub fn on_disk(root: impl Into<PathBuf>) -> Arc<Self> {
        let disk = Arc::new(Disk {
            pkg: root.into().join(PKG.trim_matches('/')),
            entries: Mutex::default(),
            compressing: Mutex::default(),
        });
        if let Ok(entries) = std::fs::read_dir(&disk.pkg) {
            for entry in entries.flatten() {
                if let Some(name) = entry.file_name().to_str().filter(|n| compressible(n)) {
                    disk.compress_later(name.to_owned());
                }
            }
        }
        Arc::new(Self { source: Source::Disk(disk) })
    }

    /// The files built into the binary.
    pub fn built_in(site: Arc<Site>) -> Arc<Self> {
        Arc::new(Self { source: Source::BuiltIn(site) })
    }

    /// The copies of the file at `path` (a request's), if there are any to send now.
    async fn copies(&self, path: &str) -> Option<Arc<Copies>> {
        match &self.source {
            Source::BuiltIn(site) => site.files.get(path.strip_prefix('/')?).cloned(),
            Source::Disk(disk) => disk.fresh(path.strip_prefix(PKG)?).await,
        }
    }
}

/// The compressed copies of the `pkg` files of a site on disk.
struct Disk {
    /// The site's `pkg` directory.
    pkg: PathBuf,
    /// By file name: only names the directory lists (so at most as many as it has files).
    entries: Mutex<HashMap<String, Entry>>,
    /// The names being compressed now (a request meanwhile gets the file as it is).
    compressing: Mutex<std::collections::HashSet<String>>,
}

/// What became of compressing a version of a file.
enum Entry {
    Ready(Arc<Copies>),
    /// It could not be compressed (it is sent as it is until it changes).
    Failed((SystemTime, u64)),
}

/// Whether a file of `pkg` is compressed (images are compressed already).
fn compressible(name: &str) -> bool {
    matches!(Path::new(name).extension().and_then(|e| e.to_str()), Some("wasm" | "js" | "css"))
}

impl Disk {
    /// The path of `pkg`'s file `name`, if it is one of ours to compress: one plain name (no
    /// way out of the directory).
    fn file(&self, name: &str) -> Option<PathBuf> {
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.');
        (plain && compressible(name)).then(|| self.pkg.join(name))
    }

    /// The copies of `name` for the file as it is now, if they are made; otherwise they are
    /// made in the background (unless this version could not be compressed).
    async fn fresh(self: &Arc<Self>, name: &str) -> Option<Arc<Copies>> {
        let file = self.file(name)?;
        let meta = tokio::fs::metadata(&file).await.ok().filter(|m| m.is_file())?;
        let version = (meta.modified().ok()?, meta.len());
        match lock(&self.entries).get(name) {
            Some(Entry::Ready(copies)) if copies.version == Some(version) => {
                return Some(copies.clone())
            }
            Some(Entry::Failed(failed)) if *failed == version => return None,
            _ => {}
        }
        self.compress_later(name.to_owned());
        None
    }

    /// Compresses `name` on a blocking thread, unless that is under way.
    fn compress_later(self: &Arc<Self>, name: String) {
        if !lock(&self.compressing).insert(name.clone()) {
            return;
        }
        let disk = self.clone();
        let work = move || {
            if let Some(entry) = disk.compress(&name) {
                lock(&disk.entries).insert(name.clone(), entry);
            }
            lock(&disk.compressing).remove(&name);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(work)),
            Err(_) => work(),
        }
    }

    /// Compresses `name` if the directory lists a file of exactly that name (on a file
    /// system that ignores case, `CHAT.JS` opens `chat.js`: its copies are kept once).
    fn compress(&self, name: &str) -> Option<Entry> {
        let listed = std::fs::read_dir(&self.pkg).ok()?.flatten().any(|entry| {
            entry.file_name().to_str() == Some(name) && entry.file_type().is_ok_and(|t| t.is_file())
        });
        if !listed {
            return None;
        }
        let file = self.pkg.join(name);
        let meta = std::fs::metadata(&file).ok()?;
        // The version read before the bytes: a file replaced meanwhile differs from it, and
        // is compressed again at the next request.
        let version = (meta.modified().ok()?, meta.len());
        match compress(&file) {
            Ok((brotli, gzip, digest)) => Some(Entry::Ready(Arc::new(Copies {
                version: Some(version),
                plain: None,
                brotli: Some(brotli),
                gzip: Some(gzip),
                content_type: content_type(name),
                digest,
                versioned: false,
            }))),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "compressing a site file failed; it is sent as it is");
                Some(Entry::Failed(version))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads `file`: its brotli and gzip copies, and its digest.
fn compress(file: &Path) -> std::io::Result<(Bytes, Bytes, String)> {
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
    Ok((brotli.into(), gzip.finish()?.into(), digest(&bytes)))
}

/// Whether `accept` (an `Accept-Encoding` value) allows `coding` (not refused with `q=0`).
fn accepts(accept: &str, coding: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0)
        });
        name.eq_ignore_ascii_case(coding) && !refused
    })
}

/// The best encoding of `copies` that `accept` allows (the file as it is, if nothing else
/// is).
fn chosen(accept: &str, copies: &Copies) -> Encoding {
    [Encoding::Brotli, Encoding::Gzip]
        .into_iter()
        .find(|e| copies.body(*e).is_some() && accepts(accept, e.token()))
        .unwrap_or(Encoding::Identity)
}

/// Whether an `If-None-Match` header lists `etag` (or is `*`).
fn matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').map(str::trim).any(|tag| {
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == etag.as_bytes()
        })
    })
}

/// Middleware: a `GET` or `HEAD` for a file there are copies of gets the best the browser
/// accepts (or `304 Not Modified`, if it has it already); anything else goes on as it came
/// (a `pkg` file then says its content depends on the encoding).
pub async fn serve(State(assets): State<Arc<Assets>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let copies = match *req.method() {
        Method::GET | Method::HEAD => assets.copies(path).await,
        _ => None,
    };
    let accept = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    let encoding = copies.as_ref().map(|c| chosen(accept.unwrap_or_default(), c));
    let (Some(copies), Some(encoding)) = (copies, encoding) else {
        // Built in, the site has every file it will ever have: any other `pkg` name (another
        // build's version, say) is not found, rather than answered with a page that a cache
        // could keep as that script.
        if path.starts_with(PKG) && matches!(assets.source, Source::BuiltIn(_)) {
            let headers = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
            return (StatusCode::NOT_FOUND, headers).into_response();
        }
        let varies = path.starts_with(PKG);
        let mut response = next.run(req).await;
        if varies {
            response
                .headers_mut()
                .append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        return response;
    };
    let Some(body) = copies.body(encoding).cloned() else {
        // On disk, the file as it is is axum's to send.
        let mut response = next.run(req).await;
        response.headers_mut().append(header::VARY, HeaderValue::from_static("accept-encoding"));
        return response;
    };
    let etag = copies.etag(encoding);
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag.clone());
    let cache = if copies.versioned { CACHE_IMMUTABLE } else { CACHE_CONTROL };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if matches(req.headers(), &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, copies.content_type.clone());
    if encoding != Encoding::Identity {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding.token()));
    }
    (headers, Body::from(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_copies() -> Copies {
        Copies {
            version: None,
            plain: Some(Bytes::from_static(b"x")),
            brotli: Some(Bytes::from_static(b"b")),
            gzip: Some(Bytes::from_static(b"g")),
            content_type: HeaderValue::from_static("text/javascript"),
            digest: "abc".into(),
            versioned: false,
        }
    }

    #[test]
    fn the_best_encoding_the_browser_accepts_is_chosen() {
        let copies = all_copies();
        let chosen = |accept| chosen(accept, &copies);
        assert_eq!(chosen("gzip, deflate, br, zstd"), Encoding::Brotli);
        assert_eq!(chosen("gzip, deflate"), Encoding::Gzip);
        assert_eq!(chosen("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(chosen("br;Q=0, gzip"), Encoding::Gzip, "Q is q");
        assert_eq!(chosen("BR"), Encoding::Brotli);
        assert_eq!(chosen("identity"), Encoding::Identity);
        assert_eq!(chosen(""), Encoding::Identity);
        assert_eq!(chosen("gzip;q=0"), Encoding::Identity);
        // Only the copies there are.
        let only_gzip = Copies { brotli: None, ..all_copies() };
        assert_eq!(super::chosen("br, gzip", &only_gzip), Encoding::Gzip);
    }

    #[test]
    fn a_copy_is_revalidated_by_its_own_tag() {
        let copies = all_copies();
        let br = copies.etag(Encoding::Brotli);
        assert_eq!(br, "\"abc-br\"");
        let mut headers = HeaderMap::new();
        assert!(!matches(&headers, &br));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc-gz\", \"abc-br\""));
        assert!(matches(&headers, &br));
        assert!(!matches(&headers, &copies.etag(Encoding::Identity)), "another encoding's tag");
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"abc\""));
        assert!(matches(&headers, &copies.etag(Encoding::Identity)));
    }

    /// Waits until `name`'s copies match the file as it is.
    async fn compressed_copies(disk: &Arc<Disk>, name: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while disk.fresh(name).await.is_none() {
            assert!(std::time::Instant::now() < deadline, "{name} was never compressed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    fn disk(assets: &Assets) -> Arc<Disk> {
        match &assets.source {
            Source::Disk(disk) => disk.clone(),
            Source::BuiltIn(_) => unreachable!("on disk"),
        }
    }

    async fn get(app: &axum::Router, path: &str, headers: &[(&str, &str)]) -> (Response, Vec<u8>) {
        use tower::ServiceExt as _;
        let mut req = Request::get(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let response = app.clone().oneshot(req.body(Body::empty()).expect("request")).await;
        let (parts, body) = response.expect("response").into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body").to_vec();
        (Response::from_parts(parts, Body::empty()), bytes)
    }

    fn unbrotli(body: &[u8]) -> String {
        use std::io::Read as _;
        let mut plain = String::new();
        brotli::Decompressor::new(body, 4096).read_to_string(&mut plain).expect("brotli");
        plain
    }

    /// What the rest of the site would send for any path: `served`.
    fn app_with(assets: Arc<Assets>, served: &'static str) -> axum::Router {
        axum::Router::new()
            .fallback(move || async move { served })
            .layer(axum::middleware::from_fn_with_state(assets, serve))
    }

    #[tokio::test]
    async fn a_pkg_file_goes_out_compressed_as_the_browser_accepts_and_again_once_changed() {
        use std::io::Read as _;
        let site = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(site.path().join("pkg")).expect("pkg");
        let file = site.path().join("pkg/chat.js");
        let script = "export function hello() { return 'hello'; }\n".repeat(200);
        std::fs::write(&file, &script).expect("write");
        let assets = Assets::on_disk(site.path());
        let app = app_with(assets.clone(), "as it is");
        compressed_copies(&disk(&assets), "chat.js").await;

        let (response, body) = get(&app, "/pkg/chat.js", &[("accept-encoding", "gzip, br")]).await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript");
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(body.len() * 10 < script.len(), "{} bytes for {}", body.len(), script.len());
        assert_eq!(unbrotli(&body), script);
        // A return visit: the browser has this copy, and gets no body.
        let etag = response.headers()[header::ETAG].to_str().expect("etag").to_owned();
        let (response, body) =
            get(&app, "/pkg/chat.js", &[("accept-encoding", "gzip, br"), ("if-none-match", &etag)])
                .await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());

        let (response, body) = get(&app, "/pkg/chat.js", &[("accept-encoding", "gzip")]).await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut plain).expect("gzip");
        assert_eq!(plain, script);

        let (response, body) = get(&app, "/pkg/chat.js", &[("accept-encoding", "identity")]).await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        assert_eq!(body, b"as it is");

        // A rebuild changes the file: its old copies are never sent again, and the browser's
        // tag no longer matches.
        let changed = "export function hello() { return 'changed'; }\n".repeat(300);
        std::fs::write(&file, &changed).expect("rewrite");
        let (response, _) = get(&app, "/pkg/chat.js", &[("accept-encoding", "br")]).await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none(), "stale copy sent");
        compressed_copies(&disk(&assets), "chat.js").await;
        let (response, body) =
            get(&app, "/pkg/chat.js", &[("accept-encoding", "br"), ("if-none-match", &etag)]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(unbrotli(&body), changed);
    }

    #[tokio::test]
    async fn only_files_the_directory_lists_by_that_very_name_are_kept() {
        let site = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(site.path().join("pkg/dir.js")).expect("a directory");
        std::fs::write(site.path().join("pkg/chat.js"), "let a = 1;\n".repeat(50)).expect("js");
        let assets = Assets::on_disk(site.path());
        let disk = disk(&assets);
        compressed_copies(&disk, "chat.js").await;
        for name in ["CHAT.JS", "Chat.js", "dir.js", "../chat.js", "missing.js"] {
            assert!(disk.compress(name).is_none(), "{name}");
            assert!(disk.fresh(name).await.is_none(), "{name}");
        }
        assert_eq!(lock(&disk.entries).len(), 1, "one entry: chat.js");
    }

    #[test]
    fn only_plain_names_in_pkg_are_ours() {
        let assets = Assets::on_disk("/nonexistent-site");
        let disk = disk(&assets);
        assert!(disk.file("chat.wasm").is_some());
        assert!(disk.file("chat.css").is_some());
        assert!(disk.file("../secret.js").is_none());
        assert!(disk.file("a/b.js").is_none());
        assert!(disk.file(".hidden.js").is_none());
        assert!(disk.file("picture.png").is_none());
    }

    /// A site with an app called `chat` of these contents.
    fn app_site(js: &'static str, wasm: &'static str, css: &'static str) -> Site {
        Site::new([
            ("pkg/chat.js".to_owned(), Cow::Borrowed(js.as_bytes())),
            ("pkg/chat.wasm".to_owned(), Cow::Borrowed(wasm.as_bytes())),
            ("pkg/chat.css".to_owned(), Cow::Borrowed(css.as_bytes())),
            ("widget.js".to_owned(), Cow::Borrowed(&b"widget"[..])),
        ])
    }

    #[tokio::test]
    async fn the_app_s_files_have_versioned_names_cached_as_immutable_and_a_new_build_a_new_name() {
        let site = app_site("script", "\0asm", "body {}");
        let version = site.versioned("chat").expect("a version").to_owned();
        assert!(version.starts_with("chat.") && version.len() == "chat.".len() + 16, "{version}");
        assert!(site.versioned("other").is_none());
        let app = app_with(Assets::built_in(Arc::new(site)), "the page");
        for (ext, body) in [("js", "script"), ("wasm", "\0asm"), ("css", "body {}")] {
            let (response, got) = get(&app, &format!("/pkg/{version}.{ext}"), &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{ext}");
            assert_eq!(got, body.as_bytes(), "{ext}");
            assert_eq!(response.headers()[header::CACHE_CONTROL], CACHE_IMMUTABLE, "{ext}");
            // The plain name: the same file, revalidated.
            let (response, got) = get(&app, &format!("/pkg/chat.{ext}"), &[]).await;
            assert_eq!(got, body.as_bytes(), "{ext}");
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache", "{ext}");
        }
        // Only the app's files: not the widget's script; a made-up version is not found.
        assert_eq!(
            get(&app, "/widget.js", &[]).await.0.headers()[header::CACHE_CONTROL],
            "no-cache"
        );
        let (response, _) = get(&app, "/pkg/chat.0000000000000000.js", &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");

        // Any of the three changed: another name (and the old one is not served).
        let same = app_site("script", "\0asm", "body {}");
        assert_eq!(same.versioned("chat"), Some(version.as_str()), "the same build, the same name");
        for changed in [
            app_site("script 2", "\0asm", "body {}"),
            app_site("script", "\0asm 2", "body {}"),
            app_site("script", "\0asm", "body { margin: 0 }"),
        ] {
            let new = changed.versioned("chat").expect("a version").to_owned();
            assert_ne!(new, version);
            assert!(!changed.has(&format!("pkg/{version}.js")));
        }
    }

    #[tokio::test]
    async fn a_built_in_site_serves_every_file_from_memory_and_its_copies_to_those_who_accept_them()
    {
        let wasm = b"\0asm not really".repeat(100);
        let mut brotli = Vec::new();
        brotli::CompressorWriter::new(&mut brotli, 4096, 5, 22).write_all(&wasm).expect("br");
        let site = Site::new([
            ("pkg/chat.wasm".to_owned(), Cow::Owned(wasm.clone())),
            ("pkg/chat.wasm.br".to_owned(), Cow::Owned(brotli)),
            ("favicon.svg".to_owned(), Cow::Borrowed(&b"<svg/>"[..])),
            // A file whose name only looks like a copy's is a file.
            ("notes.gz".to_owned(), Cow::Borrowed(&b"gz"[..])),
        ]);
        assert_eq!(site.len(), 3, "the copy is not a file of its own");
        let app = app_with(Assets::built_in(Arc::new(site)), "the page");

        let (response, body) =
            get(&app, "/pkg/chat.wasm", &[("accept-encoding", "gzip, br")]).await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut brotli::Decompressor::new(&body[..], 4096), &mut plain)
            .expect("brotli");
        assert_eq!(plain, wasm);
        // No gzip copy was built: a gzip-only browser gets the file as it is.
        let (response, body) = get(&app, "/pkg/chat.wasm", &[("accept-encoding", "gzip")]).await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body, wasm);
        let (response, body) = get(&app, "/favicon.svg", &[]).await;
        assert_eq!(response.headers()[header::CONTENT_TYPE], "image/svg+xml");
        assert_eq!(body, b"<svg/>");
        assert_eq!(get(&app, "/notes.gz", &[]).await.1, b"gz");
        // A return visit revalidates: the same copy's tag gets no body, another's does.
        let (response, _) = get(&app, "/pkg/chat.wasm", &[("accept-encoding", "br")]).await;
        let etag = response.headers()[header::ETAG].to_str().expect("etag").to_owned();
        let revisit = [("accept-encoding", "br"), ("if-none-match", etag.as_str())];
        let (response, body) = get(&app, "/pkg/chat.wasm", &revisit).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        let other = [("accept-encoding", "identity"), ("if-none-match", etag.as_str())];
        assert_eq!(get(&app, "/pkg/chat.wasm", &other).await.1, wasm, "the plain file's own tag");
        // The copy itself, an unknown file and a page are not the site's files to send: under
        // `pkg`, not found; elsewhere, the app's.
        for path in ["/pkg/chat.wasm.br", "/pkg/../favicon.svg", "/pkg/other.js"] {
            assert_eq!(get(&app, path, &[]).await.0.status(), StatusCode::NOT_FOUND, "{path}");
        }
        for path in ["/PKG/CHAT.WASM", "/", "/widget"] {
            assert_eq!(get(&app, path, &[]).await.1, b"the page", "{path}");
        }
    }
}
