//! `chat`: the server with the site's files inside, one file to deploy. Copied alone to an
//! empty directory and started, it serves the whole chat with an embedded SQLite database
//! (`./data/chat.db`). `LEPTOS_SITE_ROOT` still takes the files from a directory instead.
//! Everything else is the `server` binary's ([`chat_server::cli`]).

/// The site as `make release` built it (`target/site`), with the compressed copy of each
/// file that cargo-leptos made beside it (`--precompress`; see `build.rs`).
#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/site/"]
struct Files;

fn main() -> anyhow::Result<()> {
    let site = chat_server::transport::Site::new(
        Files::iter().filter_map(|path| Some((path.to_string(), Files::get(&path)?.data))),
    );
    chat_server::cli::main("chat", Some(site))
}
