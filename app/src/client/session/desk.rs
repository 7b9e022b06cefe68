//! What only an agent's console asks a session for (desk actions, search, more of their
//! conversations, profiles, the team's settings), also while there is no connection. Not in
//! the customers' bundle (feature `console`).

use std::ops::ControlFlow::Continue;

use leptos::prelude::*;

use super::commands::refuse_offline;
use super::{Session, Step};
use crate::client::{remember_status, Credentials};
use crate::inbox::Target;
use crate::protocol::*;
use crate::state::{ChatState, DeskCommand};

/// A desk command given while there is no connection (or before the namespace is joined).
pub(super) fn while_offline(
    state: ChatState,
    command: DeskCommand,
    credentials: &mut Option<Credentials>,
) {
    match command {
        // Reading is said again when back, and a profile is asked again once logged in
        // (the panel watches the login).
        DeskCommand::MarkRead(_) | DeskCommand::Profile(_) => {}
        // Said as the next login is through.
        DeskCommand::SetStatus(status) => {
            if let Some(c) = credentials.as_mut() {
                c.unsent_status = Some(status);
            }
            remember_status(state, credentials.as_ref(), status);
        }
        // What is held shows now; the rest is asked for once connected (scrolling up).
        DeskCommand::OpenFound { summary, seq } => state.open_found(summary, seq),
        // Desk actions need the server's answer: they are not queued.
        DeskCommand::Take(_)
        | DeskCommand::Resolve(_)
        | DeskCommand::Transfer { .. }
        | DeskCommand::Note(_)
        | DeskCommand::AddAgent(_)
        | DeskCommand::RemoveAgent(_)
        | DeskCommand::SetCanned(_)
        | DeskCommand::RemoveCanned(_)
        | DeskCommand::Search(_)
        | DeskCommand::SearchMore
        | DeskCommand::SetProfile(_)
        | DeskCommand::SetDeskSettings(_)
        | DeskCommand::MoreConversations => refuse_offline(state),
    }
}

impl Session<'_> {
    /// A desk command, once logged in.
    pub(super) async fn on_desk_command(&mut self, command: DeskCommand) -> Step {
        match command {
            DeskCommand::MarkRead(conversation) => self.mark_read(conversation).await,
            DeskCommand::SetStatus(status) => {
                self.set_status(status);
                self.send_event(&ClientEvent::Status(StatusRequest { status })).await
            }
            DeskCommand::Note(text) => self.send_note(text).await,
            DeskCommand::Take(conversation) => {
                self.send_event(&ClientEvent::Take(ConversationRef { conversation })).await
            }
            DeskCommand::Resolve(conversation) => {
                self.send_event(&ClientEvent::Resolve(ConversationRef { conversation })).await
            }
            DeskCommand::Transfer { conversation, to, note } => {
                self.send_event(&ClientEvent::Transfer(Transfer { conversation, to, note })).await
            }
            DeskCommand::AddAgent(agent) => self.send_event(&ClientEvent::AgentAdd(agent)).await,
            DeskCommand::RemoveAgent(name) => {
                self.send_event(&ClientEvent::AgentRemove(AgentRef { name })).await
            }
            DeskCommand::SetCanned(reply) => self.send_event(&ClientEvent::CannedSet(reply)).await,
            DeskCommand::RemoveCanned(shortcut) => {
                self.send_event(&ClientEvent::CannedRemove(CannedRef { shortcut })).await
            }
            DeskCommand::Search(query) => self.search(query).await,
            DeskCommand::SearchMore => self.search_more().await,
            DeskCommand::OpenFound { summary, seq } => self.open_found(summary, seq).await,
            DeskCommand::MoreConversations => self.more_conversations().await,
            DeskCommand::Profile(conversation) => {
                self.send_event(&ClientEvent::Profile(ConversationRef { conversation })).await
            }
            DeskCommand::SetProfile(update) => {
                self.send_event(&ClientEvent::ProfileSet(update)).await
            }
            DeskCommand::SetDeskSettings(settings) => {
                self.send_event(&ClientEvent::DeskSettings(settings)).await
            }
        }
    }

    /// Asks for the first page of a search; it is shown in place of the agent's list.
    async fn search(&mut self, query: String) -> Step {
        let search =
            crate::state::Search { query: query.clone(), waiting: true, ..Default::default() };
        self.state.search.set(Some(search));
        self.send_event(&ClientEvent::Search(SearchRequest { query, before: None })).await
    }

    /// Asks for the next page of the search shown, if there is one.
    async fn search_more(&mut self) -> Step {
        let asked = self.state.search.try_update(|s| {
            let s = s.as_mut()?;
            let before = s.results.next.filter(|_| !s.waiting)?;
            s.waiting = true;
            Some(SearchRequest { query: s.query.clone(), before: Some(before) })
        });
        match asked.flatten() {
            Some(request) => self.send_event(&ClientEvent::Search(request)).await,
            None => Continue(()),
        }
    }

    /// Asks for the next page of the agent's conversations, unless one is on its way or
    /// every one is listed.
    async fn more_conversations(&mut self) -> Step {
        use crate::state::MoreConversations as More;
        let before = match self.state.more_conversations.get_untracked() {
            More::After(cursor) => cursor,
            More::Unknown | More::Waiting(_) | More::AllListed => return Continue(()),
        };
        self.state.more_conversations.set(More::Waiting(before));
        let request = ConversationsRequest { before: Some(before) };
        self.send_event(&ClientEvent::Conversations(request)).await
    }

    /// Opens a conversation a search found, and asks for what is not held of it: from the
    /// message found on (the rest follows a page at a time), or its newest page.
    async fn open_found(&mut self, summary: ConversationSummary, seq: Option<u64>) -> Step {
        let conversation = summary.id;
        self.state.open_found(summary, seq);
        let held = self.state.inbox.with_untracked(|i| {
            i.threads.get(&conversation).map(|t| match seq {
                Some(seq) => t.messages.contains_key(&seq),
                None => !t.messages.is_empty(),
            })
        });
        if held == Some(true) {
            return Continue(());
        }
        let request = match seq {
            Some(seq) => {
                HistoryRequest { conversation, before: None, after: Some(seq.saturating_sub(1)) }
            }
            None => HistoryRequest { conversation, before: Some(u64::MAX), after: None },
        };
        self.send_event(&ClientEvent::History(request)).await
    }

    /// Sends an internal note in the open conversation (agents).
    async fn send_note(&mut self, text: String) -> Step {
        match self.state.open.get_untracked() {
            Some(Target::Conversation(conversation)) => {
                self.send_event(&ClientEvent::Note(NoteRequest { conversation, text })).await
            }
            _ => Continue(()),
        }
    }
}
