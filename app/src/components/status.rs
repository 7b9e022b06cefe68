//! The connection badge and the error banner.

use leptos::prelude::*;

use super::t;
use super::use_chat;
use crate::state::ConnStatus;

/// Shows whether the page is connected, and when it tries again if not.
#[component]
pub fn ConnectionBadge() -> impl IntoView {
    let state = use_chat().state;
    let label = move || match state.conn.get() {
        ConnStatus::Connecting => t().conn_connecting.to_owned(),
        ConnStatus::Connected => t().conn_online.to_owned(),
        ConnStatus::Reconnecting { in_secs } => {
            format!("{} — {} {in_secs}s", t().conn_offline, t().conn_retry_in)
        }
    };
    let class = move || match state.conn.get() {
        ConnStatus::Connecting => "conn conn-connecting",
        ConnStatus::Connected => "conn conn-online",
        ConnStatus::Reconnecting { .. } => "conn conn-offline",
    };
    let transport = move || state.transport.get().map(|t| t.name());
    view! {
        <span class=class data-testid="connection" data-transport=transport role="status" aria-live="polite">
            {label}
        </span>
    }
}

/// The last error the server reported, shown in the page until dismissed.
#[component]
pub fn ErrorBanner() -> impl IntoView {
    let state = use_chat().state;
    view! {
        <Show when=move || state.error.with(Option::is_some)>
            <div class="banner banner-error" role="alert" data-testid="error">
                <span>{move || state.error.get().unwrap_or_default()}</span>
                <button type="button" class="link" on:click=move |_| state.error.set(None)>
                    {move || t().dismiss}
                </button>
            </div>
        </Show>
    }
}
