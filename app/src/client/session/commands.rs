//! What the views ask a session for (log in, send, retry, load older, typing, rate, log
//! out; the console's desk actions are in `desk.rs`), also while there is no connection, and
//! what it does on its own every second (typing expiry, away, reading, a silent server).

use std::ops::ControlFlow::{Break, Continue};

use leptos::prelude::*;

use super::{now_ms, tab_hidden, Session, Step};
use crate::client::{end_agent_session, forget_session, new_client_id, Credentials, End};
use crate::inbox::{Delivery, Outgoing, Target};
use crate::protocol::*;
use crate::state::{ChatState, Command};

/// Puts a message written here in the outbox of the open conversation; it is sent now
/// if logged in, otherwise after the next login.
pub(super) fn queue(state: ChatState, text: String) -> Option<Outgoing> {
    let target = state.open.get_untracked()?;
    queue_in(state, target, text, Vec::new())
}

/// Puts a message in the outbox of `target` (files go to the conversation they were
/// uploaded for, whichever is open by the time they are up).
pub(super) fn queue_in(
    state: ChatState,
    target: Target,
    text: String,
    attachments: Vec<Attachment>,
) -> Option<Outgoing> {
    // Only once logged in.
    if state.me.with_untracked(Option::is_none) {
        return None;
    }
    let outgoing = Outgoing {
        client_id: new_client_id(),
        target,
        text,
        attachments,
        status: Delivery::Pending,
    };
    state.inbox.update(|i| i.queue(outgoing.clone()));
    Some(outgoing)
}

/// Forgets who was logged in: here, and for an agent also the cookie session on the server.
pub(super) fn forget_login(state: ChatState, credentials: &mut Option<Credentials>) {
    if credentials.as_ref().is_some_and(|c| c.role == Role::Agent) {
        end_agent_session();
    }
    // Nothing of theirs stays readable on this page: uploads stop, fetched files go.
    crate::client::files::forget(state);
    forget_session();
    *credentials = None;
    state.reset();
}

/// An action that needs the server's answer, asked for while there is no connection: it is
/// not queued, and the person is told.
pub(super) fn refuse_offline(state: ChatState) {
    state.error.set(Some(state.lang.get_untracked().ui().offline_action.to_owned()));
}

/// A command given while there is no connection (or before the namespace is joined).
pub(crate) fn while_offline(
    state: ChatState,
    command: Command,
    credentials: &mut Option<Credentials>,
) {
    match command {
        Command::Login(request) => {
            state.logging_in.set(true);
            *credentials = Some(Credentials::from(request));
        }
        // Taken by the reconnecting loop, which tries it over HTTP at once.
        Command::SetUp { .. } => {
            let ui = state.lang.get_untracked().ui();
            state.login_error.set(Some(ui.cannot_reach_server.to_owned()));
        }
        Command::Send(text) => {
            queue(state, text);
        }
        Command::SendFiles { target, attachments } => {
            queue_in(state, target, String::new(), attachments);
        }
        Command::Retry(id) => {
            state.inbox.update(|i| {
                i.retry(&id);
            });
        }
        // Asked again when the person scrolls up once connected.
        Command::LoadOlder(_) => {}
        // Nobody hears typing while offline.
        Command::Typing => {}
        Command::Rate(_) => refuse_offline(state),
        #[cfg(feature = "console")]
        Command::Desk(command) => super::desk::while_offline(state, command, credentials),
        // A customer's token cannot be revoked without a connection; it is forgotten
        // here and expires on the server. An agent's cookie session ends over HTTP.
        Command::Logout => forget_login(state, credentials),
    }
}

