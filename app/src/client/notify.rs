//! Telling an agent about a new message while they look elsewhere: a short tone and, when
//! the browser allows it, a system notification. (The unread count in the tab title is
//! rendered by the views.)
//!
//! Must not: fail loudly. Browsers may refuse sound before a gesture or notifications
//! altogether; the chat works the same without them.

use std::cell::RefCell;

use web_sys::{AudioContext, Notification, NotificationOptions, NotificationPermission};

use crate::protocol::ChatMessage;

thread_local! {
    /// One audio context for the page: browsers limit how many may exist.
    static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// Asks for permission to show notifications (call it from a click: browsers ignore the
/// request otherwise).
pub fn ask_permission() {
    if Notification::permission() == NotificationPermission::Default {
        if let Err(e) = Notification::request_permission() {
            leptos::logging::warn!("cannot ask for notifications: {e:?}");
        }
    }
}

/// A message from someone else arrived: tone and notification if the tab is hidden.
pub(crate) fn new_message(message: &ChatMessage, lang: crate::text::Lang) {
    let hidden = web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden());
    if message.is_self || !hidden {
        return;
    }
    tone();
    if Notification::permission() == NotificationPermission::Granted {
        let options = NotificationOptions::new();
        options.set_body(&message.message);
        options.set_tag(&format!("conversation-{}", message.conversation.0));
        if let Err(e) = Notification::new_with_options(
            &format!("{} {}", lang.ui().new_message_from, message.from),
            &options,
        ) {
            leptos::logging::warn!("cannot show a notification: {e:?}");
        }
    }
}

/// A quiet 150 ms tone.
fn tone() {
    AUDIO.with(|audio| {
        let mut audio = audio.borrow_mut();
        if audio.is_none() {
            *audio = AudioContext::new().ok();
        }
        let Some(ctx) = audio.as_ref() else { return };
        let played = (|| -> Result<(), wasm_bindgen::JsValue> {
            let oscillator = ctx.create_oscillator()?;
            let gain = ctx.create_gain()?;
            oscillator.frequency().set_value(880.0);
            gain.gain().set_value(0.05);
            oscillator.connect_with_audio_node(&gain)?;
            gain.connect_with_audio_node(&ctx.destination())?;
            oscillator.start()?;
            oscillator.stop_with_when(ctx.current_time() + 0.15)?;
            Ok(())
        })();
        if let Err(e) = played {
            leptos::logging::warn!("cannot play the new-message tone: {e:?}");
        }
    });
}
