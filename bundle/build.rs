//! Prepares the site for `src/main.rs` to embed: a copy of `target/site` (or `CHAT_SITE_DIR`)
//! in `$OUT_DIR/site`. `make release` has cargo-leptos build the site, compress each file
//! beside itself (`--precompress`: `x.br` at brotli's best quality, `x.gz`), and then this
//! package, so the compressed copies come along. (Without `--precompress` cargo-leptos builds
//! the site and this package side by side: `make run` and `make watch` then serve the site
//! from its directory, `LEPTOS_SITE_ROOT`, not from the binary.)
//!
//! Without a site (`cargo clippy` before any build, say) nothing is embedded, and the
//! binary refuses to serve, saying why.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let site = std::env::var_os("CHAT_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/site"));
    println!("cargo:rerun-if-env-changed=CHAT_SITE_DIR");
    // A directory: any change under it runs this again (and so rebuilds the binary).
    println!("cargo:rerun-if-changed={}", site.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("site");
    if out.exists() {
        fs::remove_dir_all(&out).expect("removing the previous copy of the site");
    }
    fs::create_dir_all(&out).expect("creating $OUT_DIR/site");
    if site.join("pkg").is_dir() {
        copy(&site, &out).unwrap_or_else(|e| panic!("copying {}: {e}", site.display()));
    }
}

/// Copies the directory `from` into `to`.
fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            copy(&source, &target)?;
        } else {
            fs::copy(&source, &target)?;
        }
    }
    Ok(())
}
