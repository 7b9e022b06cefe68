//! The views: one file per view. They render [`ChatState`](crate::state::ChatState) and
//! send [`Command`](crate::state::Command)s; they never touch the wire.
//!
//! Two bundles bring them to life in the browser: the agents' (`frontend/`, everything),
//! which hydrates the server's page, and the customers' (`customer/`, without the feature
//! `console`: no side list, team, reports, integrations, search, profile or first-run page,
//! canned replies or notes), which draws the page again over the server's (feature `csr`):
//! 268 KB as brotli against 387 KB; docs/bundle-size.md. The server sends a page the
//! customers' unless it is the first run's or the browser holds an agent's session cookie
//! ([`shell`]); an agent who logs in on a customer's page reloads it to get theirs
//! (`client::session`). Neither bundle ever renders an agent's view on the server (a page
//! starts at the login), so the agents' hydrates the very page the customers' would draw.
//! In the browser, `feature = "browser"` is either bundle; `leptos`'s own features say which
//! way it takes over the page (`hydrate` or `csr`).

/// The view in the agents' bundle; nothing in the customers' (feature `console`), where no
/// agent's view is ever shown. Every agents-only view is in a module under
/// `#[cfg(feature = "console")]` (below) and is placed through this macro: placed directly,
/// the customers' build fails to find it (`scripts/lint.sh` checks that build); a view left
/// outside those modules would silently ship to customers. Only for views the server never
/// renders on a page that gets the customers' bundle (none renders an agent's view, as a
/// page starts at the login; the first run's page always gets the agents'): otherwise the
/// page the server rendered would not be the one the customers' bundle draws.
macro_rules! console_only {
    ($($view:tt)*) => {{
        #[cfg(feature = "console")]
        let view = view! { $($view)* }.into_any();
        #[cfg(not(feature = "console"))]
        let view = ().into_any();
        view
    }};
}

mod chat;
#[cfg(feature = "console")]
mod desk;
mod files;
#[cfg(feature = "console")]
mod integrations;
mod login;
#[cfg(feature = "console")]
mod profile;
mod rating;
#[cfg(feature = "console")]
mod reports;
mod rich;
#[cfg(feature = "console")]
mod search;
#[cfg(feature = "console")]
mod setup;
mod status;
mod support;
#[cfg(feature = "console")]
mod team;
mod transcript;
#[cfg(feature = "console")]
mod user_list;
mod when;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Html, MetaTags, Title};

use crate::state::{Chat, ChatState};
use crate::text::{Lang, Ui};

/// The HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let bundle = bundle_for_page(&options);
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta http-equiv="Content-Security-Policy" content=content_security_policy(&options)/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // The app's styles under the name its script and WebAssembly have (with the
                // site built in, a versioned name: `server/src/transport/assets.rs`).
                <link rel="stylesheet" id="leptos" href=format!("/pkg/{}.css", options.output_name)/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options=bundle/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The customers' bundle (`customer/`), where the site has one: its name as the pages load
/// it (the server provides it with the `chat` binary's site: `server/src/transport/mod.rs`).
#[derive(Clone, Debug)]
pub struct CustomerBundle(pub std::sync::Arc<str>);

/// The options the page's hydration scripts are named from: the customers' bundle, where
/// there is one, unless the page is the first run's or the browser holds an agent's session
/// cookie (then the agents'). Whether the cookie is valid does not matter: either bundle
/// works for anyone, the agents' is only bigger.
fn bundle_for_page(options: &LeptosOptions) -> LeptosOptions {
    #[cfg(feature = "ssr")]
    if let (Some(CustomerBundle(name)), Some(parts)) =
        (use_context::<CustomerBundle>(), use_context::<http::request::Parts>())
    {
        use crate::protocol::{cookie_in, SESSION_COOKIE, SESSION_COOKIE_HTTPS, SETUP_PATH};
        let agent = [SESSION_COOKIE, SESSION_COOKIE_HTTPS]
            .into_iter()
            .any(|cookie| cookie_in(&parts.headers, cookie).is_some());
        // `/setup/` is the first run's page too (`Address::is_setup`).
        let setup = parts.uri.path().trim_end_matches('/') == SETUP_PATH;
        if !agent && !setup {
            let mut customers = options.clone();
            customers.output_name = name;
            return customers;
        }
    }
    options.clone()
}

