//! Files over HTTP, in the browser: uploads with their progress, cancel and retry, and
//! fetching a file with the session to show or save it.
//!
//! Owns: the browser's side of [`ATTACHMENTS_PATH`]. A chosen, pasted or dropped file is
//! checked against the server's limit, then uploaded with an `XMLHttpRequest` (`fetch`
//! cannot report upload progress); once the server answers with its [`Attachment`], the
//! file is sent as a message through the outbox (`Command::SendFiles`), which delivers it
//! once however often the connection drops. A customer's requests carry their session
//! token as a bearer (no cookie is theirs); an agent's carry the session cookie.
//! Must not: render (`components::files` does) or decide who may fetch what (the server).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{File, XmlHttpRequest};

use crate::inbox::Target;
use crate::protocol::{
    file_too_large, Attachment, Problem, Role, UploadRefused, ATTACHMENTS_PATH,
    ATTACHMENTS_PER_MESSAGE, ATTACHMENT_MAX_BYTES,
};
use crate::state::{Chat, ChatState, Command, ConnStatus};
use crate::uploads::{Phase, Upload};

/// A file being uploaded: the file (kept for a retry) and its request while it runs.
struct InFlight {
    file: File,
    request: Option<XmlHttpRequest>,
    /// The request's event handlers, alive as long as it runs.
    handlers: Vec<Closure<dyn FnMut(web_sys::ProgressEvent)>>,
    /// Times it was tried again by itself since the person last chose it or retried it.
    auto_retries: u32,
    /// A task waits for the connection to come back to try it again.
    waiting: bool,
}

/// Tries after a broken connection before the person is left to retry by hand.
const AUTO_RETRIES: u32 = 3;

thread_local! {
    static IN_FLIGHT: RefCell<HashMap<u64, InFlight>> = RefCell::new(HashMap::new());
    static NEXT_KEY: Cell<u64> = const { Cell::new(1) };
}

/// Uploads files the person chose, pasted or dropped, each to be sent in a message of its
/// own as soon as it is up, in the conversation open now (even if another is open by
/// then). At most [`ATTACHMENTS_PER_MESSAGE`] files in one pick, paste or drop.
pub fn upload_files(chat: Chat, files: Vec<File>) {
    let state = chat.state;
    let Some(target) = state.open.get_untracked() else {
        state.error.set(Some(state.lang.get_untracked().ui().pick_conversation.to_owned()));
        return;
    };
    if matches!(target, Target::Person(_)) && state.is_agent_untracked() {
        // An agent's upload names its conversation, which a person picked from the list
        // before their conversation is known does not have yet.
        state.error.set(Some(Problem::UnknownConversation.in_lang(state.lang.get_untracked())));
        return;
    }
    if files.len() > ATTACHMENTS_PER_MESSAGE {
        state.error.set(Some(Problem::TooManyAttachments.in_lang(state.lang.get_untracked())));
        return;
    }
    for file in files {
        let key = NEXT_KEY.with(|k| {
            let key = k.get();
            k.set(key + 1);
            key
        });
        let upload = Upload {
            key,
            name: file.name(),
            size: file.size() as u64,
            target: target.clone(),
            phase: Phase::Sending(0),
        };
        state.uploads.update(|u| u.push(upload));
        IN_FLIGHT.with(|f| {
            f.borrow_mut().insert(
                key,
                InFlight {
                    file,
                    request: None,
                    handlers: Vec::new(),
                    auto_retries: 0,
                    waiting: false,
                },
            )
        });
        start(chat, key);
    }
}

/// Tries a failed upload again (the person asked: it may go again by itself as often as
/// the first time).
pub fn retry(chat: Chat, key: u64) {
    IN_FLIGHT.with(|f| {
        if let Some(flight) = f.borrow_mut().get_mut(&key) {
            flight.auto_retries = 0;
        }
    });
    start(chat, key);
}

