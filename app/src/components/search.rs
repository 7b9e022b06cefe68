//! An agent's search: the box above their list, and what it found in place of the list
//! (customers by name, user id or number; messages with what matched marked), newest first,
//! a page at a time. A click opens the conversation, at the message found.

use leptos::prelude::*;

use super::chat::moment;
use super::{t, use_chat};
use crate::protocol::{
    ConversationId, ConversationSummary, FoundBy, SearchQuery, Snippet, Status, UserName,
    SEARCH_MAX_CHARS,
};
use crate::state::DeskCommand;

/// The search box.
#[component]
pub fn SearchBox() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let query = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // Refused here as the server would, in the reader's language.
        match SearchQuery::parse(&query.get_untracked()) {
            Ok(q) => chat.send(DeskCommand::Search(q.text)),
            Err(problem) => state.error.set(Some(problem.in_lang(state.lang.get_untracked()))),
        }
    };
    view! {
        <form class="search" role="search" on:submit=submit>
            <label class="visually-hidden" for="search-query">{move || t().search_label}</label>
            <input
                id="search-query"
                type="search"
                data-testid="search"
                maxlength=SEARCH_MAX_CHARS
                placeholder=move || t().search_placeholder
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
            />
            <button type="submit" data-testid="search-button">{move || t().search_button}</button>
        </form>
    }
}

/// What the search found, while there is a search.
#[component]
pub fn SearchResultsView() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let search = move || state.search.get();
    let waiting = move || search().is_some_and(|s| s.waiting);
    let query = move || search().map(|s| s.query).unwrap_or_default();
    let conversations = move || search().map(|s| s.results.conversations).unwrap_or_default();
    let messages = move || search().map(|s| s.results.messages).unwrap_or_default();
    let more = move || search().is_some_and(|s| s.results.next.is_some());
    let nothing = move || !waiting() && conversations().is_empty() && messages().is_empty();
    let open = move |conversation, customer, status, assignee, seq| {
        let summary = ConversationSummary {
            id: conversation,
            customer,
            status,
            assignee,
            note: None,
            unread: 0,
        };
        chat.send(DeskCommand::OpenFound { summary, seq });
    };
    view! {
        <section class="search-results" data-testid="search-results" aria-busy=move || waiting().to_string()>
            <div class="search-head">
                <h2>{move || t().search_results_for.replace("{query}", &query())}</h2>
                <button type="button" class="link" data-testid="search-close" on:click=move |_| state.search.set(None)>
                    {move || t().search_close}
                </button>
            </div>
            // Announced when the answer comes.
            <p class="search-status" role="status">
                {move || if waiting() { t().searching } else if nothing() { t().search_nothing } else { "" }}
            </p>
            <Show when=move || !conversations().is_empty()>
                <h3>{move || t().search_customers}</h3>
                <ul class="found">
                    <For each=conversations key=|c| (c.conversation, c.by) children=move |c| {
                        let by = match c.by {
                            FoundBy::Name => t().found_by_name,
                            FoundBy::UserId => t().found_by_user_id,
                            FoundBy::Number => t().found_by_number,
                        };
                        let (id, customer, status, assignee) = (c.conversation, c.customer.clone(), c.status, c.assignee.clone());
                        view! {
                            <li>
                                <button type="button" class="found-item" data-testid="found-conversation"
                                    on:click=move |_| open(id, customer.clone(), status, assignee.clone(), None)>
                                    {heading(c.conversation, &c.customer, c.status, c.assignee.clone(), c.ts)}
                                    <span class="snippet">{by} ": " {marked(&c.snippet)}</span>
                                </button>
                            </li>
                        }
                    }/>
                </ul>
            </Show>
            <Show when=move || !messages().is_empty()>
                <h3>{move || t().search_messages}</h3>
                <ul class="found">
                    <For each=messages key=|m| m.id children=move |m| {
                        let (id, customer, status, assignee, seq) = (m.conversation, m.customer.clone(), m.status, m.assignee.clone(), m.seq);
                        view! {
                            <li>
                                <button type="button" class="found-item" data-testid="found-message"
                                    data-conversation=m.conversation.0 data-seq=m.seq
                                    on:click=move |_| open(id, customer.clone(), status, assignee.clone(), Some(seq))>
                                    {heading(m.conversation, &m.customer, m.status, m.assignee.clone(), m.ts)}
                                    <span class="snippet"><span class="from">{m.from.to_string()} ": "</span>{marked(&m.snippet)}</span>
                                </button>
                            </li>
                        }
                    }/>
                </ul>
            </Show>
            <Show when=more>
                <button type="button" class="link" data-testid="search-more" disabled=waiting on:click=move |_| chat.send(DeskCommand::SearchMore)>
                    {move || t().search_more}
                </button>
            </Show>
        </section>
    }
}

/// A find's first line: the customer, the conversation's number and status, and when.
fn heading(
    id: ConversationId,
    customer: &UserName,
    status: Status,
    assignee: Option<UserName>,
    ts: u64,
) -> impl IntoView {
    let status = move || t().status_with(status, assignee.as_ref());
    view! {
        <span class="found-head">
            <strong class="customer">{customer.to_string()}</strong>
            <span class="number">" #" {id.0}</span>
            <span class="status" data-testid="found-status">{status}</span>
            {moment(ts)}
        </span>
    }
}

/// A snippet with what matched in `<mark>`, and an ellipsis where it was cut.
fn marked(snippet: &Snippet) -> impl IntoView {
    let pieces = snippet
        .pieces()
        .into_iter()
        .map(
            |(text, hit)| {
                if hit {
                    view! { <mark>{text}</mark> }.into_any()
                } else {
                    text.into_any()
                }
            },
        )
        .collect_view();
    view! {
        {snippet.cut_before.then_some("…")}
        {pieces}
        {snippet.cut_after.then_some("…")}
    }
}
