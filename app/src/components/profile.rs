//! For agents: who the open conversation's customer is (what they and their browser said,
//! what the host site signed, when they first came), the team's note on them and their
//! other conversations with the same e-mail address; the address and the note can be
//! changed here.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{t, use_chat, when};
use crate::inbox::Target;
use crate::protocol::{CustomerProfile, OtherConversation, ProfileUpdate, CUSTOMER_NOTE_MAX_CHARS};
use crate::state::{Command, ConnStatus};

/// "About the customer", under the desk bar: closed to a line (their address) until opened.
#[component]
pub fn ProfilePanel() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let open_id = move || match state.open.get() {
        Some(Target::Conversation(id)) => Some(id),
        _ => None,
    };
    // Asked as a conversation opens, and again once connected (it may have changed).
    Effect::new(move |_| {
        if let (Some(id), ConnStatus::Connected) = (open_id(), state.conn.get()) {
            chat.send(Command::Profile(id));
        }
    });
    // The profile of the open conversation's customer, once it came.
    let profile = move || state.profile.get().filter(|p| Some(p.conversation) == open_id());
    // A change was sent and not answered yet; answered (the profile came back): "Saved.".
    let saving = RwSignal::new(false);
    let saved = RwSignal::new(false);
    Effect::new(move |_| {
        let _other = open_id();
        saving.set(false);
        saved.set(false);
    });
    Effect::new(move |_| {
        if profile().is_some() && saving.get_untracked() {
            saving.set(false);
            saved.set(true);
        }
    });
    // A refusal (a bad address, say) answers the change instead.
    Effect::new(move |_| {
        if state.error.with(Option::is_some) {
            saving.set(false);
        }
    });
    view! {
        <Show when=move || open_id().is_some()>
            <details class="profile" data-testid="profile">
                <summary>
                    {move || t().profile_heading}
                    {move || profile().and_then(|p| p.email).map(|e| view! {
                        <span class="profile-email" data-testid="profile-summary-email">" · " {e.as_str().to_owned()}</span>
                    })}
                </summary>
                {move || match profile() {
                    None => view! { <p class="hint">{move || t().profile_loading}</p> }.into_any(),
                    Some(p) => view! { <ProfileBody profile=p saving saved/> }.into_any(),
                }}
            </details>
        </Show>
    }
}

/// The facts, the form and the other conversations of one profile.
#[component]
fn ProfileBody(
    profile: CustomerProfile,
    saving: RwSignal<bool>,
    saved: RwSignal<bool>,
) -> impl IntoView {
    let chat = use_chat();
    let lang = chat.state.lang;
    let id = profile.conversation;
    let email =
        RwSignal::new(profile.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default());
    let note = RwSignal::new(profile.note.as_ref().map(|n| n.text.clone()).unwrap_or_default());
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        chat.send(Command::SetProfile(ProfileUpdate {
            conversation: id,
            email: Some(email.get_untracked()),
            note: Some(note.get_untracked()),
        }));
        saved.set(false);
        saving.set(true);
    };
    let not_given = move || t().profile_not_given;
    let fact = |label: fn() -> &'static str, value: Option<String>, testid: &'static str| {
        view! {
            <dt>{move || label()}</dt>
            <dd data-testid=testid>{match value {
                Some(v) => v.into_any(),
                None => view! { <span class="hint">{not_given}</span> }.into_any(),
            }}</dd>
        }
    };
    let first_seen = profile.first_seen;
    let note_by = profile.note.clone().map(|n| {
        move || {
            t().profile_note_by
                .replace("{name}", n.by.as_str())
                .replace("{when}", &when::stamp(n.ts, lang.get()).full)
        }
    });
    let page = profile.page.clone();
    view! {
        <dl class="facts">
            {fact(|| t().profile_user_id, profile.user_id.clone(), "profile-user-id")}
            <dt>{move || t().profile_page}</dt>
            <dd data-testid="profile-page">{match page {
                // An http(s) address (the server keeps no other), opened apart from the console.
                Some(p) => view! { <a href=p.clone() target="_blank" rel="noopener noreferrer">{p.clone()}</a> }.into_any(),
                None => view! { <span class="hint">{not_given}</span> }.into_any(),
            }}</dd>
            {fact(|| t().profile_language, profile.language.clone(), "profile-language")}
            {fact(|| t().profile_time_zone, profile.time_zone.clone(), "profile-time-zone")}
            <dt>{move || t().profile_first_seen}</dt>
            <dd data-testid="profile-first-seen">{move || when::stamp(first_seen, lang.get()).full}</dd>
            {profile.attributes.iter().map(|(name, value)| view! {
                <dt><span class="hint">{move || t().profile_attributes} ": "</span>{name.clone()}</dt>
                <dd data-testid="profile-attribute" data-name=name.clone()>{value.clone()}</dd>
            }).collect_view()}
        </dl>
        <form class="profile-edit" on:submit=save novalidate>
            <label>
                <span>{move || t().profile_email}</span>
                <input type="email" maxlength="254" autocomplete="off" data-testid="profile-email" bind:value=email on:input=move |_| saved.set(false)/>
            </label>
            <label>
                <span>{move || t().profile_note}</span>
                <textarea rows="2" maxlength=CUSTOMER_NOTE_MAX_CHARS data-testid="profile-note" bind:value=note on:input=move |_| saved.set(false)></textarea>
            </label>
            {note_by.map(|by| view! { <p class="hint" data-testid="profile-note-by">{by}</p> })}
            <button type="submit" data-testid="profile-save">{move || t().profile_save}</button>
            <Show when=move || saved.get()>
                <span class="hint" role="status" data-testid="profile-saved">{move || t().profile_saved}</span>
            </Show>
        </form>
        {(!profile.others.is_empty()).then(|| view! {
            <h3>{move || t().profile_others}</h3>
            <ul class="others" data-testid="profile-others">
                {profile.others.into_iter().map(other_line).collect_view()}
            </ul>
        })}
    }
}

/// Another conversation of the same person: opened in the console at a click.
fn other_line(other: OtherConversation) -> impl IntoView {
    let chat = use_chat();
    let lang = chat.state.lang;
    let summary = other.summary.clone();
    let label = move || {
        format!(
            "#{} {} · {} · {}",
            summary.id.0,
            summary.customer,
            t().status_with(summary.status, summary.assignee.as_ref()),
            when::stamp(other.ts, lang.get()).full
        )
    };
    let summary = other.summary;
    view! {
        <li>
            <button type="button" class="link" data-testid="profile-other" on:click=move |_| {
                chat.send(Command::OpenFound { summary: summary.clone(), seq: None })
            }>{label}</button>
        </li>
    }
}
