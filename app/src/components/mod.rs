//! The views: one file per view. They render [`ChatState`](crate::state::ChatState) and
//! send [`Command`](crate::state::Command)s; they never touch the wire.

mod chat;
mod login;
mod status;
mod team;
mod user_list;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};

use crate::state::{Chat, ChatState};
use crate::text::EN;

/// The HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta http-equiv="Content-Security-Policy" content=content_security_policy(&options)/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// What the page may load and run: its own files, its inline scripts only with this
/// response's nonce (so an injected `<script>` does not run), WebAssembly, and
/// connections to its own origin. The server adds the headers a `<meta>` cannot carry
/// (`frame-ancestors`).
fn content_security_policy(options: &LeptosOptions) -> String {
    let nonce = leptos::nonce::use_nonce().map(|n| format!(" 'nonce-{}'", &*n)).unwrap_or_default();
    // `cargo leptos watch` reloads the page over a websocket on its own port.
    let reload = if cfg!(debug_assertions) { format!(" ws://*:{}", options.reload_port) } else { String::new() };
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'{reload}; object-src 'none'; base-uri 'self'; form-action 'self'"
    )
}

/// The whole page: the login view until the server accepts a login, then the chat.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let state = ChatState::new();

    // In the browser the connection starts here (after hydration, as it is async); on the
    // server nothing connects and commands go nowhere.
    #[cfg(feature = "hydrate")]
    let commands = crate::client::start(state);
    #[cfg(not(feature = "hydrate"))]
    let commands = Callback::new(|_: crate::state::Command| {});
    provide_context(Chat { state, commands });

    view! {
        <Stylesheet id="leptos" href="/pkg/chat.css"/>
        // The unread count in the tab title, for whoever keeps the chat in a background tab.
        <Title text=move || match state.unread_total() {
            0 => EN.title.to_owned(),
            n => format!("({n}) {}", EN.title),
        }/>
        <div class="app">
            <header class="topbar">
                <h1>{EN.title}</h1>
                <status::ConnectionBadge/>
            </header>
            <status::ErrorBanner/>
            <Show
                when=move || state.me.with(Option::is_some)
                fallback=|| view! { <login::LoginView/> }
            >
                <chat::ChatView/>
            </Show>
        </div>
    }
}

/// The [`Chat`] provided by [`App`].
fn use_chat() -> Chat {
    expect_context::<Chat>()
}