/// What the page may load and run: its own files, its inline scripts only with this
/// response's nonce (so an injected `<script>` does not run), WebAssembly, and
/// connections to its own origin. The server adds the headers a `<meta>` cannot carry
/// (`frame-ancestors`).
fn content_security_policy(options: &LeptosOptions) -> String {
    let nonce = leptos::nonce::use_nonce().map(|n| format!(" 'nonce-{}'", &*n)).unwrap_or_default();
    // `cargo leptos watch` reloads the page over a websocket on its own port.
    let reload = if cfg!(debug_assertions) {
        format!(" ws://*:{}", options.reload_port)
    } else {
        String::new()
    };
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: blob:; connect-src 'self'{reload}; object-src 'none'; base-uri 'self'; form-action 'self'"
    )
}

/// The whole app: the chat state and connection, and its pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let address = page_address();
    let state = ChatState::new(page_lang(&address));

    // In the browser the connection starts here (once the page is live, as it is async); on the
    // server nothing connects and commands go nowhere.
    #[cfg(feature = "browser")]
    let commands = crate::client::start(state, vouched_customer());
    #[cfg(not(feature = "browser"))]
    let commands = Callback::new(|_: crate::state::Command| {});
    provide_context(Chat { state, commands });

    view! {
        <Html {..} lang=move || state.lang.get().tag()/>
        // The unread count in the tab title, for whoever keeps the chat in a background tab.
        <Title text=move || match state.unread_total() {
            0 => t().title.to_owned(),
            n => format!("({n}) {}", t().title),
        }/>
        <Page address/>
    }
}

/// The address a page is rendered for: its path and its query (without the `?`). Three
/// pages and a few query parameters need no router (`leptos_router` was 41 KB of the
/// customers' WebAssembly as brotli, 13%).
///
/// Any path but these two is the customers' page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Address {
    path: String,
    query: String,
}

impl Address {
    /// The customer view that `widget.js` embeds in other sites' pages: exactly its path, as
    /// the server's framing rule (`security_headers`) and the signed user
    /// (`vouched_customer`) have it.
    fn is_widget(&self) -> bool {
        self.path == crate::protocol::WIDGET_PATH
    }

    /// The first run's link: the first admin is created there (`/setup/` too, as for the
    /// bundle the page loads: `bundle_for_page`).
    fn is_setup(&self) -> bool {
        self.path.trim_end_matches('/') == crate::protocol::SETUP_PATH
    }

    /// The query parameter `key`, decoded as the browser's `URLSearchParams` does.
    fn param(&self, key: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.into_owned())
    }
}

/// The address of the page: the request's on the server, the location's in the browser
/// (the same, so the page in the browser is the one rendered).
fn page_address() -> Address {
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<http::request::Parts>() {
        let (path, query) = (parts.uri.path(), parts.uri.query().unwrap_or(""));
        return Address { path: path.to_owned(), query: query.to_owned() };
    }
    #[cfg(feature = "browser")]
    if let Some(location) = web_sys::window().map(|w| w.location()) {
        let search = location.search().unwrap_or_default();
        return Address {
            path: location.pathname().unwrap_or_default(),
            query: search.trim_start_matches('?').to_owned(),
        };
    }
    Address::default()
}

/// In the widget, the customer the host site vouches for (`widget.js` passes the site's
/// signed user in the frame's fragment, which never reaches a server log).
#[cfg(feature = "browser")]
fn vouched_customer() -> Option<(String, crate::protocol::HostIdentity)> {
    let location = web_sys::window()?.location();
    if location.pathname().ok()? != crate::protocol::WIDGET_PATH {
        return None;
    }
    let fragment = location.hash().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(fragment.trim_start_matches('#')).ok()?;
    let id = params.get("user-id").filter(|id| !id.is_empty())?;
    let name = params.get("user-name").filter(|n| !n.trim().is_empty())?;
    // An expiry that is not a number is left out: the server then says the identity could
    // not be verified.
    let expires = params.get("user-expires").and_then(|e| e.trim().parse().ok());
    let identity = crate::protocol::HostIdentity {
        id,
        sig: params.get("user-sig"),
        expires,
        attributes: params.get("user-attributes"),
    };
    Some((name, identity))
}

