//! Prepares the site for `src/main.rs` to embed: a copy of the site cargo-leptos built
//! (`LEPTOS_SITE_ROOT`, which it sets for this build; `target/site` otherwise) in
//! `$OUT_DIR/site`. `make release` has cargo-leptos build the site, compress each file beside
//! itself (`--precompress`: `x.br` at brotli's best quality, `x.gz`), and only then this
//! package, so the compressed copies come along. (Without `--precompress` cargo-leptos builds
//! the site and this package side by side, and what is embedded may be incomplete: `make
//! run` passes it too, and `make watch` serves the site from its directory anyway.)
//!
//! The customers' bundle (`customer/`), which `make release` builds first into a site of its
//! own (`target/site-customer`, or `CHAT_CUSTOMER_SITE`), comes along as `pkg/customer.js`
//! and `pkg/customer.wasm` (with their compressed copies), in a release build. Without it,
//! every page loads the agents' bundle.
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
    let customer = std::env::var_os("CHAT_CUSTOMER_SITE")
        .filter(|root| !root.is_empty())
        .map_or_else(|| workspace.join("target/site-customer"), |root| workspace.join(root));
    println!("cargo:rerun-if-env-changed=CHAT_CUSTOMER_SITE");
    // `cargo leptos build` without `--project` builds the customers' project's server too,
    // with its site: a binary whose every page would load the customers' bundle.
    if site.canonicalize().ok().is_some_and(|s| customer.canonicalize().ok() == Some(s)) {
        panic!(
            "{} is the customers' bundle's site, not the app's: build with `make release` \
             (or `cargo leptos build --project chat`, after `--project customer --frontend-only`)",
            site.display()
        );
    }
    // A directory: any change under it runs this again (and so rebuilds the binary).
    println!("cargo:rerun-if-changed={}", site.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("site");
    if out.exists() {
        fs::remove_dir_all(&out).expect("removing the previous copy of the site");
    }
    fs::create_dir_all(&out).expect("creating $OUT_DIR/site");
    if site.join("pkg").is_dir() {
        copy(&site, &out).unwrap_or_else(|e| panic!("copying {}: {e}", site.display()));
        println!("cargo:rerun-if-changed={}", customer.display());
        // Only the release's: `make release` builds it each time, anything else (a debug
        // build under `make watch`) would find whichever release built it last.
        if std::env::var("PROFILE").as_deref() == Ok("release") {
            customer_bundle(&customer.join("pkg"), &out.join("pkg")).unwrap_or_else(|e| {
                panic!("copying the customers' bundle from {}: {e}", customer.display())
            });
        }
    }
}

/// Copies the customers' bundle from `from` (a site's `pkg`, named as cargo-leptos names
/// it: `chat.js`, `chat.wasm`) into `to` as `customer.js` and `customer.wasm`, each with its
/// compressed copies. Only a whole bundle (script and WebAssembly): none at all otherwise.
fn customer_bundle(from: &Path, to: &Path) -> std::io::Result<()> {
    let output = std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "chat".into());
    println!("cargo:rerun-if-env-changed=LEPTOS_OUTPUT_NAME");
    if !["js", "wasm"].iter().all(|ext| from.join(format!("{output}.{ext}")).is_file()) {
        println!(
            "cargo:warning=no customers' bundle in {}: every page will load the agents' \
             (`make release` builds both)",
            from.display()
        );
        return Ok(());
    }
    for ext in ["js", "wasm"] {
        for copy in ["", ".br", ".gz"] {
            let source = from.join(format!("{output}.{ext}{copy}"));
            if source.is_file() {
                fs::copy(&source, to.join(format!("customer.{ext}{copy}")))?;
            }
        }
    }
    Ok(())
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
