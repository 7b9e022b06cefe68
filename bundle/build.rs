//! Prepares the site for `src/main.rs` to embed: a copy of the site cargo-leptos built
//! (`LEPTOS_SITE_ROOT`, which it sets for this build; `target/site` otherwise) in
//! `$OUT_DIR/site`. `make release` has cargo-leptos build the site, compress each file beside
//! itself (`--precompress`: `x.br` at brotli's best quality, `x.gz`), and only then this
//! package, so the compressed copies come along. (Without `--precompress` cargo-leptos builds
//! the site and this package side by side, and what is embedded may be incomplete: `make
//! run` passes it too, and `make watch` serves the site from its directory anyway.)
//!
//! Left out: dotfiles, and the TypeScript declarations wasm-bindgen writes (`*.d.ts`), which
//! no page loads. Without a site (`cargo clippy` before any build, say) nothing is embedded,
//! and the binary refuses to serve, saying why.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().expect("the workspace holds this package").to_owned();
    let site = std::env::var_os("LEPTOS_SITE_ROOT")
        .filter(|root| !root.is_empty())
        .map_or_else(|| workspace.join("target/site"), |root| workspace.join(root));
    println!("cargo:rerun-if-env-changed=LEPTOS_SITE_ROOT");
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

/// Whether a file of the site is served: not a dotfile, nor a TypeScript declaration (or a
/// compressed copy of one).
fn served(name: &str) -> bool {
    let name = name.trim_end_matches(".br").trim_end_matches(".gz");
    !name.starts_with('.') && !name.ends_with(".d.ts")
}

/// Copies the directory `from` into `to` (following links), the files served only.
fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if !name.to_str().is_some_and(served) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if fs::metadata(&source)?.is_dir() {
            fs::create_dir_all(&target)?;
            copy(&source, &target)?;
        } else {
            fs::copy(&source, &target)?;
        }
    }
    Ok(())
}
