//! Who this participant can write to, with unread counts; a click opens the conversation.

use leptos::prelude::*;

use super::use_chat;
use crate::protocol::Role;
use crate::text::EN;

#[component]
pub fn UserList() -> impl IntoView {
    let state = use_chat().state;
    let me = move || state.me.get().map(|m| m.name);
    let others = move || {
        let me = me();
        state.users.get().into_iter().filter(|u| Some(u) != me.as_ref()).collect::<Vec<_>>()
    };
    let is_customer = move || state.me.with(|m| m.as_ref().map(|m| m.role) == Some(Role::Customer));

    view! {
        <nav class="users" aria-label=EN.online_heading>
            <h2>{EN.online_heading}</h2>
            <ul data-testid="user-list">
                <li class="user me" data-testid="user-me">
                    {move || me().map(|n| n.to_string()).unwrap_or_default()}
                    {EN.you_suffix}
                </li>
                <For
                    each=others
                    key=|name| name.clone()
                    children=move |name| {
                        let n = name.clone();
                        let selected = Memo::new({
                            let n = n.clone();
                            move |_| state.peer.get().as_ref() == Some(&n)
                        });
                        let unread = Memo::new({
                            let n = n.clone();
                            move |_| state.unread.with(|u| u.get(&n).copied().unwrap_or(0))
                        });
                        view! {
                            <li class="user" class:selected=selected>
                                <button
                                    type="button"
                                    data-testid="user"
                                    data-name=n.to_string()
                                    aria-current=move || if selected.get() { "true" } else { "false" }
                                    on:click=move |_| state.open(name.clone())
                                >
                                    {n.to_string()}
                                    <Show when=move || { unread.get() > 0 }>
                                        <span class="unread" data-testid="unread">{unread}</span>
                                    </Show>
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || is_customer() && others().is_empty()>
                <p class="hint" data-testid="no-agents">{EN.no_agents_online}</p>
            </Show>
        </nav>
    }
}
