//! What the views show, as signals, and what they can ask for.
//!
//! Owns: [`ChatState`] (written by the browser's connection, read by the views) and
//! [`Command`] (what a view asks the connection to do). On the server both exist so that
//! the first page renders; nothing is ever connected there.
//! Must not: parse wire frames (`client` does) or render anything (`components` do).

use std::collections::HashMap;

use leptos::prelude::*;

use crate::protocol::{ChatMessage, LoginRequest, LoginSuccess, PrivateMessage, UserName};

/// The state of the connection to the server, as shown to the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnStatus {
    Connecting,
    Connected,
    /// Disconnected; the next attempt starts in `in_secs` seconds.
    Reconnecting { in_secs: u32 },
}

/// Everything the views render.
#[derive(Clone, Copy)]
pub struct ChatState {
    pub conn: RwSignal<ConnStatus>,
    /// Set once the server accepted the login.
    pub me: RwSignal<Option<LoginSuccess>>,
    /// A login was sent and has no answer yet.
    pub logging_in: RwSignal<bool>,
    pub login_error: RwSignal<Option<String>>,
    /// The names this participant may write to, their own included, as the server sent them.
    pub users: RwSignal<Vec<UserName>>,
    /// Every message sent or received since the page opened, oldest first.
    pub messages: RwSignal<Vec<ChatMessage>>,
    /// The person this participant is talking to.
    pub peer: RwSignal<Option<UserName>>,
    /// Unread messages per peer name.
    pub unread: RwSignal<HashMap<UserName, usize>>,
    /// The last error the server reported, until dismissed.
    pub error: RwSignal<Option<String>>,
}

impl ChatState {
    pub fn new() -> Self {
        Self {
            conn: RwSignal::new(ConnStatus::Connecting),
            me: RwSignal::new(None),
            logging_in: RwSignal::new(false),
            login_error: RwSignal::new(None),
            users: RwSignal::new(Vec::new()),
            messages: RwSignal::new(Vec::new()),
            peer: RwSignal::new(None),
            unread: RwSignal::new(HashMap::new()),
            error: RwSignal::new(None),
        }
    }

    /// Records a message sent or received, and counts it as unread unless its
    /// conversation is open.
    pub fn add_message(&self, message: ChatMessage) {
        let other = if message.is_self { message.to.clone() } else { message.from.clone() };
        if self.peer.get_untracked().is_none() {
            self.peer.set(Some(other.clone()));
        }
        if !message.is_self && self.peer.get_untracked().as_ref() != Some(&other) {
            self.unread.update(|u| *u.entry(other).or_default() += 1);
        }
        self.messages.update(|m| m.push(message));
    }

    /// Takes a new `user_list`. A customer with no conversation open gets the first agent's
    /// opened, so that they can start typing at once.
    pub fn set_users(&self, users: Vec<UserName>) {
        let me = self.me.get_untracked();
        if let (None, Some(me)) = (self.peer.get_untracked(), me.as_ref()) {
            if me.role == crate::protocol::Role::Customer {
                if let Some(first) = users.iter().find(|u| **u != me.name) {
                    self.peer.set(Some(first.clone()));
                }
            }
        }
        self.users.set(users);
    }

    /// Opens the conversation with `peer`, marking it read.
    pub fn open(&self, peer: UserName) {
        self.unread.update(|u| {
            u.remove(&peer);
        });
        self.peer.set(Some(peer));
    }

    /// Forgets the session (after logging out).
    pub fn reset(&self) {
        self.me.set(None);
        self.logging_in.set(false);
        self.users.set(Vec::new());
        self.messages.set(Vec::new());
        self.peer.set(None);
        self.unread.set(HashMap::new());
        self.error.set(None);
    }
}

impl Default for ChatState {
    fn default() -> Self {
        Self::new()
    }
}

/// What a view asks the connection to do.
#[derive(Clone, Debug)]
pub enum Command {
    Login(LoginRequest),
    Send(PrivateMessage),
    Logout,
}

/// The state plus a way to send commands; provided as context to every view.
#[derive(Clone, Copy)]
pub struct Chat {
    pub state: ChatState,
    pub commands: Callback<Command>,
}

impl Chat {
    pub fn send(&self, command: Command) {
        self.commands.run(command);
    }
}
