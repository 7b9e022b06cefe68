//! An admin's team panel: the agent accounts (online, away, busy or offline) with a form to
//! add one and a button to remove one, the canned replies the same way, and whether customers
//! are asked to rate resolved conversations. The server answers with the new lists (or
//! settings), or an error shown in the banner.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::t;
use super::use_chat;
use crate::protocol::{CannedReply, DeskSettings, NewAgent};
use crate::state::DeskCommand;

#[component]
pub fn TeamPanel() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let me = move || state.me.with(|m| m.as_ref().map(|m| m.name.clone()));
    let (name, password, admin) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(false));
    let (shortcut, reply) = (RwSignal::new(String::new()), RwSignal::new(String::new()));

    let add_agent = move |ev: SubmitEvent| {
        ev.prevent_default();
        chat.send(DeskCommand::AddAgent(NewAgent {
            name: name.get_untracked(),
            password: password.get_untracked(),
            admin: admin.get_untracked(),
        }));
        name.set(String::new());
        password.set(String::new());
        admin.set(false);
    };
    let save_reply = move |ev: SubmitEvent| {
        ev.prevent_default();
        chat.send(DeskCommand::SetCanned(CannedReply {
            shortcut: shortcut.get_untracked(),
            text: reply.get_untracked(),
        }));
        shortcut.set(String::new());
        reply.set(String::new());
    };

    view! {
        <details class="team" data-testid="team">
            <summary>{move || t().team_heading}</summary>
            <ul data-testid="team-agents">
                <For
                    each=move || state.agents.get()
                    key=|a| a.clone()
                    children=move |agent| {
                        let n = agent.name.clone();
                        let presence = move || {
                            if let Some(status) = state.agent_status(&n) {
                                super::presence_badge(status)
                            } else if state.users.with(|u| u.contains(&n)) {
                                t().online_badge
                            } else {
                                t().offline_badge
                            }
                        };
                        let removable = me().as_ref() != Some(&agent.name);
                        let remove = agent.name.to_string();
                        view! {
                            <li data-testid="team-agent" data-name=agent.name.to_string()>
                                <span>{agent.name.to_string()}</span>
                                {agent.admin.then(|| view! { <span class="owner">{move || t().admin_badge}</span> })}
                                <span class="presence" data-testid="presence">{presence}</span>
                                {removable.then(|| view! {
                                    <button type="button" class="link" data-testid="remove-agent"
                                        on:click=move |_| {
                                            // What they made for the integrations goes too: asked first.
                                            let question = t().remove_agent_confirm.replace("{name}", &remove);
                                            if confirmed(&question) {
                                                chat.send(DeskCommand::RemoveAgent(remove.clone()));
                                            }
                                        }>
                                        {move || t().remove}
                                    </button>
                                })}
                            </li>
                        }
                    }
                />
            </ul>
            <form class="team-form" data-testid="add-agent" on:submit=add_agent>
                <input type="text" aria-label=move || t().name_label placeholder=move || t().name_label data-testid="new-agent-name"
                    prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                <input type="password" aria-label=move || t().password_label placeholder=move || t().password_label data-testid="new-agent-password"
                    autocomplete="new-password" prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
                <label>
                    <input type="checkbox" prop:checked=admin on:change=move |ev| admin.set(event_target_checked(&ev))/>
                    {move || t().admin_label}
                </label>
                <button type="submit">{move || t().add_agent}</button>
            </form>
            <CsatSetting/>
            <h3>{move || t().canned_heading}</h3>
            <ul data-testid="team-canned">
                <For
                    each=move || state.canned.get()
                    key=|r| r.clone()
                    children=move |r| {
                        let shortcut = r.shortcut.clone();
                        view! {
                            <li data-testid="canned-reply">
                                <span>"/" {r.shortcut.clone()} " — " {r.text.clone()}</span>
                                <button type="button" class="link" data-testid="remove-canned"
                                    on:click=move |_| chat.send(DeskCommand::RemoveCanned(shortcut.clone()))>
                                    {move || t().remove}
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
            <form class="team-form" data-testid="add-canned" on:submit=save_reply>
                <input type="text" aria-label=move || t().shortcut_label placeholder=move || t().shortcut_label data-testid="canned-shortcut"
                    prop:value=shortcut on:input=move |ev| shortcut.set(event_target_value(&ev))/>
                <input type="text" aria-label=move || t().reply_label placeholder=move || t().reply_label data-testid="canned-text"
                    prop:value=reply on:input=move |ev| reply.set(event_target_value(&ev))/>
                <button type="submit">{move || t().save}</button>
            </form>
        </details>
    }
}

/// For admins: whether customers are asked to rate resolved conversations.
#[component]
fn CsatSetting() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let on_change = move |ev: leptos::ev::Event| {
        let csat = event_target_checked(&ev);
        chat.send(DeskCommand::SetDeskSettings(DeskSettings { csat }));
    };
    // The box shows what the server has: a change refused (offline, say) puts it back.
    Effect::new(move |_| {
        if state.error.with(Option::is_some) {
            state.settings.update(|_| {});
        }
    });
    view! {
        <label class="csat-setting">
            <input type="checkbox" data-testid="csat-setting" prop:checked=move || state.settings.get().csat on:change=on_change/>
            <span>{move || t().csat_setting}</span>
        </label>
    }
}

/// Whether the reader says yes to `question`, in the browser's own dialog (accessible, and
/// usable at any width); never asked on the server.
fn confirmed(question: &str) -> bool {
    #[cfg(feature = "browser")]
    {
        web_sys::window().and_then(|w| w.confirm_with_message(question).ok()).unwrap_or(false)
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = question;
        false
    }
}
