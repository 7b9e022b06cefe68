//! An agent's side list, their console: their conversations, the ones waiting, and the
//! others (online customers and everyone else's), with unread counts; a click opens one.
//! Above it the search box; a search shows in its place (`search.rs`).
//! (A customer has no list: they write to the team, see `support.rs`.)

use leptos::prelude::*;

use super::t;
use super::use_chat;
use crate::inbox::Target;
use crate::protocol::{ConversationId, Status, UserName};
use crate::state::{DeskCommand, MoreConversations};

/// One row of an agent's list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Row {
    customer: UserName,
    conversation: Option<ConversationId>,
}

/// The parts of an agent's list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Mine,
    Waiting,
    Others,
}

#[component]
pub fn UserList() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let me = move || state.me.get().map(|m| m.name);
    // An agent's rows in one section: every conversation held or on the desk, then
    // online customers without one yet (among the others).
    let rows = move |section: Section| {
        let online = state.others_online();
        let me = me();
        let desk = state.desk.get();
        let section_of = |id: Option<ConversationId>| match id.and_then(|id| desk.get(&id)) {
            Some(s) if s.status == Status::Open && s.assignee == me => Section::Mine,
            Some(s) if s.status == Status::Queued => Section::Waiting,
            _ => Section::Others,
        };
        state.inbox.with(|inbox| {
            let mut rows: Vec<Row> = inbox
                .threads
                .iter()
                .map(|(id, t)| Row { customer: t.customer.clone(), conversation: Some(*id) })
                .collect();
            for (id, summary) in &desk {
                if !inbox.threads.contains_key(id) {
                    rows.push(Row { customer: summary.customer.clone(), conversation: Some(*id) });
                }
            }
            for name in online {
                if !rows.iter().any(|r| r.customer == name) {
                    rows.push(Row { customer: name, conversation: None });
                }
            }
            rows.retain(|r| section_of(r.conversation) == section);
            rows.sort_by_key(|r| r.customer.as_str().to_lowercase());
            rows
        })
    };

    // A conversation listed without its messages (a later page) asks for them as it opens.
    let open = move |target: Target| {
        let unheld = match &target {
            Target::Conversation(id) => state
                .inbox
                .with_untracked(|i| !i.threads.contains_key(id))
                .then(|| state.desk.with_untracked(|d| d.get(id).cloned()))
                .flatten(),
            Target::Person(_) => None,
        };
        match unheld {
            Some(summary) => chat.send(DeskCommand::OpenFound { summary, seq: None }),
            None => state.open(target),
        }
    };
    let section_view = move |section: Section, heading: &'static str, testid: &'static str| {
        view! {
            <h2>{heading}</h2>
            <ul data-testid=testid>
                <For
                    each=move || rows(section)
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
                        // The one on screen is being read (the count clears when the server
                        // hears so).
                        let unread = Memo::new(move |_| match conversation {
                            Some(id) if !selected.get() => state.unread(id),
                            _ => 0,
                        });
                        // Whose it is, when it is someone else's.
                        let owner = move || {
                            let summary = conversation.and_then(|id| state.desk.with(|d| d.get(&id).cloned()))?;
                            match summary.status {
                                Status::Open if summary.assignee != me() => summary.assignee.map(|a| a.to_string()),
                                Status::Resolved => Some(t().status_resolved.to_owned()),
                                _ => None,
                            }
                        };
                        view! {
                            <li class="user" class:selected=selected class:offline=move || !online.get()>
                                <button
                                    type="button"
                                    data-testid="user"
                                    data-name=customer.to_string()
                                    data-online=move || online.get().to_string()
                                    aria-current=move || selected.get().to_string()
                                    on:click=move |_| open(target.clone())
                                >
                                    {customer.to_string()}
                                    <Show when=move || !online.get()>
                                        <span class="presence">{move || t().offline_badge}</span>
                                    </Show>
                                    {move || owner().map(|o| view! { <span class="owner" data-testid="owner">{o}</span> })}
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
    let admin = move || state.me.with(|m| m.as_ref().is_some_and(|m| m.admin));
    let conversations_view = move || {
        view! {
            {section_view(Section::Mine, t().mine_heading, "mine")}
            {section_view(Section::Waiting, t().queue_heading, "waiting")}
            {section_view(Section::Others, t().others_heading, "others")}
            <Show when=move || matches!(state.more_conversations.get(), MoreConversations::After(_) | MoreConversations::Waiting(_))>
                <button
                    type="button"
                    class="link more-conversations"
                    data-testid="more-conversations"
                    disabled=move || matches!(state.more_conversations.get(), MoreConversations::Waiting(_))
                    on:click=move |_| chat.send(DeskCommand::MoreConversations)
                >
                    {move || t().more_conversations}
                </button>
            </Show>
            <Show when=admin>
                <super::team::TeamPanel/>
                <super::reports::ReportsPanel/>
                <super::integrations::IntegrationsPanel/>
            </Show>
        }
    };

    view! {
        <nav class="users" aria-label=move || t().conversations_heading>
            <p class="user me" data-testid="user-me">
                {move || me().map(|n| n.to_string()).unwrap_or_default()}
                {move || t().you_suffix}
            </p>
            <super::search::SearchBox/>
            // A search shows in place of the list until it is closed.
            <Show when=move || state.search.with(Option::is_some) fallback=conversations_view>
                <super::search::SearchResultsView/>
            </Show>
        </nav>
    }
}