/// Stops an upload (or forgets a failed one): its row goes, nothing is sent.
pub fn cancel(state: ChatState, key: u64) {
    release(key);
    IN_FLIGHT.with(|f| f.borrow_mut().remove(&key));
    state.uploads.update(|u| u.retain(|u| u.key != key));
}

/// Stops every upload and lets go of every fetched file (at logout).
pub fn forget(state: ChatState) {
    let keys: Vec<u64> = state.uploads.with_untracked(|u| u.iter().map(|u| u.key).collect());
    for key in keys {
        cancel(state, key);
    }
    for url in state.blobs.with_untracked(|b| b.values().cloned().collect::<Vec<_>>()) {
        revoke(&url);
    }
    state.blobs.set(Default::default());
}

fn set_phase(state: ChatState, key: u64, phase: Phase) {
    state.uploads.update(|u| {
        if let Some(upload) = u.iter_mut().find(|u| u.key == key) {
            upload.phase = phase;
        }
    });
}

fn fail(state: ChatState, key: u64, problem: Problem) {
    // The file itself is the trouble: trying it again changes nothing.
    let retry = !matches!(
        problem,
        Problem::AttachmentTooLarge(_)
            | Problem::AttachmentType
            | Problem::AttachmentEmpty
            | Problem::ImageUnreadable
    );
    let reason = problem.in_lang(state.lang.get_untracked());
    set_phase(state, key, Phase::Failed { reason, retry });
}

/// The connection broke before the server answered (it restarted, the network went): the
/// row says so, and the upload goes again by itself once the connection is back.
fn broke(chat: Chat, key: u64) {
    let reason = chat.state.lang.get_untracked().ui().upload_broken.to_owned();
    set_phase(chat.state, key, Phase::Failed { reason, retry: true });
    release(key);
    retry_when_back(chat, key);
}

/// The largest file the server takes, as it said at login.
fn max_bytes(state: ChatState) -> u64 {
    state
        .me
        .with_untracked(|m| m.as_ref().and_then(|m| m.attachment_max_bytes))
        .unwrap_or(ATTACHMENT_MAX_BYTES)
}

/// Starts (or restarts) the upload of `key`.
fn start(chat: Chat, key: u64) {
    let state = chat.state;
    // Whatever ran for it before stops first: one request per upload at a time.
    release(key);
    set_phase(state, key, Phase::Sending(0));
    let Some(upload) = state.uploads.with_untracked(|u| u.iter().find(|u| u.key == key).cloned())
    else {
        return;
    };
    let Some(file) = IN_FLIGHT.with(|f| f.borrow().get(&key).map(|f| f.file.clone())) else {
        return;
    };
    let max = max_bytes(state);
    if upload.size > max {
        return fail(state, key, file_too_large(max));
    }
    if upload.size == 0 {
        return fail(state, key, Problem::AttachmentEmpty);
    }
    let mut url = format!(
        "{ATTACHMENTS_PATH}?name={}",
        String::from(js_sys::encode_uri_component(&upload.name))
    );
    if let (Target::Conversation(id), true) = (&upload.target, state.is_agent_untracked()) {
        url.push_str(&format!("&conversation={}", id.0));
    }
    let request = match open(&url, state) {
        Ok(request) => request,
        Err(e) => {
            leptos::logging::warn!("could not start an upload: {e:?}");
            return fail(state, key, Problem::Internal);
        }
    };

    let progress = Closure::<dyn FnMut(_)>::new(move |ev: web_sys::ProgressEvent| {
        set_phase(state, key, Phase::Sending(ev.loaded() as u64));
    });
    let done = {
        let request = request.clone();
        Closure::<dyn FnMut(_)>::new(move |_: web_sys::ProgressEvent| {
            let status = request.status().unwrap_or(0);
            let body = request.response_text().ok().flatten().unwrap_or_default();
            finished(chat, key, status, &body);
        })
    };
    let broken = Closure::<dyn FnMut(_)>::new(move |_: web_sys::ProgressEvent| broke(chat, key));
    if let Ok(up) = request.upload() {
        up.set_onprogress(Some(progress.as_ref().unchecked_ref()));
    }
    request.set_onload(Some(done.as_ref().unchecked_ref()));
    request.set_onerror(Some(broken.as_ref().unchecked_ref()));
    request.set_ontimeout(Some(broken.as_ref().unchecked_ref()));
    let sent = request.send_with_opt_blob(Some(&file));
    IN_FLIGHT.with(|f| {
        if let Some(flight) = f.borrow_mut().get_mut(&key) {
            flight.request = Some(request);
            flight.handlers = vec![progress, done, broken];
        }
    });
    if let Err(e) = sent {
        leptos::logging::warn!("could not send an upload: {e:?}");
        broke(chat, key);
    }
}