/// Whether the page is the embedded widget (customers only, compact).
#[derive(Clone, Copy)]
pub(crate) struct Embedded(pub bool);

/// The page: the login view until the server accepts a login, then the chat. As a widget,
/// with the host site's greeting and colour (`?greeting=…&color=…&lang=…`). Any address
/// but the widget's and the first run's is the customers' page.
/// The first run's page (`setup`) has a form that creates the first admin instead of
/// logging in.
#[component]
fn Page(address: Address) -> impl IntoView {
    let state = use_chat().state;
    let widget = address.is_widget();
    let setup = RwSignal::new(address.is_setup());
    provide_context(Embedded(widget));
    provide_context(login::LoginDraft::new());
    let greeting = widget
        .then(|| address.param("greeting"))
        .flatten()
        .map(|g| g.trim().chars().take(GREETING_MAX_CHARS).collect::<String>())
        .filter(|g| !g.is_empty());
    #[cfg(feature = "browser")]
    if let Some(colour) =
        widget.then(|| address.param("color")).flatten().and_then(|c| crate::colour::Rgb::parse(&c))
    {
        // Set through the CSS object model, which the page's style policy allows: the host's
        // colour and the inks that stay readable with it (crate::colour).
        if let Some(root) =
            web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element())
        {
            use wasm_bindgen::JsCast;
            if let Ok(root) = root.dyn_into::<web_sys::HtmlElement>() {
                for (name, value) in crate::colour::widget_properties(colour) {
                    if let Err(e) = root.style().set_property(name, &value) {
                        leptos::logging::warn!("the widget's colour {name}: {e:?}");
                    }
                }
            }
        }
    }
    // The pre-chat question goes as the first message once the login is through.
    let chat = use_chat();
    Effect::new(move |_| {
        if state.me.with(Option::is_some) && state.open.with(Option::is_some) {
            if let Some(first) = state.prechat.try_update(Option::take).flatten() {
                chat.send(crate::state::Command::Send(first));
            }
        }
    });
    // Once the first admin is in, the address is the console's: the used link (and its
    // token) leaves the address bar (and the history), a reload logs in as usual, and a
    // logout shows the login form.
    #[cfg(feature = "browser")]
    if setup.get_untracked() {
        Effect::new(move |_| {
            if state.me.with(Option::is_some) && setup.get_untracked() {
                let history = web_sys::window().map(|w| w.history());
                let replaced = history.map(|h| {
                    h.and_then(|h| {
                        h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/"))
                    })
                });
                if let Some(Err(e)) = replaced {
                    leptos::logging::warn!("leaving the first run's address: {e:?}");
                }
                setup.set(false);
            }
        });
    }
    // Escape inside the widget closes it: the host page's `widget.js` listens.
    #[cfg(feature = "browser")]
    if widget {
        let handle = window_event_listener(leptos::ev::keydown, |ev| {
            if ev.key() == "Escape" {
                if let Some(Ok(Some(host))) = web_sys::window().map(|w| w.parent()) {
                    let _ = host.post_message(&wasm_bindgen::JsValue::from_str(WIDGET_CLOSE), "*");
                }
            }
        });
        on_cleanup(move || handle.remove());
    }
    view! {
        // The language the page was rendered in, for the browser to take it over in the same
        // (`page_lang`; the customers' bundle reads it before it removes the server's markup).
        <div class="app" class:widget=widget data-lang=move || state.lang.get().tag()>
            <header class="topbar">
                <h1>{move || t().title}</h1>
                <LangSwitch/>
                <status::ConnectionBadge/>
            </header>
            {greeting.map(|g| view! { <p class="greeting" data-testid="greeting">{g}</p> })}
            <status::ErrorBanner/>
            // Switching the language renders the views again, in it.
            {move || {
                state.lang.track();
                view! {
                    <Show
                        when=move || state.me.with(Option::is_some)
                        fallback=move || if setup.get() {
                            console_only! { <setup::SetupView/> }
                        } else {
                            view! { <login::LoginView/> }.into_any()
                        }
                    >
                        <chat::ChatView/>
                    </Show>
                }
            }}
        </div>
    }
}

