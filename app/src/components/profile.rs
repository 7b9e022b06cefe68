//! For agents: who the open conversation's customer is (what they and their browser said,
//! what the host site signed, when they first came), the team's note on them and their
//! other conversations with the same e-mail address; the address and the note can be
//! changed here.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{t, use_chat, when};
use crate::inbox::Target;
use crate::protocol::{CustomerProfile, OtherConversation, ProfileUpdate, CUSTOMER_NOTE_MAX_CHARS};
use crate::state::DeskCommand;

/// "About the customer", under the desk bar: closed to a line (their address) until opened.
/// It stays open (or closed) as the agent moves between conversations: the panel is drawn
/// once, its contents follow the open conversation.
#[component]
pub fn ProfilePanel() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let open_id = move || match state.open.get() {
        Some(Target::Conversation(id)) => Some(id),
        _ => None,
    };
    // Asked as a conversation opens, and again at every login (after a reconnect it may
    // have changed; before the login is through the server would not answer).
    Effect::new(move |_| {
        if let (Some(id), true) = (open_id(), state.me.with(Option::is_some)) {
            chat.send(DeskCommand::Profile(id));
        }
    });
    // The profile of the open conversation's customer, once it came.
    let profile =
        Memo::new(move |_| state.profile.get().filter(|p| Some(p.conversation) == open_id()));
    // The form: filled from each profile that comes, unless the agent is changing it (what
    // they type is not wiped by a profile that arrives meanwhile).
    let email = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let editing = RwSignal::new(false);
    // A change was sent and not answered yet; answered (the profile came back): "Saved.".
    let saving = RwSignal::new(false);
    let saved = RwSignal::new(false);
    Effect::new(move |_| {
        let _other = open_id();
        editing.set(false);
        saving.set(false);
        saved.set(false);
    });
    Effect::new(move |_| {
        let Some(p) = profile.get() else { return };
        if saving.get_untracked() {
            saving.set(false);
            saved.set(true);
            editing.set(false);
        }
        if !editing.get_untracked() {
            email.set(p.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default());
            note.set(p.note.as_ref().map(|n| n.text.clone()).unwrap_or_default());
        }
    });
    // A refusal (a bad address, say) answers the change instead.
    Effect::new(move |_| {
        if state.error.with(Option::is_some) {
            saving.set(false);
        }
    });
    let form = Form { email, note, editing, saving, saved };
    view! {
        <Show when=move || open_id().is_some()>
            <details class="profile" data-testid="profile">
                <summary>
                    {move || t().profile_heading}
                    {move || profile.get().and_then(|p| p.email).map(|e| view! {
                        <span class="profile-email" data-testid="profile-summary-email">" · " {e.as_str().to_owned()}</span>
                    })}
                </summary>
                {move || match profile.get() {
                    None => view! { <p class="hint">{move || t().profile_loading}</p> }.into_any(),
                    Some(p) => view! { <ProfileBody profile=p form/> }.into_any(),
                }}
            </details>
        </Show>
    }
}

/// The profile form's state, kept by the panel across the profiles that come.
#[derive(Clone, Copy)]
struct Form {
    email: RwSignal<String>,
    note: RwSignal<String>,
    /// The agent changed a field since the last profile came.
    editing: RwSignal<bool>,
    saving: RwSignal<bool>,
    saved: RwSignal<bool>,
}

/// The facts, the form and the other conversations of one profile.
#[component]
fn ProfileBody(profile: CustomerProfile, form: Form) -> impl IntoView {
    let chat = use_chat();
    let lang = chat.state.lang;
    let id = profile.conversation;
    let Form { email, note, editing, saving, saved } = form;
    let shown_email = profile.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default();
    let shown_note = profile.note.as_ref().map(|n| n.text.clone()).unwrap_or_default();
    // Only what the agent changed is sent: saving the address leaves a colleague's note
    // (and who wrote it) as it is.
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (e, n) = (email.get_untracked(), note.get_untracked());
        let update = ProfileUpdate {
            conversation: id,
            email: (e.trim() != shown_email.trim()).then_some(e),
            note: (n.trim() != shown_note.trim()).then_some(n),
        };
        saved.set(false);
        if update.email.is_none() && update.note.is_none() {
            saved.set(true);
            editing.set(false);
            return;
        }
        chat.send(DeskCommand::SetProfile(update));
        saving.set(true);
    };
    let changed = move |_| {
        editing.set(true);
        saved.set(false);
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
                // Text, not a link: the customer's browser said it, and anyone can say anything
                // (a look-alike login page, say).
                Some(p) => view! { <span class="page">{p}</span> }.into_any(),
                None => view! { <span class="hint">{not_given}</span> }.into_any(),
            }}</dd>
            {fact(|| t().profile_language, profile.language.clone(), "profile-language")}
            {fact(|| t().profile_time_zone, profile.time_zone.clone(), "profile-time-zone")}
            <dt>{move || t().profile_first_seen}</dt>
            <dd data-testid="profile-first-seen">{move || match first_seen {
                Some(ts) => when::stamp(ts, lang.get()).full,
                None => not_given().to_owned(),
            }}</dd>
            {profile.attributes.iter().map(|(name, value)| view! {
                <dt><span class="hint">{move || t().profile_attributes} ": "</span>{name.clone()}</dt>
                <dd data-testid="profile-attribute" data-name=name.clone()>{value.clone()}</dd>
            }).collect_view()}
        </dl>
        <form class="profile-edit" on:submit=save novalidate>
            <label>
                <span>{move || t().profile_email}</span>
                <input type="email" maxlength="254" autocomplete="off" data-testid="profile-email" bind:value=email on:input=changed/>
            </label>
            <label>
                <span>{move || t().profile_note}</span>
                <textarea rows="2" maxlength=CUSTOMER_NOTE_MAX_CHARS data-testid="profile-note" bind:value=note on:input=changed></textarea>
            </label>
            {note_by.map(|by| view! { <p class="hint" data-testid="profile-note-by">{by}</p> })}
            <button type="submit" data-testid="profile-save">{move || t().profile_save}</button>
            <Show when=move || saved.get()>
                <span class="hint" role="status" data-testid="profile-saved">{move || t().profile_saved}</span>
            </Show>
        </form>
        {(!profile.others.is_empty()).then(|| view! {
            <h3>{move || t().profile_others}</h3>
            <p class="hint">{move || t().profile_others_hint}</p>
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
                chat.send(DeskCommand::OpenFound { summary: summary.clone(), seq: None })
            }>{label}</button>
        </li>
    }
}
