//! The HTTP side of the contract: the paths and the cookie the browser and server share.

/// HTTP: `POST` an [`AgentCredentials`] to log an agent in (the answer is an
/// [`AgentSession`] and the session cookie), `DELETE` to log out. Browsers log agents in
/// here, so that the session token lives in an `HttpOnly` cookie that scripts cannot read;
/// a Socket.IO `login` with `role: "agent"` and no password then uses the cookie the
/// handshake carried.
pub const SESSION_PATH: &str = "/session";
/// The first-run page: while no agent account exists, the server prints a link to it with
/// a one-time token in the fragment (`/setup#TOKEN`), where the first admin is created.
pub const SETUP_PATH: &str = "/setup";
/// HTTP: `POST` a [`FirstAdmin`] (JSON) to create the first admin with the setup link's
/// token; the answer is an [`AgentSession`]. Over loopback only, unless `SETUP_REMOTE`.
pub const SETUP_ADMIN_PATH: &str = "/setup/admin";
/// The page `widget.js` embeds in host sites' pages: the customer view, the one page any
/// site may frame.
pub const WIDGET_PATH: &str = "/widget";
/// The agent session cookie (`HttpOnly; SameSite=Strict`), when the chat is served over
/// plain HTTP (on loopback, say).
pub const SESSION_COOKIE: &str = "chat_agent";
/// The agent session cookie over HTTPS: the `__Host-` prefix makes browsers take it only
/// from this very host, over HTTPS, for the whole site and no other domain, so a page on a
/// sibling subdomain can neither set nor overwrite it.
pub const SESSION_COOKIE_HTTPS: &str = "__Host-chat_agent";

/// HTTP: `GET` a conversation as a file (`?format=text|html&lang=en|zh-CN&offset=480`, the
/// reader's offset from UTC in minutes east): its customer with their session token as
/// `Authorization: Bearer`, an agent who sees it with their cookie. Anyone else, and any
/// conversation that does not exist, gets the same 404.
pub const TRANSCRIPT_PATH: &str = "/conversations/{id}/transcript";

/// The address of conversation `id`'s transcript in `format` (`text`, `html`), for a reader
/// of `lang` whose offset from UTC is `offset_min` minutes east.
pub fn transcript_url(id: u64, format: &str, lang: &str, offset_min: i32) -> String {
    format!(
        "{}?format={format}&lang={lang}&offset={offset_min}",
        TRANSCRIPT_PATH.replace("{id}", &id.to_string())
    )
}

/// The value of the cookie `name` in a request's `Cookie` headers, if set and not empty.
#[cfg(feature = "ssr")]
pub fn cookie_in(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}