/// What the widget tells its host page (`widget.js`) when the reader presses Escape.
#[cfg(feature = "browser")]
const WIDGET_CLOSE: &str = "support-chat:close";

/// The longest greeting a host site may show in the widget.
const GREETING_MAX_CHARS: usize = 200;

/// The language to render in: on the server, the page's `?lang=` (a widget's host page
/// says), the reader's choice (the cookie) or their browser's (`Accept-Language`); in the
/// browser, the one the server rendered in.
#[cfg_attr(not(feature = "ssr"), allow(unused_variables))]
fn page_lang(address: &Address) -> Lang {
    #[cfg(feature = "ssr")]
    {
        let Some(parts) = use_context::<http::request::Parts>() else { return Lang::default() };
        // The widget's host page may say (`?lang=zh-CN`).
        if let Some(lang) = address.param("lang").as_deref().and_then(Lang::of_tag) {
            return lang;
        }
        let chosen = crate::protocol::cookie_in(&parts.headers, crate::text::LANG_COOKIE)
            .and_then(|tag| Lang::of_tag(&tag));
        chosen.unwrap_or_else(|| {
            // Several header lines are one list.
            let lines: Vec<&str> = parts
                .headers
                .get_all(http::header::ACCEPT_LANGUAGE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            Lang::preferred(&lines.join(","))
        })
    }
    #[cfg(not(feature = "ssr"))]
    {
        #[cfg(feature = "browser")]
        {
            let rendered = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.query_selector(".app").ok().flatten())
                .and_then(|app| app.get_attribute("data-lang"));
            if let Some(lang) = rendered.as_deref().and_then(Lang::of_tag) {
                return lang;
            }
        }
        Lang::default()
    }
}

/// Chooses the language; remembered in a cookie for the next pages.
#[component]
fn LangSwitch() -> impl IntoView {
    let state = use_chat().state;
    let choose = move |ev: leptos::ev::Event| {
        let Some(lang) = Lang::of_tag(&event_target_value(&ev)) else { return };
        state.lang.set(lang);
        #[cfg(feature = "browser")]
        {
            use wasm_bindgen::JsCast;
            let document = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok());
            let cookie = format!(
                "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                crate::text::LANG_COOKIE,
                lang.tag()
            );
            if let Some(Err(e)) = document.map(|d| d.set_cookie(&cookie)) {
                leptos::logging::warn!("cannot remember the language: {e:?}");
            }
        }
    };
    view! {
        <label class="lang-switch">
            <span class="visually-hidden">{move || t().language_label}</span>
            <select data-testid="lang" on:change=choose prop:value=move || state.lang.get().tag()>
                {Lang::ALL
                    .into_iter()
                    // `selected` as well as the list's `value`: the server writes no property
                    // into its markup, so without it the page's first paint showed the first
                    // language whatever the page's was.
                    .map(|lang| {
                        let selected = move || state.lang.get() == lang;
                        view! { <option value=lang.tag() lang=lang.tag() selected=selected>{lang.name()}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The badge beside an agent who is away or busy, in the reader's language.
pub(crate) fn presence_badge(status: crate::protocol::AgentStatus) -> &'static str {
    use crate::protocol::AgentStatus;
    match status {
        AgentStatus::Away => t().away_badge,
        AgentStatus::Busy => t().busy_badge,
        AgentStatus::Online => t().online_badge,
    }
}

/// The UI's labels in the reader's language (tracked: what shows one follows a switch).
pub(crate) fn t() -> &'static Ui {
    use_chat().state.lang.get().ui()
}

/// The [`Chat`] provided by [`App`].
fn use_chat() -> Chat {
    expect_context::<Chat>()
}
