//! Files in the conversation view: the attach button, the uploads under way (progress,
//! cancel, retry), what a message carries (a thumbnail that opens the full image, or a
//! download), and the image viewer. Pasting and dropping files are wired in `chat`, with
//! [`pasted`] and [`dropped`].
//!
//! Images are shown from object URLs the client fetched with the session
//! ([`ChatState::blobs`](crate::state::ChatState::blobs)): a customer's session is a bearer
//! token, which an `<img src>` cannot carry. Anything that is not an image is only ever
//! saved, never opened in the page.

use leptos::html;
use leptos::prelude::*;

use super::{t, use_chat};
use crate::inbox::Target;
use crate::protocol::Attachment;
use crate::uploads::{human_size, Phase};

/// The image open in the viewer, if any (provided by the chat view).
#[derive(Clone, Copy)]
pub struct Viewing(pub RwSignal<Option<Attachment>>);

/// The paperclip: a file picker for the open conversation (several files at once).
#[component]
pub fn AttachButton() -> impl IntoView {
    let chat = use_chat();
    let input = NodeRef::<html::Input>::new();
    let on_change = move |_| {
        if let Some(input) = input.get_untracked() {
            picked(chat, &input);
        }
    };
    view! {
        <label class="attach" data-testid="attach" title=move || t().attach_files>
            <input type="file" multiple class="visually-hidden" data-testid="attach-input" node_ref=input on:change=on_change/>
            // A drawn paperclip: an emoji depends on the reader's fonts (some have none).
            <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
                <path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>
            </svg>
            <span class="visually-hidden">{move || t().attach_files}</span>
        </label>
    }
}

/// The uploads of the open conversation: each with its progress and a cancel, or why it
/// failed with a retry.
#[component]
pub fn Uploads() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let shown = move || {
        let open: Option<Target> = state.open.get();
        state.uploads.with(|u| {
            u.iter()
                .filter(|u| Some(&u.target) == open.as_ref())
                .map(|u| match &u.phase {
                    Phase::Sending(_) => (u.key, None),
                    Phase::Failed { reason, .. } => (u.key, Some(reason.clone())),
                })
                .collect::<Vec<_>>()
        })
    };
    // A row is drawn again when its upload fails (again), not at each step of its progress.
    let row = move |(key, _): (u64, Option<String>)| {
        let upload = move || state.uploads.with(|u| u.iter().find(|u| u.key == key).cloned());
        let Some(first) = upload() else { return ().into_any() };
        let name = first.name.clone();
        let size = human_size(first.size);
        // "Cancel screenshot.png": each row's buttons say which file they are for.
        let named = {
            let name = name.clone();
            move |label: &str| format!("{label} {name}")
        };
        let body = match first.phase {
            Phase::Sending(_) => {
                let named = named.clone();
                view! {
                    <progress
                        max="100"
                        value=move || upload().map(|u| u.percent()).unwrap_or(0)
                        aria-label={ let named = named.clone(); move || named(t().uploading) }
                    ></progress>
                    <button type="button" class="link" data-testid="upload-cancel" aria-label=move || named(t().cancel_upload) on:click=move |_| cancel(chat, key)>
                        {move || t().cancel_upload}
                    </button>
                }
                .into_any()
            }
            Phase::Failed { reason, retry } => {
                let retry_label = named.clone();
                view! {
                    <span class="reason" role="alert" data-testid="upload-error">{reason}</span>
                    {retry.then(|| view! {
                        <button type="button" class="link" data-testid="upload-retry" aria-label=move || retry_label(t().retry) on:click=move |_| again(chat, key)>
                            {move || t().retry}
                        </button>
                    })}
                    <button type="button" class="link" data-testid="upload-remove" aria-label=move || named(t().remove_upload) on:click=move |_| cancel(chat, key)>
                        {move || t().remove_upload}
                    </button>
                }
                .into_any()
            }
        };
        view! {
            <li class="upload" data-testid="upload">
                <span class="name">{name}</span>
                <span class="size">{size}</span>
                {body}
            </li>
        }
        .into_any()
    };
    view! {
        <Show when=move || !shown().is_empty()>
            <ul class="uploads" data-testid="uploads">
                <For each=shown key=|k| k.clone() children=row/>
            </ul>
        </Show>
    }
}

