//! The side list. A customer sees the agents online (a click addresses one of them); an
//! agent sees conversations and online customers, with unread counts (a click opens one).

use leptos::prelude::*;

use super::use_chat;
use crate::inbox::Target;
use crate::protocol::{ConversationId, Role, UserName};
use crate::text::EN;

/// One row of an agent's list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Row {
    customer: UserName,
    conversation: Option<ConversationId>,
}

#[component]
pub fn UserList() -> impl IntoView {
    let state = use_chat().state;
    let me = move || state.me.get().map(|m| m.name);
    let role = move || state.me.with(|m| m.as_ref().map(|m| m.role));
    let others = move || {
        let me = me();
        state.users.get().into_iter().filter(|u| Some(u) != me.as_ref()).collect::<Vec<_>>()
    };
    // An agent's rows: every conversation held, then online customers without one yet.
    let rows = move || {
        let online = others();
        state.inbox.with(|inbox| {
            let mut rows: Vec<Row> = inbox
                .threads
                .iter()
                .map(|(id, t)| Row { customer: t.customer.clone(), conversation: Some(*id) })
                .collect();
            for name in online {
                if !rows.iter().any(|r| r.customer == name) {
                    rows.push(Row { customer: name, conversation: None });
                }
            }
            rows.sort_by_key(|r| r.customer.as_str().to_lowercase());
            rows
        })
    };

    let agents_view = move || {
        view! {
            <h2>{EN.agents_heading}</h2>
            <ul data-testid="user-list">
                <For
                    each=others
                    key=|name| name.clone()
                    children=move |name| {
                        let n = name.clone();
                        let selected = Memo::new(move |_| state.to.get().as_ref() == Some(&n));
                        view! {
                            <li class="user" class:selected=selected>
                                <button
                                    type="button"
                                    data-testid="user"
                                    data-name=name.to_string()
                                    data-online="true"
                                    aria-pressed=move || selected.get().to_string()
                                    on:click={
                                        let name = name.clone();
                                        move |_| state.to.set(if selected.get_untracked() { None } else { Some(name.clone()) })
                                    }
                                >
                                    {name.to_string()}
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || others().is_empty()>
                <p class="hint" data-testid="no-agents">{EN.no_agents_online}</p>
            </Show>
        }
    };

    let conversations_view = move || {
        view! {
            <h2>{EN.conversations_heading}</h2>
            <ul data-testid="user-list">
                <For
                    each=rows
                    key=|row| row.clone()
                    children=move |row| {
                        let Row { customer, conversation } = row;
                        let target = match conversation {
                            Some(id) => Target::Conversation(id),
                            None => Target::Person(customer.clone()),
                        };
                        let selected = Memo::new({
                            let target = target.clone();
                            move |_| state.open.get().as_ref() == Some(&target)
                        });
                        let online = Memo::new({
                            let c = customer.clone();
                            move |_| state.users.with(|u| u.contains(&c))
                        });
                        let unread = Memo::new(move |_| {
                            conversation.map(|id| state.inbox.with(|i| i.threads.get(&id).map(|t| t.unread).unwrap_or(0))).unwrap_or(0)
                        });
                        view! {
                            <li class="user" class:selected=selected class:offline=move || !online.get()>
                                <button
                                    type="button"
                                    data-testid="user"
                                    data-name=customer.to_string()
                                    data-online=move || online.get().to_string()
                                    aria-current=move || selected.get().to_string()
                                    on:click=move |_| state.open(target.clone())
                                >
                                    {customer.to_string()}
                                    <Show when=move || !online.get()>
                                        <span class="presence">{EN.offline_badge}</span>
                                    </Show>
                                    <Show when=move || { unread.get() > 0 }>
                                        <span class="unread" data-testid="unread">{unread}</span>
                                    </Show>
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
        }
    };

    view! {
        <nav class="users" aria-label=EN.online_heading>
            <p class="user me" data-testid="user-me">
                {move || me().map(|n| n.to_string()).unwrap_or_default()}
                {EN.you_suffix}
            </p>
            {move || match role() {
                Some(Role::Agent) => conversations_view().into_any(),
                _ => agents_view().into_any(),
            }}
        </nav>
    }
}
