//! The chat: the user list, the conversation with the chosen person, and the composer.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use super::use_chat;
use super::user_list::UserList;
use crate::protocol::{MessageText, PrivateMessage, Role, UserName};
use crate::state::{Command, ConnStatus};
use crate::text::EN;

#[component]
pub fn ChatView() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let draft = RwSignal::new(String::new());
    let list_end = NodeRef::<html::Li>::new();

    let me = move || state.me.get();
    let peers = move || {
        let me = state.me.get().map(|m| m.name);
        state.users.get().into_iter().filter(|u| Some(u) != me.as_ref()).collect::<Vec<_>>()
    };
    // The conversation with the chosen peer, oldest first.
    let conversation = move || {
        let Some(peer) = state.peer.get() else { return Vec::new() };
        state.messages.with(|all| {
            all.iter()
                .filter(|m| if m.is_self { m.to == peer } else { m.from == peer })
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let online = move || state.conn.get() == ConnStatus::Connected;

    // Keep the newest message in view.
    Effect::new(move |_| {
        state.messages.track();
        state.peer.track();
        if let Some(end) = list_end.get() {
            end.scroll_into_view();
        }
    });

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(to) = state.peer.get_untracked() else {
            state.error.set(Some(EN.pick_recipient.to_owned()));
            return;
        };
        if let Err(problem) = MessageText::parse(&draft.get_untracked()) {
            state.error.set(Some(problem.to_string()));
            return;
        }
        chat.send(Command::Send(PrivateMessage { to: to.to_string(), message: draft.get_untracked() }));
        draft.set(String::new());
    };

    let on_pick = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if let Ok(name) = UserName::parse(&value) {
            state.open(name);
        }
    };

    view! {
        <main class="chat">
            <section class="who">
                <span>{EN.logged_in_as} " "</span>
                <strong data-testid="me">{move || me().map(|m| m.name.to_string()).unwrap_or_default()}</strong>
                <Show when=move || me().map(|m| m.role) == Some(Role::Agent)>
                    <span class="badge">{EN.agent_badge}</span>
                </Show>
                <button type="button" class="link" data-testid="logout" on:click=move |_| chat.send(Command::Logout)>
                    {EN.log_out}
                </button>
            </section>
            <div class="panes">
                <UserList/>
                <section class="conversation">
                    <label class="picker">
                        <span>{EN.to_label}</span>
                        <select data-testid="recipient" on:change=on_pick prop:value=move || state.peer.get().map(|p| p.to_string()).unwrap_or_default()>
                            <option value="" disabled selected=move || state.peer.with(Option::is_none)>{EN.pick_recipient}</option>
                            <For
                                each=peers
                                key=|n| n.clone()
                                children=move |n| {
                                    let value = n.to_string();
                                    view! { <option value=value.clone()>{value.clone()}</option> }
                                }
                            />
                        </select>
                    </label>
                    <ul class="messages" role="log" aria-live="polite" data-testid="messages">
                        <For
                            each=conversation
                            key=|m| (m.id, m.is_self)
                            children=move |m| {
                                let class = if m.is_self { "msg mine" } else { "msg theirs" };
                                let who = if m.is_self { EN.you.to_owned() } else { m.from.to_string() };
                                view! {
                                    <li class=class data-testid="message" data-self=m.is_self.to_string()>
                                        <span class="from">{who}</span>
                                        <p class="text">{m.message}</p>
                                    </li>
                                }
                            }
                        />
                        <Show when=move || conversation().is_empty()>
                            <li class="empty">{EN.no_messages}</li>
                        </Show>
                        <li class="end" node_ref=list_end aria-hidden="true"></li>
                    </ul>
                    <form class="composer" on:submit=submit>
                        <input
                            type="text"
                            data-testid="composer"
                            aria-label=EN.message_placeholder
                            placeholder=EN.message_placeholder
                            maxlength="4000"
                            bind:value=draft
                        />
                        <button type="submit" data-testid="send" disabled=move || !online()>{EN.send_button}</button>
                    </form>
                    <Show when=move || !online()>
                        <p class="hint">{EN.offline_send_hint}</p>
                    </Show>
                </section>
            </div>
        </main>
    }
}
