//! The chat: the side list, the open conversation (stored messages, then the ones still
//! on their way) and the composer.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use super::files::{self, AttachButton, Uploads, Viewer, Viewing};
use super::rich::rich_text;
use super::t;
use super::use_chat;
#[cfg(feature = "console")]
use super::user_list::UserList;
use super::when;
use crate::inbox::{Delivery, Outgoing, Target};
use crate::protocol::{ChatMessage, ConversationId, MessageText, Note, Role};
#[cfg(feature = "console")]
use crate::state::DeskCommand;
use crate::state::{Chat, Command, ConnStatus};

#[component]
pub fn ChatView() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let draft = RwSignal::new(String::new());
    let list = NodeRef::<html::Ul>::new();
    provide_context(Viewing(RwSignal::new(None)));
    files::keep_drops_in_the_page();
    // Files are being dragged over the conversation (it takes them when dropped).
    let dragging = RwSignal::new(false);

    let me = move || state.me.get();
    let is_agent = move || me().map(|m| m.role) == Some(Role::Agent);
    let open_id = move || match state.open.get() {
        Some(Target::Conversation(id)) => Some(id),
        _ => None,
    };
    // The stored messages of the open conversation, oldest first.
    let stored = move || {
        let Some(id) = open_id() else { return Vec::new() };
        state.inbox.with(|i| {
            i.threads
                .get(&id)
                .map(|t| t.messages.values().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    // Messages and (for agents) internal notes, in time order.
    let lines = move || {
        let Some(id) = open_id() else { return Vec::new() };
        state.inbox.with(|i| {
            let Some(t) = i.threads.get(&id) else { return Vec::new() };
            let mut lines: Vec<Line> = t.messages.values().cloned().map(Line::Message).collect();
            lines.extend(t.notes.values().cloned().map(Line::Note));
            lines.extend(t.ratings.values().cloned().map(Line::Rating));
            lines.sort_by_key(|l| match l {
                Line::Message(m) => (m.ts, 0, m.seq),
                Line::Note(n) => (n.ts, 1, n.id),
                Line::Rating(r) => (r.ts, 3, r.seq),
                // Not in the list yet: day lines go in after the sort.
                Line::Day { ts, .. } => (*ts, 2, 0),
            });
            // A line before each day's first message or note.
            let starts = when::day_starts(lines.iter().map(Line::ts));
            for (i, day) in starts.into_iter().rev() {
                let ts = lines[i].ts();
                lines.insert(i, Line::Day { conversation: id, day, ts });
            }
            lines
        })
    };
    // What "today" is: checked every minute, so that a page left open past midnight moves
    // its day lines on ("Today" becomes "Yesterday").
    let now = RwSignal::new(when::now_ms());
    // An effect: in the browser only (the server has no window, and renders no messages).
    Effect::new(move |_| {
        let tick = move || now.set(when::now_ms());
        // setInterval fails only without a window: then there is no page to keep current.
        if let Ok(ticks) = set_interval_with_handle(tick, std::time::Duration::from_secs(60)) {
            on_cleanup(move || ticks.clear());
        }
    });
    // Whether what the agent writes is an internal note.
    #[cfg(feature = "console")]
    let note_mode = RwSignal::new(false);
    // Canned replies matching a draft that starts with "/".
    #[cfg(feature = "console")]
    let suggestions = move || {
        let draft = draft.get();
        let Some(typed) = draft.strip_prefix('/') else { return Vec::new() };
        state.canned.with(|c| {
            c.iter().filter(|r| r.shortcut.starts_with(typed.trim())).cloned().collect::<Vec<_>>()
        })
    };
    let outgoing = move || {
        let Some(target) = state.open.get() else { return Vec::new() };
        state.inbox.with(|i| i.outgoing_for(&target).cloned().collect::<Vec<_>>())
    };
    // For a customer: the support side has read their newest message.
    let read_receipt = move || {
        let Some(id) = open_id() else { return false };
        let read = state.read.with(|r| r.get(&id).copied().unwrap_or(0));
        let last_mine = stored().iter().rev().find(|m| m.is_self).map(|m| m.seq);
        !is_agent() && outgoing().is_empty() && last_mine.is_some_and(|seq| seq <= read)
    };
    let more = move || {
        open_id().is_some_and(|id| state.inbox.with(|i| i.threads.get(&id).is_some_and(|t| t.more)))
    };
    let online = move || state.conn.get() == ConnStatus::Connected;
    let typing_now = move || {
        open_id().and_then(|id| state.typing.with(|t| t.get(&id).map(|(n, _)| n.to_string())))
    };
    let load_older = move || {
        if let Some(id) = open_id() {
            if more() {
                chat.send(Command::LoadOlder(id));
            }
        }
    };

    // Keep the newest message in view (not when an older page arrives), once it is drawn.
    let newest = Memo::new(move |_| {
        let last = stored().last().map(|m| (m.conversation, m.seq));
        (last, outgoing().len(), state.open.get())
    });
    // What an agent has on screen is read (the customer sees it).
    #[cfg(feature = "console")]
    Effect::new(move |_| {
        let _newest = newest.get();
        if let (true, Some(id)) = (is_agent(), open_id()) {
            chat.send(DeskCommand::MarkRead(id));
        }
    });
    // A message opened from a search: brought into view once it is drawn, and the newest
    // no longer pulls the list down while it is marked.
    let focused =
        move || state.focus.get().filter(|(id, _)| Some(*id) == open_id()).map(|(_, seq)| seq);
    // The found message is brought into view once, when it is drawn: then the reader
    // scrolls as they like (nothing pulls the list while it is marked).
    let brought = StoredValue::new(None::<u64>);
    Effect::new(move |_| {
        // Read the value: with only `newest.track()` the effect did not re-run here.
        let _newest = newest.get();
        let focus = focused();
        let Some(list) = list.get() else { return };
        match focus {
            Some(seq) if brought.get_value() == Some(seq) => {}
            Some(seq) if stored().iter().any(|m| m.seq == seq) => {
                brought.set_value(Some(seq));
                request_animation_frame(move || {
                    if let Ok(Some(line)) = list.query_selector(&format!("li[data-seq=\"{seq}\"]"))
                    {
                        line.scroll_into_view_with_bool(false);
                    }
                });
            }
            // Not drawn yet: it is on its way (asked for as the conversation opened).
            Some(_) => {}
            None => {
                brought.set_value(None);
                request_animation_frame(move || list.set_scroll_top(list.scroll_height()))
            }
        }
    });

    let composer = NodeRef::<html::Textarea>::new();
    let send_draft = move || {
        if state.open.with_untracked(Option::is_none) {
            state.error.set(Some(t().pick_conversation.to_owned()));
            return;
        }
        if let Err(problem) = MessageText::parse(&draft.get_untracked()) {
            state.error.set(Some(problem.in_lang(state.lang.get_untracked())));
            return;
        }
        // Writing brings the newest back into view.
        state.focus.set(None);
        match draft.get_untracked() {
            #[cfg(feature = "console")]
            text if note_mode.get_untracked() => chat.send(DeskCommand::Note(text)),
            text => chat.send(Command::Send(text)),
        }
        draft.set(String::new());
        // Once the emptied text is in the page.
        request_animation_frame(move || fit_to_text(composer));
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send_draft();
    };
    // Enter sends and Shift+Enter starts a line; not while an input method is composing
    // (Enter there picks the characters), and not on a touch screen, whose keyboard's
    // Enter starts a line (the send button sends).
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter"
            && !ev.shift_key()
            && !ev.is_composing()
            && ev.key_code() != 229
            && !touch_screen()
        {
            ev.prevent_default();
            send_draft();
        }
    };

    let agents = move || state.others_online();

    view! {
        <main class="chat">
            <section class="who">
                <span>{move || t().logged_in_as} " "</span>
                <strong data-testid="me">{move || me().map(|m| m.name.to_string()).unwrap_or_default()}</strong>
                <Show when=is_agent>
                    <span class="badge">{move || t().agent_badge}</span>
                    {console_only! { <super::desk::StatusPicker/> }}
                </Show>
                <button type="button" class="link" data-testid="logout" on:click=move |_| chat.send(Command::Logout)>
                    {move || t().log_out}
                </button>
            </section>
            // A customer has one conversation, with the team: no list beside it.
            <div class="panes" class:solo=move || !is_agent()>
                <Show when=is_agent>
                    {console_only! { <UserList/> }}
                </Show>
                <section
                    class="conversation"
                    class:dropping=move || dragging.get()
                    on:dragover=move |ev| {
                        if files::carries_files(&ev) {
                            ev.prevent_default();
                            dragging.set(true);
                        }
                    }
                    on:dragleave=move |ev| {
                        if files::left(&ev) {
                            dragging.set(false);
                        }
                    }
                    on:drop=move |ev| {
                        dragging.set(false);
                        if files::carries_files(&ev) {
                            files::dropped(chat, &ev);
                        }
                    }
                >
                    <Show when=move || dragging.get()>
                        <p class="drop-hint" aria-hidden="true">{move || t().drop_files}</p>
                    </Show>
                    <Show when=is_agent fallback=|| view! { <super::support::SupportHeader/> }>
                        {console_only! {
                            <super::desk::DeskBar/>
                            <super::profile::ProfilePanel/>
                        }}
                    </Show>
                    <super::transcript::TranscriptLinks/>
                    // A live region: screen readers announce what arrives in it.
                    <div class="log" role="log" aria-live="polite">
                    // Focusable, so that the keyboard scrolls a long conversation even when
                    // nothing in it is (axe: scrollable-region-focusable).
                    <ul
                        class="messages"
                        data-testid="messages"
                        tabindex="0"
                        node_ref=list
                        on:scroll:capture=move |ev| {
                            let top = event_target::<leptos::web_sys::Element>(&ev).scroll_top();
                            if top == 0 {
                                load_older();
                            }
                        }
                    >
                        <Show when=more>
                            <li class="older">
                                <button type="button" class="link" data-testid="load-older" on:click=move |_| load_older()>
                                    {move || t().load_older}
                                </button>
                            </li>
                        </Show>
                        <For each=lines key=Line::key children=move |line| match line {
                            Line::Message(m) => stored_line(m).into_any(),
                            Line::Note(n) => note_line(n),
                            Line::Rating(r) => super::rating::rating_line(r).into_any(),
                            Line::Day { day, ts, .. } => day_line(day, ts, now).into_any(),
                        }/>
                        <For
                            each=outgoing
                            key=|o| (o.client_id.clone(), o.status.clone())
                            children=move |o| outgoing_line(o, chat)
                        />
                        <Show when=read_receipt>
                            <li class="receipt" data-testid="read-receipt">{move || t().read_receipt}</li>
                        </Show>
                        <Show when=move || stored().is_empty() && outgoing().is_empty()>
                            <li class="empty">{move || t().no_messages}</li>
                        </Show>
                    </ul>
                    </div>
                    <Show when=move || !is_agent()>
                        <super::rating::RatingPrompt/>
                    </Show>
                    {move || typing_now().map(|name| view! {
                        <p class="typing" data-testid="typing" aria-live="polite">{name} " " {move || t().is_typing}</p>
                    })}
                    // The canned replies a draft starting with "/" matches (the console's).
                    {console_only! {
                        <Show when=move || is_agent() && !suggestions().is_empty()>
                            <ul class="canned" data-testid="canned">
                                <For
                                    each=suggestions
                                    key=|r| r.clone()
                                    children=move |r| {
                                        let text = r.text.clone();
                                        view! {
                                            <li>
                                                <button type="button" class="link" data-testid="canned-option" on:click=move |_| draft.set(text.clone())>
                                                    "/" {r.shortcut.clone()} " — " {r.text.clone()}
                                                </button>
                                            </li>
                                        }
                                    }
                                />
                            </ul>
                        </Show>
                    }}
                    <Uploads/>
                    <form class="composer" on:submit=submit>
                        <AttachButton/>
                        <textarea
                            rows="1"
                            data-testid="composer"
                            node_ref=composer
                            aria-label=move || t().message_placeholder
                            aria-describedby="composer-hint"
                            placeholder=move || t().message_placeholder
                            maxlength=crate::protocol::MESSAGE_MAX_CHARS
                            bind:value=draft
                            on:input=move |_| {
                                fit_to_text(composer);
                                chat.send(Command::Typing);
                            }
                            on:keydown=on_key
                            on:paste=move |ev| files::pasted(chat, &ev)
                        ></textarea>
                        <span id="composer-hint" class="visually-hidden">{move || t().composer_hint}</span>
                        {console_only! {
                            <Show when=is_agent>
                                <label class="note-mode">
                                    <input type="checkbox" data-testid="note-mode" bind:checked=note_mode/>
                                    <span>{move || t().internal_note}</span>
                                </label>
                            </Show>
                        }}
                        <button type="submit" data-testid="send">{move || t().send_button}</button>
                    </form>
                    <Show when=move || !online()>
                        <p class="hint" data-testid="offline-hint">{move || t().offline_send_hint}</p>
                    </Show>
                    // No agent online: the customer is told so, and what they write waits
                    // for the first agent.
                    <Show when=move || !is_agent() && agents().is_empty()>
                        <p class="hint" data-testid="no-agents">{move || t().no_agents_online}</p>
                    </Show>
                    // Outside office hours the customer is told so; what they write waits.
                    {move || state.office.get().filter(|o| !o.open && !is_agent()).map(|o| view! {
                        <p class="closed" role="status" data-testid="closed">
                            {t().closed_notice} " " {o.hours} " " {t().closed_leave_message}
                        </p>
                    })}
                </section>
            </div>
            <Viewer/>
        </main>
    }
    // One type behind this point: the page's view type stays within the compiler's depth.
    .into_any()
}

/// One line of the conversation view.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    Message(ChatMessage),
    Note(Note),
    /// A customer's rating (agents).
    Rating(crate::protocol::Rating),
    /// Where a new day starts (`ts`: the moment of its first line).
    Day {
        conversation: ConversationId,
        day: when::Day,
        ts: u64,
    },
}

impl Line {
    /// Unique across conversations: a keyed list keeps the row of an equal key, so the
    /// first message of another conversation must not share one with this one's.
    fn key(&self) -> (u64, u8, i64) {
        match self {
            Line::Message(m) => (m.conversation.0, 0, m.seq as i64),
            Line::Note(n) => (n.conversation.0, 1, n.id as i64),
            Line::Rating(r) => (r.conversation.0, 3, r.seq as i64),
            Line::Day { conversation, day, .. } => (conversation.0, 2, *day),
        }
    }

    /// When it was written (milliseconds since the epoch).
    fn ts(&self) -> u64 {
        match self {
            Line::Message(m) => m.ts,
            Line::Note(n) => n.ts,
            Line::Rating(r) => r.ts,
            Line::Day { ts, .. } => *ts,
        }
    }
}

/// The line that starts a day: "Today", "Yesterday" or its date, in the reader's language.
fn day_line(day: when::Day, ts: u64, now: RwSignal<u64>) -> impl IntoView {
    let lang = use_chat().state.lang;
    view! {
        <li class="day" data-testid="day">
            <span>{move || when::day_label(day, ts, now.get(), lang.get())}</span>
        </li>
    }
}

/// When a message or note was written: the hour beside it; the date and time in full on
/// hover and for screen readers.
pub(super) fn moment(ts: u64) -> impl IntoView {
    let lang = use_chat().state.lang;
    let stamp = Memo::new(move |_| when::stamp(ts, lang.get()));
    view! {
        <time class="at" data-testid="time" datetime=move || stamp.get().machine title=move || stamp.get().full>
            <span aria-hidden="true">{move || stamp.get().short}</span>
            <span class="visually-hidden">{move || stamp.get().full}</span>
        </time>
    }
}

/// An internal note: agents only, shown apart from what the customer sees (the customers'
/// bundle draws none: they are never sent one).
fn note_line(n: Note) -> AnyView {
    #[cfg(not(feature = "console"))]
    drop(n);
    console_only! {
        <li class="msg note" data-testid="note-line">
            <span class="from">{move || t().internal_note} " · " {n.from.to_string()} " " {moment(n.ts)}</span>
            <p class="text">{rich_text(&n.text)}</p>
        </li>
    }
}

/// A stored message.
fn stored_line(m: ChatMessage) -> impl IntoView {
    let class = if m.is_self { "msg mine" } else { "msg theirs" };
    let who = if m.is_self { t().you.to_owned() } else { m.from.to_string() };
    let focus = use_chat().state.focus;
    let (conversation, seq) = (m.conversation, m.seq);
    // The message a search found, marked while it is the one opened.
    let found = move || focus.get() == Some((conversation, seq));
    view! {
        <li class=class class:found=found data-found=move || found().then_some("true") data-testid="message" data-self=m.is_self.to_string() data-status="sent" data-seq=m.seq>
            <span class="from">{who} " " {moment(m.ts)}</span>
            {(!m.text().is_empty()).then(|| view! { <p class="text">{rich_text(m.text())}</p> })}
            {(!m.attachments.is_empty()).then(|| files::attachments_view(m.attachments.clone()))}
        </li>
    }
}

/// A message written here and not stored yet: on its way, or refused with a retry.
fn outgoing_line(o: Outgoing, chat: Chat) -> impl IntoView {
    let (status, note, retry) = match &o.status {
        Delivery::Pending => ("pending", t().pending.to_owned(), None),
        Delivery::Failed(reason) => {
            ("failed", format!("{} {reason}", t().not_sent), Some(o.client_id.clone()))
        }
    };
    view! {
        <li class=format!("msg mine {status}") data-testid="message" data-self="true" data-status=status>
            <span class="from">{move || t().you}</span>
            {(!o.text.is_empty()).then(|| view! { <p class="text">{o.text}</p> })}
            {(!o.attachments.is_empty()).then(|| view! {
                <ul class="file-names">
                    {o.attachments.into_iter().map(|a| view! { <li>{a.name}</li> }).collect_view()}
                </ul>
            })}
            <p class="delivery" data-testid="delivery">
                {note}
                {retry.map(|id| view! {
                    <button type="button" class="link" data-testid="retry" on:click=move |_| chat.send(Command::Retry(id.clone()))>
                        {move || t().retry}
                    </button>
                })}
            </p>
        </li>
    }
}

/// Grows (or shrinks) the composer to its text, up to the height the stylesheet allows
/// (`max-height`; past it, the text scrolls).
#[cfg(feature = "browser")]
fn fit_to_text(composer: NodeRef<html::Textarea>) {
    let Some(el) = composer.get_untracked() else { return };
    let style = leptos::web_sys::HtmlElement::style(&el);
    // Measured at its smallest, so that deleting lines shrinks it again. (Writing a style
    // property fails only on a read-only declaration, which this is not.)
    if style.set_property("height", "auto").is_ok() {
        let _ = style.set_property("height", &format!("{}px", el.scroll_height() + 2));
    }
}

/// Whether the reader types on a touch screen (its keyboard's Enter starts a line).
#[cfg(feature = "browser")]
fn touch_screen() -> bool {
    leptos::web_sys::window()
        .and_then(|w| w.match_media("(pointer: coarse)").ok().flatten())
        .is_some_and(|m| m.matches())
}

// The server renders the page and handles no events.
#[cfg(not(feature = "browser"))]
fn fit_to_text(_composer: NodeRef<html::Textarea>) {}
#[cfg(not(feature = "browser"))]
fn touch_screen() -> bool {
    false
}
