//! The login form: a name, and for agents a password. In the widget, optionally an e-mail
//! address (it goes on the customer's profile) and the question, sent as their first
//! message.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::t;
use super::use_chat;
use crate::protocol::{Email, LoginRequest, MessageText, Role, UserName, Visit, MESSAGE_MAX_CHARS};
use crate::state::Command;

/// What the reader has put into the login form so far. The page keeps it ([`super::Page`]),
/// above the views that a switch of language draws again, so that a switch in the middle of
/// the form loses none of it but the password (the customers' bundle switches as it takes
/// over the page, when the reader chose a language before it arrived: `customer/src/lib.rs`).
/// Emptied once the reader is logged in.
#[derive(Clone, Copy)]
pub(crate) struct LoginDraft {
    name: RwSignal<String>,
    is_agent: RwSignal<bool>,
    password: RwSignal<String>,
    email: RwSignal<String>,
    question: RwSignal<String>,
}

impl LoginDraft {
    pub(crate) fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            is_agent: RwSignal::new(false),
            password: RwSignal::new(String::new()),
            email: RwSignal::new(String::new()),
            question: RwSignal::new(String::new()),
        }
    }
}

#[component]
pub fn LoginView() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let draft = use_context::<LoginDraft>().unwrap_or_else(LoginDraft::new);
    let LoginDraft { name, is_agent, password, email, question } = draft;
    // The password is never kept beyond its form; the rest only until the login is done.
    on_cleanup(move || {
        password.set(String::new());
        if state.me.with_untracked(Option::is_some) {
            name.set(String::new());
            is_agent.set(false);
            email.set(String::new());
            question.set(String::new());
        }
    });
    let embedded = use_context::<super::Embedded>().is_some_and(|e| e.0);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        // The same rule the server applies, checked here for a quicker answer.
        if let Err(problem) = UserName::parse(&name.get_untracked()) {
            state.login_error.set(Some(problem.in_lang(state.lang.get_untracked())));
            return;
        }
        let lang = state.lang.get_untracked();
        let email = email.get_untracked().trim().to_owned();
        if let (false, Err(problem)) = (email.is_empty(), Email::parse(&email)) {
            state.login_error.set(Some(problem.in_lang(lang)));
            return;
        }
        // The question, as the first message; the address goes on the customer's profile.
        let first = question.get_untracked().trim().to_owned();
        if let (false, Err(problem)) = (first.is_empty(), MessageText::parse(&first)) {
            state.login_error.set(Some(problem.in_lang(lang)));
            return;
        }
        state.prechat.set((!first.is_empty()).then_some(first));
        let role = if is_agent.get_untracked() { Role::Agent } else { Role::Customer };
        let password = (role == Role::Agent).then(|| password.get_untracked());
        state.login_error.set(None);
        // Agents want to hear about new messages while in another tab; the browser only
        // asks the person from within a click like this one.
        #[cfg(feature = "browser")]
        if role == Role::Agent {
            crate::client::notify::ask_permission();
        }
        chat.send(Command::Login(LoginRequest {
            name: name.get_untracked(),
            role,
            password,
            visit: (!email.is_empty())
                .then(|| Box::new(Visit { email: Some(email), ..Visit::default() })),
            ..LoginRequest::default()
        }));
    };

    view! {
        <main class="login">
            // Checked by the handler, in the reader's language, rather than by the browser.
            <form class="card" method="post" on:submit=submit data-testid="login-form" novalidate>
                <h2>{move || t().login_heading}</h2>
                <label>
                    <span>{move || t().name_label}</span>
                    <input
                        type="text"
                        name="name"
                        autocomplete="nickname"
                        maxlength="64"
                        required
                        data-testid="login-name"
                        bind:value=name
                    />
                </label>
                // The widget's pre-chat form: both optional.
                <Show when=move || embedded>
                    <label>
                        <span>{move || t().email_label}</span>
                        <input type="email" name="email" autocomplete="email" maxlength="254" data-testid="login-email" bind:value=email/>
                    </label>
                    <label>
                        <span>{move || t().question_label}</span>
                        <textarea name="question" rows="3" maxlength=MESSAGE_MAX_CHARS data-testid="login-question" bind:value=question></textarea>
                    </label>
                </Show>
                // Agents log in on the desk's own page, not in a widget on another site.
                <Show when=move || !embedded>
                    <label class="switch">
                        <input type="checkbox" data-testid="login-agent" bind:checked=is_agent/>
                        <span>{move || t().agent_switch}</span>
                    </label>
                </Show>
                <Show when=move || is_agent.get()>
                    <label>
                        <span>{move || t().password_label}</span>
                        <input
                            type="password"
                            name="password"
                            autocomplete="current-password"
                            data-testid="login-password"
                            bind:value=password
                        />
                    </label>
                </Show>
                <Show when=move || state.login_error.with(Option::is_some)>
                    <p class="form-error" role="alert" data-testid="login-error">
                        {move || state.login_error.get().unwrap_or_default()}
                    </p>
                </Show>
                <button type="submit" data-testid="login-submit" disabled=move || state.logging_in.get()>
                    {move || if state.logging_in.get() { t().logging_in } else { t().login_button }}
                </button>
            </form>
        </main>
    }
}
