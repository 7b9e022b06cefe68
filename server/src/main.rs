//! `server`: serves the live chat, or manages agent accounts ([`chat_server::cli`]). The
//! site's files are read from `LEPTOS_SITE_ROOT` (`target/site` by default); the `chat`
//! binary (the `bundle` package) carries them inside.

fn main() -> anyhow::Result<()> {
    chat_server::cli::main("server", None)
}