impl Session<'_> {
    // ---- What the views ask for ----

    /// A command from the views: acted on now if logged in, otherwise as [`while_offline`].
    pub(super) async fn on_command(&mut self, command: Command) -> Step {
        match command {
            Command::Login(request) => self.on_login(request).await,
            // Over HTTP, like an agent's login (which follows it).
            Command::SetUp { token, login } => {
                self.close().await;
                Break(End::SetUp { token, login })
            }
            command if !self.logged_in => {
                while_offline(self.state, command, self.credentials);
                Continue(())
            }
            Command::Send(text) => self.send_text(text).await,
            Command::SendFiles { target, attachments } => {
                match queue_in(self.state, target, String::new(), attachments) {
                    Some(outgoing) => self.send_message(&outgoing).await,
                    None => Continue(()),
                }
            }
            Command::Retry(id) => self.retry(id).await,
            Command::LoadOlder(conversation) => self.load_older(conversation).await,
            Command::Typing => self.on_typing().await,
            Command::Rate(request) => self.send_event(&ClientEvent::Rate(request)).await,
            #[cfg(feature = "console")]
            Command::Desk(command) => self.on_desk_command(command).await,
            Command::Logout => self.log_out().await,
        }
    }

    /// A login from the form: an agent's goes over HTTP (this connection ends for it); a
    /// customer's is sent once joined, or kept for then.
    async fn on_login(&mut self, request: LoginRequest) -> Step {
        if request.role == Role::Agent {
            self.close().await;
            return Break(End::AgentLogin(request));
        }
        if !self.joined {
            while_offline(self.state, Command::Login(request), self.credentials);
            return Continue(());
        }
        self.state.logging_in.set(true);
        let credentials = Credentials::from(request);
        self.send_event(&ClientEvent::Login(LoginPayload::Full(credentials.request(self.state))))
            .await?;
        *self.credentials = Some(credentials);
        Continue(())
    }

    /// Queues a message written in the open conversation and sends it.
    async fn send_text(&mut self, text: String) -> Step {
        // The next keystroke starts a new message: say so at once.
        self.typing_sent = 0.0;
        match queue(self.state, text) {
            Some(outgoing) => self.send_message(&outgoing).await,
            None => Continue(()),
        }
    }

    /// Sends again a message that failed.
    async fn retry(&mut self, id: ClientMsgId) -> Step {
        match self.state.inbox.try_update(|i| i.retry(&id).cloned()).flatten() {
            Some(outgoing) => self.send_message(&outgoing).await,
            None => Continue(()),
        }
    }

    /// Asks for the page of history before the oldest message held.
    async fn load_older(&mut self, conversation: ConversationId) -> Step {
        let first = self.state.inbox.with_untracked(|i| {
            i.threads.get(&conversation).and_then(|t| t.messages.keys().next().copied())
        });
        match first {
            Some(before) => {
                self.send_event(&ClientEvent::History(HistoryRequest {
                    conversation,
                    before: Some(before),
                    after: None,
                }))
                .await
            }
            None => Continue(()),
        }
    }

    /// Says the person is typing, at most once per [`TYPING_EVERY_MS`].
    async fn on_typing(&mut self) -> Step {
        let state = self.state;
        let conversation = match state.open.get_untracked() {
            Some(Target::Conversation(id)) => Some(id),
            _ => None,
        };
        let is_customer =
            state.me.with_untracked(|m| m.as_ref().is_some_and(|m| m.role == Role::Customer));
        if (is_customer || conversation.is_some())
            && now_ms() - self.typing_sent >= TYPING_EVERY_MS as f64
        {
            self.typing_sent = now_ms();
            let conversation = if is_customer { None } else { conversation };
            return self.send_event(&ClientEvent::Typing(TypingRequest { conversation })).await;
        }
        Continue(())
    }

    /// What an agent has on screen, in a visible tab, is read: tells the server how far.
    pub(super) async fn mark_read(&mut self, conversation: ConversationId) -> Step {
        let newest = self
            .state
            .inbox
            .with_untracked(|i| i.threads.get(&conversation).and_then(|t| t.contiguous()));
        let sent = self.read_sent.get(&conversation).copied().unwrap_or(0);
        match newest.filter(|s| !tab_hidden() && *s > sent) {
            Some(seq) => {
                self.read_sent.insert(conversation, seq);
                self.send_event(&ClientEvent::Read(ReadUpTo { conversation, seq })).await
            }
            None => Continue(()),
        }
    }

    /// Logs out on the server and here; the connection ends, to start afresh logged out.
    async fn log_out(&mut self) -> Step {
        self.send_event(&ClientEvent::Logout).await?;
        forget_login(self.state, self.credentials);
        self.close().await;
        Break(End::LoggedOut)
    }

    // ---- The clock ----

    /// Every second: expires typing, keeps an agent's presence and reading up to date, and
    /// ends a connection the server has gone silent on.
    pub(super) async fn on_tick(&mut self) -> Step {
        self.state.expire_typing(now_ms() as u64);
        if self.logged_in && self.state.is_agent_untracked() {
            self.watch_tab().await?;
        }
        if now_ms() - self.last_heard > self.silence_limit_ms {
            leptos::logging::warn!(
                "no word from the server for {} ms; reconnecting",
                self.silence_limit_ms
            );
            self.close().await;
            return Break(End::Lost);
        }
        Continue(())
    }

    /// An agent is away after a while in a hidden tab; back (and reading) once it shows again.
    async fn watch_tab(&mut self) -> Step {
        let hidden = tab_hidden();
        self.hidden_since = if hidden { self.hidden_since.or(Some(now_ms())) } else { None };
        let away = self.hidden_since.is_some_and(|since| now_ms() - since >= self.away_after_ms);
        if away != self.away_sent {
            self.away_sent = away;
            self.send_event(&ClientEvent::Away(AwayRequest { away })).await?;
        }
        match self.state.open_conversation().filter(|_| !hidden) {
            Some(conversation) => self.mark_read(conversation).await,
            None => Continue(()),
        }
    }
}
