//! Downloading the open conversation as a file (text, or a web page), in the reader's
//! language and time zone: for the customer their own, for an agent any they see.

use leptos::prelude::*;

use super::{t, use_chat};
use crate::inbox::Target;

/// "Download the conversation: as text · as a web page", under its header.
#[component]
pub fn TranscriptLinks() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let open = move || match state.open.get() {
        Some(Target::Conversation(id)) => Some(id),
        _ => None,
    };
    let save = move |format: &'static str| {
        let Some(id) = open() else { return };
        let lang = state.lang.get_untracked().tag();
        #[cfg(feature = "browser")]
        {
            // The browser's offset from UTC, in minutes east.
            let offset = -(js_sys::Date::new_0().get_timezone_offset() as i32);
            let url = crate::protocol::transcript_url(id.0, format, lang, offset);
            let extension = if format == "html" { "html" } else { "txt" };
            let name = format!("conversation-{}.{extension}", id.0);
            leptos::task::spawn_local(crate::client::files::download(state, url, name));
        }
        #[cfg(not(feature = "browser"))]
        let _ = (id, lang, format);
    };
    view! {
        <Show when=move || open().is_some()>
            <p class="transcript" data-testid="transcript">
                {move || t().transcript_download} ": "
                <button type="button" class="link" data-testid="transcript-text" on:click=move |_| save("text")>
                    {move || t().transcript_as_text}
                </button>
                " · "
                <button type="button" class="link" data-testid="transcript-html" on:click=move |_| save("html")>
                    {move || t().transcript_as_html}
                </button>
            </p>
        </Show>
    }
}
