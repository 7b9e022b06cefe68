//! Every sentence a person reads, in one place (zh-CN joins English here later).
//!
//! Owns: the human-readable errors the server sends (`login_error`, `error`) and the
//! labels of the UI. Must not: decide anything; callers pick the [`Problem`], this module
//! only words it.

use std::fmt;

/// Something a person did that cannot be done, as told to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    NameEmpty,
    NameTooLong,
    NameControlChars,
    NameTaken,
    /// The name belongs to an agent account; customers may not use it.
    NameReserved,
    WrongPassword,
    AgentPasswordMissing,
    AlreadyLoggedIn(String),
    NotLoggedIn,
    MessageEmpty,
    MessageTooLong,
    UnknownRecipient(String),
    RecipientNotAllowed(String),
    MessageToSelf,
    /// A message with neither a recipient nor a conversation.
    NoRecipient,
    /// Only agents manage conversations.
    AgentsOnly,
    /// Taking a conversation someone else has.
    AlreadyAssigned(String),
    /// Resolving or transferring a conversation that is not this agent's.
    NotYours,
    UnknownAgent(String),
    /// Only admins manage the team and the canned replies.
    AdminsOnly,
    PasswordTooShort,
    AgentExists(String),
    /// An admin removing their own account (they would lock themselves out mid-session).
    RemoveSelf,
    BadShortcut,
    Malformed(&'static str),
    /// A `client_id` that is not 1–64 plain ASCII characters.
    BadClientId,
    /// Agents talk to customers, in the customer's conversation.
    AgentToAgent,
    UnknownConversation,
    /// A resume token that is unknown, expired or revoked, for someone who must then
    /// log in again (an agent, with their password).
    SessionExpired,
    /// The message could not be stored, so it was not sent; the client may retry.
    NotSaved,
    /// Too many requests (or messages) in a short time; the client may retry after the
    /// given number of seconds.
    SlowDown(u64),
    /// Too many failed agent passwords from this address for this name; retry after the
    /// given number of seconds.
    TooManyAttempts(u64),
    /// Too many connections from one address.
    TooManyConnections,
    /// An event the server does not know.
    UnknownEvent(String),
    /// The server could not do it; details are in its log, not on the wire.
    Internal,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::protocol::{MESSAGE_MAX_CHARS, NAME_MAX_CHARS, PASSWORD_MIN_CHARS};
        match self {
            Problem::NameEmpty => f.write_str("Please enter a name."),
            Problem::NameTooLong => write!(f, "A name can have at most {NAME_MAX_CHARS} characters."),
            Problem::NameControlChars => f.write_str("A name cannot contain control characters."),
            Problem::NameTaken => f.write_str("That name is already taken. Please choose another."),
            Problem::NameReserved => f.write_str("That name belongs to a support agent. Please choose another."),
            Problem::WrongPassword => f.write_str("Wrong agent name or password."),
            Problem::AgentPasswordMissing => f.write_str("Agents must enter their password."),
            Problem::AlreadyLoggedIn(name) => write!(f, "You are already logged in as {name}."),
            Problem::NotLoggedIn => f.write_str("Please log in first."),
            Problem::MessageEmpty => f.write_str("A message cannot be empty."),
            Problem::MessageTooLong => write!(f, "A message can have at most {MESSAGE_MAX_CHARS} characters."),
            Problem::UnknownRecipient(name) => write!(f, "{name} is not online."),
            Problem::RecipientNotAllowed(name) => {
                write!(f, "{name} is not a support agent who is online. You can write to the agents in your list.")
            }
            Problem::MessageToSelf => f.write_str("You cannot send a message to yourself."),
            Problem::NoRecipient => f.write_str("Choose who to write to."),
            Problem::AgentsOnly => f.write_str("Only support agents can do that."),
            Problem::AlreadyAssigned(name) => write!(f, "{name} already has this conversation."),
            Problem::NotYours => f.write_str("This conversation is not assigned to you."),
            Problem::UnknownAgent(name) => write!(f, "There is no agent called {name}."),
            Problem::AdminsOnly => f.write_str("Only admins can do that."),
            Problem::PasswordTooShort => write!(f, "A password needs at least {PASSWORD_MIN_CHARS} characters."),
            Problem::AgentExists(name) => write!(f, "There is already an agent called {name}."),
            Problem::RemoveSelf => f.write_str("You cannot remove your own account."),
            Problem::BadShortcut => f.write_str("A shortcut is 1 to 32 lower-case letters, digits, '-' or '_'."),
            Problem::Malformed(event) => write!(f, "The server could not read that {event} request."),
            Problem::BadClientId => f.write_str("A client message id must be 1 to 64 letters, digits, '-', '_', '.' or ':'."),
            Problem::AgentToAgent => f.write_str("Agents can write to customers only."),
            Problem::UnknownConversation => f.write_str("There is no such conversation."),
            Problem::SessionExpired => f.write_str("Your session has ended. Please log in again."),
            Problem::NotSaved => f.write_str("Your message could not be saved, so it was not sent. Please try again."),
            Problem::SlowDown(s) => write!(f, "You are sending too fast. Please wait {s} s and try again."),
            Problem::TooManyAttempts(s) => write!(f, "Too many failed logins. Please wait {s} s and try again."),
            Problem::TooManyConnections => f.write_str("Too many connections from your network. Please close some tabs and try again."),
            Problem::UnknownEvent(event) => write!(f, "The server does not know the event {event:?}."),
            Problem::Internal => f.write_str("Something went wrong on the server. Please try again."),
        }
    }
}

