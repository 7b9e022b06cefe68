//! The customer's side of a conversation: they write to the support team, shown with who
//! of it is online (an avatar and a name each, and whether they are away or busy) and how
//! soon it usually answers. No recipient to pick: the team answers (the tutorial's
//! messages to a named agent still work on the wire).

use leptos::prelude::*;

use super::{t, use_chat};
use crate::protocol::UserName;

/// Agents shown by name; more are counted ("+3").
const SHOWN: usize = 4;

/// Avatar backgrounds (`.avatar-0` … in the style sheet, each dark enough for white
/// initials at 4.5:1 or more); an agent keeps theirs, picked by their name.
const AVATAR_COLOURS: u32 = 6;

/// The first character of a name, upper-cased, as an avatar shows it.
fn initial(name: &UserName) -> String {
    name.as_str().chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default()
}

/// The same avatar colour for a name on every page (its class: inline styles are not
/// allowed by the page's policy).
fn avatar_class(name: &UserName) -> String {
    let sum =
        name.as_str().bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("avatar avatar-{}", sum % AVATAR_COLOURS)
}

/// The support team's header above a customer's conversation.
#[component]
pub fn SupportHeader() -> impl IntoView {
    let state = use_chat().state;
    let agents = move || state.others_online();
    let shown = move || agents().into_iter().take(SHOWN).collect::<Vec<_>>();
    let more = move || agents().len().saturating_sub(SHOWN);
    // Only while someone is there to answer (and the desk is open).
    let reply_time = move || {
        let open = state.office.with(|o| o.as_ref().is_none_or(|o| o.open));
        let ms = state.me.with(|m| m.as_ref().and_then(|m| m.reply_time_ms));
        ms.filter(|_| open && !agents().is_empty()).map(|ms| t().usually_answers(ms))
    };
    view! {
        <header class="support" data-testid="support">
            <h2>{move || t().support_team}</h2>
            <Show when=move || !agents().is_empty()>
                <ul class="team-online" aria-label=move || t().online_now>
                    <For
                        each=shown
                        key=|name| name.clone()
                        children=move |name| {
                            let status = {
                                let n = name.clone();
                                Memo::new(move |_| state.agent_status(&n))
                            };
                            view! {
                                <li class="agent" data-testid="user" data-name=name.to_string() data-online="true">
                                    <span class=avatar_class(&name) aria-hidden="true" data-initial=initial(&name)></span>
                                    {name.to_string()}
                                    // "away" or "busy" (the test id says which).
                                    {move || status.get().map(|s| view! {
                                        <span class="presence" data-testid=s.tag()>{move || super::presence_badge(s)}</span>
                                    })}
                                </li>
                            }
                        }
                    />
                    <Show when=move || { more() > 0 }>
                        <li class="more" data-testid="more-agents">
                            "+" {more} <span class="visually-hidden">" " {move || t().more_online}</span>
                        </li>
                    </Show>
                </ul>
            </Show>
            {move || reply_time().map(|line| view! { <p class="reply-time" data-testid="reply-time">{line}</p> })}
        </header>
    }
    .into_any()
}