/// What a message carries: a thumbnail per image (opening the full image), a download
/// per other file.
pub fn attachments_view(attachments: Vec<Attachment>) -> impl IntoView {
    let items = attachments.into_iter().map(|a| match (a.thumb, a.thumb_url()) {
        (Some(size), Some(path)) => thumbnail(a, size, path).into_any(),
        _ => download_button(a).into_any(),
    });
    view! { <div class="files">{items.collect_view()}</div> }
}

/// An image's thumbnail, which opens the full image; its name until (or unless) the
/// thumbnail could be fetched.
fn thumbnail(a: Attachment, size: crate::protocol::Size, path: String) -> impl IntoView {
    let chat = use_chat();
    let viewing = expect_context::<Viewing>().0;
    let src = RwSignal::new(None::<String>);
    load(chat.state, path, move |url| src.set(url));
    let name = a.name.clone();
    let label = {
        let name = name.clone();
        move || format!("{} {name}", t().open_image)
    };
    view! {
        <button type="button" class="thumb" data-testid="attachment-image" aria-label=label on:click=move |_| viewing.set(Some(a.clone()))>
            {move || match src.get() {
                Some(src) => view! { <img src=src alt="" width=size.width height=size.height/> }.into_any(),
                None => view! { <span class="thumb-name">{name.clone()}</span> }.into_any(),
            }}
        </button>
    }
}

fn download_button(a: Attachment) -> impl IntoView {
    let chat = use_chat();
    let (path, name) = (a.url(), a.name.clone());
    let size = human_size(a.size);
    let label = {
        let name = name.clone();
        move || format!("{} {name} ({size})", t().download)
    };
    let save = move |_| save(chat, path.clone(), name.clone());
    view! {
        <button type="button" class="file" data-testid="attachment-file" on:click=save>
            <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
                <path d="M7 3h7l5 5v13H7z M14 3v5h5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/>
            </svg>
            {label}
        </button>
    }
}

/// The full image, over the page (a modal `<dialog>`: Escape or Close closes it and the
/// focus goes back where it was).
#[component]
pub fn Viewer() -> impl IntoView {
    let chat = use_chat();
    let viewing = expect_context::<Viewing>().0;
    let dialog = NodeRef::<html::Dialog>::new();
    let close = NodeRef::<html::Button>::new();
    let src = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let Some(dialog) = dialog.get() else { return };
        match viewing.get() {
            Some(a) => {
                src.set(None);
                // Shown only if it is still the one asked for when it arrives.
                let id = a.id.clone();
                load(chat.state, a.url(), move |url| {
                    if viewing.with_untracked(|v| v.as_ref().is_some_and(|v| v.id == id)) {
                        src.set(url);
                    }
                });
                if !dialog.open() {
                    if let Err(e) = dialog.show_modal() {
                        leptos::logging::warn!("could not open the image viewer: {e:?}");
                    }
                    // Focused by hand: `autofocus` is refused (and logged) in a frame of
                    // another site, where the widget lives.
                    if let Some(close) = close.get_untracked() {
                        if let Err(e) = close.focus() {
                            leptos::logging::warn!("could not focus the viewer: {e:?}");
                        }
                    }
                }
            }
            None if dialog.open() => dialog.close(),
            None => {}
        }
    });
    let name = move || viewing.get().map(|a| a.name).unwrap_or_default();
    let save_it = move |_| {
        if let Some(a) = viewing.get_untracked() {
            save(chat, a.url(), a.name);
        }
    };
    view! {
        <dialog class="viewer" data-testid="viewer" node_ref=dialog aria-label=name on:close=move |_| viewing.set(None)>
            <div class="viewer-bar">
                <span class="name">{name}</span>
                <button type="button" class="link" data-testid="viewer-download" on:click=save_it>{move || t().download}</button>
                <button type="button" data-testid="viewer-close" node_ref=close on:click=move |_| viewing.set(None)>{move || t().close}</button>
            </div>
            {move || src.get().map(|src| view! { <img data-testid="viewer-image" src=src alt=name()/> })}
        </dialog>
    }
}

// ---- The browser's side (the server renders the views and handles no events) ----

/// Fetches a file with the session; `done` gets its object URL (`None`: it could not be had).
#[cfg(feature = "browser")]
fn load(state: crate::state::ChatState, path: String, done: impl FnOnce(Option<String>) + 'static) {
    leptos::task::spawn_local(async move {
        done(crate::client::files::object_url(state, path).await);
    });
}

