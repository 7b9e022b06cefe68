//! The agent's controls in the chat view: the bar over the open conversation (whose it is;
//! take, resolve, transfer) and their own status. Console only (feature `console`).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{t, use_chat};
use crate::inbox::Target;
use crate::protocol::{AgentStatus, ConversationId, Status};
use crate::state::DeskCommand;

/// For agents: whose the open conversation is, and what they can do with it (take it,
/// resolve it, hand it to another agent with a note).
#[component]
pub fn DeskBar() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let title = move || match state.open.get() {
        Some(Target::Person(name)) => Some(name.to_string()),
        Some(Target::Conversation(id)) => state
            .inbox
            .with(|i| i.threads.get(&id).map(|t| t.customer.to_string()))
            .or_else(|| state.desk.with(|d| d.get(&id).map(|s| s.customer.to_string()))),
        None => None,
    };
    let summary = move || state.open_summary();
    let me = move || state.me.get().map(|m| m.name);
    let mine = move || summary().is_some_and(|s| s.status == Status::Open && s.assignee == me());
    let takeable =
        move || summary().is_some_and(|s| !(s.status == Status::Open && s.assignee == me()));
    let status = move || summary().map(|s| t().status_with(s.status, s.assignee.as_ref()));
    let note = move || summary().filter(|_| mine()).and_then(|s| s.note);
    let to = RwSignal::new(String::new());
    let note_draft = RwSignal::new(String::new());
    let act = move |make: fn(ConversationId) -> DeskCommand| {
        if let Some(s) = summary() {
            chat.send(make(s.id));
        }
    };
    let transfer = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(s) = summary() else { return };
        let target = to.get_untracked();
        if target.trim().is_empty() {
            return;
        }
        chat.send(DeskCommand::Transfer {
            conversation: s.id,
            to: target,
            note: note_draft.get_untracked(),
        });
        to.set(String::new());
        note_draft.set(String::new());
    };
    view! {
        <div class="desk-bar">
            <h2 class="peer" data-testid="peer">{move || title().unwrap_or_else(|| t().pick_conversation.to_owned())}</h2>
            {move || status().map(|s| view! { <span class="badge" data-testid="status">{s}</span> })}
            <Show when=takeable>
                <button type="button" data-testid="take" on:click=move |_| act(DeskCommand::Take)>{move || t().take}</button>
            </Show>
            <Show when=mine>
                <button type="button" data-testid="resolve" on:click=move |_| act(DeskCommand::Resolve)>{move || t().resolve}</button>
                <form class="transfer" on:submit=transfer>
                    <input type="text" data-testid="transfer-to" aria-label=move || t().transfer_to placeholder=move || t().transfer_to bind:value=to/>
                    <input type="text" data-testid="transfer-note" aria-label=move || t().transfer_note placeholder=move || t().transfer_note bind:value=note_draft/>
                    <button type="submit" data-testid="transfer">{move || t().transfer}</button>
                </form>
            </Show>
            {move || note().map(|n| view! { <p class="note" data-testid="note">{move || t().note_from_transfer} " " {n}</p> })}
        </div>
    }
}

/// An agent's own status: online, away or busy (the queue gives away and busy agents
/// nothing new; customers and colleagues see which).
#[component]
pub fn StatusPicker() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let label = move |status: AgentStatus| match status {
        AgentStatus::Online => t().agent_online,
        AgentStatus::Away => t().agent_away,
        AgentStatus::Busy => t().agent_busy,
    };
    let on_change = move |ev: leptos::ev::Event| {
        if let Some(status) = AgentStatus::from_tag(&event_target_value(&ev)) {
            chat.send(DeskCommand::SetStatus(status));
        }
    };
    view! {
        <label class="status-pick">
            <span>{move || t().my_status_label}</span>
            <select
                data-testid="my-status"
                on:change=on_change
                prop:value=move || state.my_status.get().unwrap_or_default().tag().to_owned()
            >
                {AgentStatus::ALL
                    .into_iter()
                    .map(|status| view! { <option value=status.tag()>{move || label(status)}</option> })
                    .collect_view()}
            </select>
        </label>
    }
}
