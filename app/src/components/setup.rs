//! The first-run page (`/setup#TOKEN`): while nobody has an account, the link the server
//! printed opens this form, which creates the first admin and logs them in. The token is in
//! the fragment, which the browser never sends to a server (nor to a proxy's log); the form
//! sends it once, with the new account.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{t, use_chat};
use crate::protocol::{LoginRequest, Problem, Role, UserName, PASSWORD_MIN_CHARS};
use crate::state::Command;

#[component]
pub fn SetupView() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let lang = state.lang.get_untracked();
        // The server's rules, checked here for a quicker answer (it checks them again).
        let checked = UserName::parse(&name.get_untracked()).and_then(|_| {
            if password.with_untracked(|p| p.chars().count()) < PASSWORD_MIN_CHARS {
                Err(Problem::PasswordTooShort)
            } else {
                Ok(())
            }
        });
        if let Err(problem) = checked {
            state.login_error.set(Some(problem.in_lang(lang)));
            return;
        }
        if password.get_untracked() != again.get_untracked() {
            state.login_error.set(Some(lang.ui().passwords_differ.to_owned()));
            return;
        }
        let Some(token) = token() else {
            state.login_error.set(Some(Problem::SetupLinkInvalid.in_lang(lang)));
            return;
        };
        state.login_error.set(None);
        #[cfg(feature = "browser")]
        crate::client::notify::ask_permission();
        chat.send(Command::SetUp {
            token,
            login: LoginRequest {
                name: name.get_untracked(),
                role: Role::Agent,
                password: Some(password.get_untracked()),
                ..LoginRequest::default()
            },
        });
    };

    view! {
        <main class="login">
            <form class="card" method="post" on:submit=submit data-testid="setup-form" novalidate>
                <h2>{move || t().setup_heading}</h2>
                <p class="hint">{move || t().setup_intro}</p>
                <label>
                    <span>{move || t().setup_name_label}</span>
                    <input type="text" name="name" autocomplete="username" maxlength="64" required
                        data-testid="setup-name" bind:value=name/>
                </label>
                <label>
                    <span>{move || t().setup_password_label}</span>
                    <input type="password" name="password" autocomplete="new-password" required
                        data-testid="setup-password" bind:value=password/>
                </label>
                <label>
                    <span>{move || t().setup_again_label}</span>
                    <input type="password" name="again" autocomplete="new-password" required
                        data-testid="setup-again" bind:value=again/>
                </label>
                <Show when=move || state.login_error.with(Option::is_some)>
                    <p class="form-error" role="alert" data-testid="setup-error">
                        {move || state.login_error.get().unwrap_or_default()}
                    </p>
                </Show>
                <button type="submit" data-testid="setup-submit" disabled=move || state.logging_in.get()>
                    {move || if state.logging_in.get() { t().setup_busy } else { t().setup_button }}
                </button>
            </form>
        </main>
    }
}

/// The setup link's token: the page's fragment (`#TOKEN`), if any.
fn token() -> Option<String> {
    #[cfg(feature = "browser")]
    {
        let hash = web_sys::window()?.location().hash().ok()?;
        let token = hash.trim_start_matches('#').trim();
        (!token.is_empty()).then(|| token.to_owned())
    }
    #[cfg(not(feature = "browser"))]
    None
}