/// The labels of the UI.
pub struct Ui {
    pub title: &'static str,
    pub login_heading: &'static str,
    pub name_label: &'static str,
    pub agent_switch: &'static str,
    pub password_label: &'static str,
    pub login_button: &'static str,
    pub logging_in: &'static str,
    pub online_heading: &'static str,
    pub you_suffix: &'static str,
    pub agent_badge: &'static str,
    pub no_agents_online: &'static str,
    pub to_label: &'static str,
    pub message_placeholder: &'static str,
    pub send_button: &'static str,
    pub no_messages: &'static str,
    pub dismiss: &'static str,
    pub logged_in_as: &'static str,
    pub log_out: &'static str,
    pub conn_connecting: &'static str,
    pub conn_online: &'static str,
    pub conn_offline: &'static str,
    pub conn_retry_in: &'static str,
    pub offline_send_hint: &'static str,
    pub you: &'static str,
    pub agents_heading: &'static str,
    pub conversations_heading: &'static str,
    pub support_team: &'static str,
    pub pick_conversation: &'static str,
    pub offline_badge: &'static str,
    pub load_older: &'static str,
    pub pending: &'static str,
    pub not_sent: &'static str,
    pub retry: &'static str,
    pub mine_heading: &'static str,
    pub queue_heading: &'static str,
    pub others_heading: &'static str,
    pub take: &'static str,
    pub resolve: &'static str,
    pub transfer: &'static str,
    pub transfer_to: &'static str,
    pub transfer_note: &'static str,
    pub note_from_transfer: &'static str,
    pub status_queued: &'static str,
    pub status_open: &'static str,
    pub status_resolved: &'static str,
    pub status_new: &'static str,
    pub offline_action: &'static str,
    pub cannot_reach_server: &'static str,
    pub new_message_from: &'static str,
    pub is_typing: &'static str,
    pub internal_note: &'static str,
    pub read_receipt: &'static str,
    pub away_badge: &'static str,
    pub online_badge: &'static str,
    pub admin_badge: &'static str,
    pub team_heading: &'static str,
    pub add_agent: &'static str,
    pub admin_label: &'static str,
    pub remove: &'static str,
    pub canned_heading: &'static str,
    pub shortcut_label: &'static str,
    pub reply_label: &'static str,
    pub save: &'static str,
}

pub const EN: Ui = Ui {
    title: "Support chat",
    login_heading: "Chat with our support team",
    name_label: "Your name",
    agent_switch: "I am an agent",
    password_label: "Password",
    login_button: "Start chatting",
    logging_in: "Logging in…",
    online_heading: "Online",
    you_suffix: " (you)",
    agent_badge: "agent",
    no_agents_online: "No agent is online right now. Write anyway: your message waits for the first agent.",
    to_label: "To",
    message_placeholder: "Write a message…",
    send_button: "Send",
    no_messages: "No messages yet.",
    dismiss: "Dismiss",
    logged_in_as: "Logged in as",
    log_out: "Log out",
    conn_connecting: "Connecting…",
    conn_online: "Connected",
    conn_offline: "Disconnected",
    conn_retry_in: "reconnecting in",
    offline_send_hint: "You are offline. What you write now is sent as soon as the connection is back.",
    you: "You",
    agents_heading: "Agents online",
    conversations_heading: "Conversations",
    support_team: "Support team",
    pick_conversation: "Choose a conversation",
    offline_badge: "offline",
    load_older: "Load older messages",
    pending: "Sending…",
    not_sent: "Not sent:",
    retry: "Retry",
    mine_heading: "Mine",
    queue_heading: "Waiting",
    others_heading: "Others",
    take: "Take",
    resolve: "Resolve",
    transfer: "Transfer",
    transfer_to: "Agent",
    transfer_note: "Note for the next agent",
    note_from_transfer: "Note:",
    status_queued: "waiting",
    status_open: "open",
    status_resolved: "resolved",
    status_new: "new",
    offline_action: "You are offline; try again once the connection is back.",
    cannot_reach_server: "Cannot reach the server. Check the connection and try again.",
    new_message_from: "New message from",
    is_typing: "is typing…",
    internal_note: "Internal note",
    read_receipt: "Read",
    away_badge: "away",
    online_badge: "online",
    admin_badge: "admin",
    team_heading: "Team",
    add_agent: "Add agent",
    admin_label: "Admin (sees every conversation, manages the team)",
    remove: "Remove",
    canned_heading: "Canned replies",
    shortcut_label: "Shortcut",
    reply_label: "Reply",
    save: "Save",
};