/// After a broken upload: tries again by itself once the connection to the server is back
/// (it restarted, the network returned), at most [`AUTO_RETRIES`] times in a row; the row
/// shows the failure, with a retry, meanwhile and after.
fn retry_when_back(chat: Chat, key: u64) {
    let allowed = IN_FLIGHT.with(|f| {
        f.borrow_mut().get_mut(&key).is_some_and(|flight| {
            if flight.waiting || flight.auto_retries >= AUTO_RETRIES {
                return false;
            }
            flight.auto_retries += 1;
            flight.waiting = true;
            true
        })
    });
    if !allowed {
        return;
    }
    spawn_local(async move {
        // Long enough for the socket to have noticed a server that went away (a silent
        // network notices only at its ping timeout: then the tries may run out, and the
        // row's Retry is there).
        gloo_timers::future::TimeoutFuture::new(1_000).await;
        loop {
            let still_failed = chat.state.uploads.with_untracked(|u| {
                u.iter().any(|u| u.key == key && matches!(u.phase, Phase::Failed { .. }))
            });
            let back = chat.state.conn.get_untracked() == ConnStatus::Connected
                && chat.state.me.with_untracked(Option::is_some);
            if !still_failed || back {
                let known = IN_FLIGHT.with(|f| {
                    f.borrow_mut().get_mut(&key).map(|flight| flight.waiting = false).is_some()
                });
                if known && still_failed {
                    start(chat, key);
                }
                return;
            }
            gloo_timers::future::TimeoutFuture::new(500).await;
        }
    });
}

/// A customer's session token, from their login: their requests carry it as a bearer.
/// `None` for agents, whose requests carry the cookie.
fn customer_token(state: ChatState) -> Option<String> {
    state.me.with_untracked(|m| {
        m.as_ref().filter(|m| m.role == Role::Customer).and_then(|m| m.resume.clone())
    })
}

/// A `POST` to `url` with the session (see the module's doc).
fn open(url: &str, state: ChatState) -> Result<XmlHttpRequest, JsValue> {
    let request = XmlHttpRequest::new()?;
    request.open_with_async("POST", url, true)?;
    if let Some(token) = customer_token(state) {
        request.set_request_header("Authorization", &format!("Bearer {token}"))?;
    }
    Ok(request)
}

/// Ends the request of `key`, if one runs (it ended, or is stopped): unhooks and drops its
/// handlers (not from inside one of them: a moment later).
fn release(key: u64) {
    let handlers = IN_FLIGHT.with(|f| {
        f.borrow_mut().get_mut(&key).map(|flight| {
            if let Some(request) = flight.request.take() {
                detach(&request);
                // Fails only on a request never opened, or already done: nothing to stop.
                let _ = request.abort();
            }
            std::mem::take(&mut flight.handlers)
        })
    });
    if let Some(handlers) = handlers {
        // A closure must outlive the call it is running in: let the event finish first.
        spawn_local(async move { drop(handlers) });
    }
}

/// Unhooks a request's handlers, so that none runs once they are dropped.
fn detach(request: &XmlHttpRequest) {
    if let Ok(up) = request.upload() {
        up.set_onprogress(None);
    }
    request.set_onload(None);
    request.set_onerror(None);
    request.set_ontimeout(None);
}