/// Files dropped anywhere else on the page are not opened in its place (which would leave
/// the chat); only the conversation takes them.
#[cfg(feature = "browser")]
pub fn keep_drops_in_the_page() {
    let over = window_event_listener(leptos::ev::dragover, |ev| {
        if carries_files(&ev) {
            ev.prevent_default();
        }
    });
    let drop = window_event_listener(leptos::ev::drop, |ev| {
        if carries_files(&ev) {
            ev.prevent_default();
        }
    });
    on_cleanup(move || {
        over.remove();
        drop.remove();
    });
}

/// Whether a drag left `ev`'s element (not just moved onto one of its children).
#[cfg(feature = "browser")]
pub fn left(ev: &leptos::ev::DragEvent) -> bool {
    use leptos::wasm_bindgen::JsCast;
    let area = ev.current_target().and_then(|t| t.dyn_into::<leptos::web_sys::Node>().ok());
    let into = ev.related_target().and_then(|t| t.dyn_into::<leptos::web_sys::Node>().ok());
    match (area, into) {
        (Some(area), Some(into)) => !area.contains(Some(&into)),
        _ => true,
    }
}

#[cfg(feature = "browser")]
fn save(chat: crate::state::Chat, path: String, name: String) {
    leptos::task::spawn_local(crate::client::files::download(chat.state, path, name));
}

#[cfg(feature = "browser")]
fn cancel(chat: crate::state::Chat, key: u64) {
    crate::client::files::cancel(chat.state, key);
}

#[cfg(feature = "browser")]
fn again(chat: crate::state::Chat, key: u64) {
    crate::client::files::retry(chat, key);
}

/// The files of a list the browser gave (a picker, a paste, a drop).
#[cfg(feature = "browser")]
fn files_in(list: Option<leptos::web_sys::FileList>) -> Vec<leptos::web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

#[cfg(feature = "browser")]
fn picked(chat: crate::state::Chat, input: &leptos::web_sys::HtmlInputElement) {
    let files = files_in(input.files());
    // Emptied, so that choosing the same file again is a change too.
    input.set_value("");
    if !files.is_empty() {
        crate::client::files::upload_files(chat, files);
    }
}

/// A paste into the composer: files (a screenshot) are uploaded; text pastes as usual.
#[cfg(feature = "browser")]
pub fn pasted(chat: crate::state::Chat, ev: &leptos::ev::ClipboardEvent) {
    let files = files_in(ev.clipboard_data().and_then(|d| d.files()));
    if !files.is_empty() {
        ev.prevent_default();
        crate::client::files::upload_files(chat, files);
    }
}

/// Whether a drag carries files (then the conversation takes the drop).
#[cfg(feature = "browser")]
pub fn carries_files(ev: &leptos::ev::DragEvent) -> bool {
    ev.data_transfer().is_some_and(|d| d.types().includes(&"Files".into(), 0))
}

/// Files dropped onto the conversation are uploaded.
#[cfg(feature = "browser")]
pub fn dropped(chat: crate::state::Chat, ev: &leptos::ev::DragEvent) {
    let files = files_in(ev.data_transfer().and_then(|d| d.files()));
    ev.prevent_default();
    if !files.is_empty() {
        crate::client::files::upload_files(chat, files);
    }
}

#[cfg(not(feature = "browser"))]
fn load(_: crate::state::ChatState, _: String, _: impl FnOnce(Option<String>) + 'static) {}
#[cfg(not(feature = "browser"))]
pub fn keep_drops_in_the_page() {}
#[cfg(not(feature = "browser"))]
pub fn left(_: &leptos::ev::DragEvent) -> bool {
    true
}
#[cfg(not(feature = "browser"))]
fn save(_: crate::state::Chat, _: String, _: String) {}
#[cfg(not(feature = "browser"))]
fn cancel(_: crate::state::Chat, _: u64) {}
#[cfg(not(feature = "browser"))]
fn again(_: crate::state::Chat, _: u64) {}
#[cfg(not(feature = "browser"))]
fn picked(_: crate::state::Chat, _: &leptos::web_sys::HtmlInputElement) {}
#[cfg(not(feature = "browser"))]
pub fn pasted(_: crate::state::Chat, _: &leptos::ev::ClipboardEvent) {}
#[cfg(not(feature = "browser"))]
pub fn carries_files(_: &leptos::ev::DragEvent) -> bool {
    false
}
#[cfg(not(feature = "browser"))]
pub fn dropped(_: crate::state::Chat, _: &leptos::ev::DragEvent) {}