/// The server answered an upload: the file is sent as a message, or the row says why not.
fn finished(chat: Chat, key: u64, status: u16, body: &str) {
    let state = chat.state;
    release(key);
    if status == 200 {
        match serde_json::from_str::<Attachment>(body) {
            Ok(attachment) => {
                let target = state
                    .uploads
                    .with_untracked(|u| u.iter().find(|u| u.key == key).map(|u| u.target.clone()));
                IN_FLIGHT.with(|f| f.borrow_mut().remove(&key));
                state.uploads.update(|u| u.retain(|u| u.key != key));
                if let Some(target) = target {
                    chat.send(Command::SendFiles { target, attachments: vec![attachment] });
                }
            }
            Err(e) => {
                leptos::logging::warn!("an upload's answer was not an attachment: {e}");
                fail(state, key, Problem::Internal);
            }
        }
        return;
    }
    let problem = match serde_json::from_str::<UploadRefused>(body) {
        Ok(refused) => refused.problem,
        Err(_) if status == 413 => file_too_large(max_bytes(state)),
        Err(_) => {
            leptos::logging::warn!("upload refused with {status}: {body}");
            Problem::Internal
        }
    };
    fail(state, key, problem);
}

/// Fetches a file (or a thumbnail) with the session and gives an object URL for it, kept
/// in [`ChatState::blobs`] for this page (until logout); `None` when it cannot be had
/// (logged in the console; the view then shows the file's name alone).
pub async fn object_url(state: ChatState, path: String) -> Option<String> {
    if let Some(url) = state.blobs.with_untracked(|b| b.get(&path).cloned()) {
        return Some(url);
    }
    let blob = fetch_blob(state, &path).await?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|e| leptos::logging::warn!("could not show a file: {e:?}"))
        .ok()?;
    // Asked twice at once (two views of one file): the first kept wins, the other goes.
    if let Some(kept) = state.blobs.with_untracked(|b| b.get(&path).cloned()) {
        revoke(&url);
        return Some(kept);
    }
    state.blobs.update(|b| {
        b.insert(path, url.clone());
    });
    Some(url)
}

fn revoke(url: &str) {
    if let Err(e) = web_sys::Url::revoke_object_url(url) {
        leptos::logging::warn!("could not let go of a file's object URL: {e:?}");
    }
}

/// Fetches a file with the session and hands it to the browser to save as `name`.
pub async fn download(state: ChatState, path: String, name: String) {
    let Some(blob) = fetch_blob(state, &path).await else {
        state.error.set(Some(state.lang.get_untracked().ui().file_unavailable.to_owned()));
        return;
    };
    let saved = (|| -> Result<(), JsValue> {
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
        let link: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
        link.set_href(&url);
        link.set_download(&name);
        link.click();
        // The browser has started reading it; the URL can go after a moment.
        let later = Closure::once_into_js(move || revoke(&url));
        web_sys::window()
            .ok_or("no window")?
            .set_timeout_with_callback_and_timeout_and_arguments_0(later.unchecked_ref(), 60_000)?;
        Ok(())
    })();
    if let Err(e) = saved {
        leptos::logging::warn!("could not save a file: {e:?}");
    }
}

async fn fetch_blob(state: ChatState, path: &str) -> Option<web_sys::Blob> {
    let mut request = gloo_net::http::Request::get(path);
    if let Some(token) = customer_token(state) {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request
        .send()
        .await
        .map_err(|e| leptos::logging::warn!("could not fetch {path}: {e}"))
        .ok()?;
    if !response.ok() {
        leptos::logging::warn!("fetching {path}: {}", response.status());
        return None;
    }
    let mime = response.headers().get("content-type").unwrap_or_default();
    let bytes = response
        .binary()
        .await
        .map_err(|e| leptos::logging::warn!("could not read {path}: {e}"))
        .ok()?;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&mime);
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| leptos::logging::warn!("could not keep {path}: {e:?}"))
        .ok()
}
