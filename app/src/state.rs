//! What the views show, as signals, and what they can ask for.
//!
//! Owns: [`ChatState`] (written by the browser's connection, read by the views) and
//! [`Command`] (what a view asks the connection to do). On the server both exist so that
//! the first page renders; nothing is ever connected there.
//! Must not: parse wire frames (`client` does) or render anything (`components` do).

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::inbox::{Inbox, Target};
use crate::protocol::{
    AgentInfo, AgentStatus, Attachment, CannedReply, ChatMessage, ClientMsgId, ConversationId,
    ConversationSummary, ConversationsCursor, ConversationsPage, CustomerProfile, DeskSettings,
    History, LoginRequest, LoginSuccess, NewAgent, OfficeStatus, Presence, ProfileUpdate,
    RateRequest, ResolvedAt, Role, SearchResults, Status, UserName, TYPING_SHOWN_MS,
};
use crate::text::Lang;
use crate::uploads::Upload;

/// The state of the connection to the server, as shown to the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnStatus {
    Connecting,
    Connected,
    /// Disconnected; the next attempt starts in `in_secs` seconds.
    Reconnecting {
        in_secs: u32,
    },
}

/// How the connection reaches the server: a websocket, or HTTP long-polling where a
/// proxy or firewall lets no websocket through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Polling,
}

impl Transport {
    /// Its Engine.IO name (shown to tools as the badge's `data-transport`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Polling => "polling",
        }
    }
}

/// Everything the views render. What only an agent's console shows is left out of the
/// customers' bundle (feature `console`), with the commands only it gives ([`DeskCommand`]).
#[derive(Clone, Copy)]
pub struct ChatState {
    /// The language the UI speaks (and the server's errors are worded in).
    pub lang: RwSignal<Lang>,
    pub conn: RwSignal<ConnStatus>,
    /// What carries the connection, once one is open.
    pub transport: RwSignal<Option<Transport>>,
    /// Set once the server accepted the login.
    pub me: RwSignal<Option<LoginSuccess>>,
    /// A login was sent and has no answer yet.
    pub logging_in: RwSignal<bool>,
    pub login_error: RwSignal<Option<String>>,
    /// The names this participant may write to, their own included, as the server sent them.
    pub users: RwSignal<Vec<UserName>>,
    /// Conversations and the outbox.
    pub inbox: RwSignal<Inbox>,
    /// The conversation on screen.
    pub open: RwSignal<Option<Target>>,
    /// The last error the server reported, until dismissed.
    pub error: RwSignal<Option<String>>,
    /// An agent's console: where each conversation stands, as the server pushes it.
    #[cfg(feature = "console")]
    pub desk: RwSignal<BTreeMap<ConversationId, ConversationSummary>>,
    /// Who is typing in which conversation, and until when (ms since the epoch).
    pub typing: RwSignal<BTreeMap<ConversationId, (UserName, u64)>>,
    /// For a customer: how far the support side has read each conversation.
    pub read: RwSignal<BTreeMap<ConversationId, u64>>,
    /// For an agent: the team's canned replies.
    #[cfg(feature = "console")]
    pub canned: RwSignal<Vec<CannedReply>>,
    /// The agents who are away (they said so, or their tab has been hidden a while).
    pub away: RwSignal<Vec<UserName>>,
    /// The agents who said they are busy.
    pub busy: RwSignal<Vec<UserName>>,
    /// For an agent: the status they chose (all their tabs share it); `None` until the
    /// server or the agent has said one. A login after a reconnect says it again.
    pub my_status: RwSignal<Option<AgentStatus>>,
    /// For an admin: the agent accounts.
    #[cfg(feature = "console")]
    pub agents: RwSignal<Vec<AgentInfo>>,
    /// For a customer, when the desk has office hours: whether it is open.
    pub office: RwSignal<Option<OfficeStatus>>,
    /// The widget's pre-chat question (and e-mail), sent as the first message once logged in.
    pub prechat: RwSignal<Option<String>>,
    /// Files on their way up (or refused), oldest first.
    pub uploads: RwSignal<Vec<Upload>>,
    /// Object URLs of files fetched for showing (images), by their `/attachments` path:
    /// fetched once per page with the session (an `<img src>` cannot carry a customer's).
    pub blobs: RwSignal<BTreeMap<String, String>>,
    /// For an agent: the search shown in place of their list, while there is one.
    #[cfg(feature = "console")]
    pub search: RwSignal<Option<Search>>,
    /// A message to bring into view and mark (one opened from a search), until another
    /// conversation opens.
    pub focus: RwSignal<Option<(ConversationId, u64)>>,
    /// For an agent: whether their console may list more conversations than it holds.
    #[cfg(feature = "console")]
    pub more_conversations: RwSignal<MoreConversations>,
    /// For an agent: the profile of the open conversation's customer, once the server sent
    /// it (it says whose conversation it is).
    #[cfg(feature = "console")]
    pub profile: RwSignal<Option<CustomerProfile>>,
    /// The desk's settings, as the server said (customers and admins).
    pub settings: RwSignal<DeskSettings>,
    /// For a customer: the resolution of their conversation they may rate (as the server
    /// last said), and the one they rated (thanked while it is the one to rate).
    pub resolved: RwSignal<Option<ResolvedAt>>,
    pub rated: RwSignal<Option<ResolvedAt>>,
}

/// Where an agent's console stands in the pages of their conversations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MoreConversations {
    /// Not known yet (the login's catch-up ends by saying where the next page starts).
    #[default]
    Unknown,
    /// A page was asked for (after this one) and has not come yet.
    Waiting(ConversationsCursor),
    /// More start after this one.
    After(ConversationsCursor),
    /// Every one is listed.
    AllListed,
}

/// An agent's search: the query and what was found so far (pages appended).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search {
    pub query: String,
    pub results: SearchResults,
    /// A page was asked for and has not come yet.
    pub waiting: bool,
}

impl Search {
    /// A page that came: the first replaces what was found, a later one is added to it.
    /// A page of another query (an earlier one's answer, late) is ignored.
    pub fn take(&mut self, page: SearchResults) {
        if page.query != self.query {
            return;
        }
        if page.before.is_none() {
            self.results = page;
            self.waiting = false;
        } else if page.before == self.results.next {
            self.results.messages.extend(page.messages);
            self.results.next = page.next;
            self.waiting = false;
        }
    }
}

impl ChatState {
    pub fn new(lang: Lang) -> Self {
        Self {
            lang: RwSignal::new(lang),
            conn: RwSignal::new(ConnStatus::Connecting),
            transport: RwSignal::new(None),
            me: RwSignal::new(None),
            logging_in: RwSignal::new(false),
            login_error: RwSignal::new(None),
            users: RwSignal::new(Vec::new()),
            inbox: RwSignal::new(Inbox::default()),
            open: RwSignal::new(None),
            error: RwSignal::new(None),
            #[cfg(feature = "console")]
            desk: RwSignal::new(BTreeMap::new()),
            typing: RwSignal::new(BTreeMap::new()),
            read: RwSignal::new(BTreeMap::new()),
            #[cfg(feature = "console")]
            canned: RwSignal::new(Vec::new()),
            away: RwSignal::new(Vec::new()),
            busy: RwSignal::new(Vec::new()),
            my_status: RwSignal::new(None),
            #[cfg(feature = "console")]
            agents: RwSignal::new(Vec::new()),
            office: RwSignal::new(None),
            prechat: RwSignal::new(None),
            uploads: RwSignal::new(Vec::new()),
            blobs: RwSignal::new(BTreeMap::new()),
            #[cfg(feature = "console")]
            search: RwSignal::new(None),
            focus: RwSignal::new(None),
            #[cfg(feature = "console")]
            more_conversations: RwSignal::new(MoreConversations::Unknown),
            #[cfg(feature = "console")]
            profile: RwSignal::new(None),
            settings: RwSignal::new(DeskSettings::default()),
            resolved: RwSignal::new(None),
            rated: RwSignal::new(None),
        }
    }

    /// A page of the agent's conversations: listed where the console has none of them (a
    /// summary it holds came later than this page was read).
    #[cfg(feature = "console")]
    pub fn conversations_page(&self, page: ConversationsPage) {
        self.desk.update(|d| {
            for summary in page.conversations {
                d.entry(summary.id).or_insert(summary);
            }
        });
        self.more_conversations.set(match page.next {
            Some(next) => MoreConversations::After(next),
            None => MoreConversations::AllListed,
        });
    }

    /// Whether the agent `name` is away or busy (tracked); `None` at the desk.
    pub fn agent_status(&self, name: &UserName) -> Option<AgentStatus> {
        if self.away.with(|a| a.contains(name)) {
            Some(AgentStatus::Away)
        } else if self.busy.with(|b| b.contains(name)) {
            Some(AgentStatus::Busy)
        } else {
            None
        }
    }

    pub(crate) fn is_agent_untracked(&self) -> bool {
        self.me.with_untracked(|m| m.as_ref().is_some_and(|m| m.role == Role::Agent))
    }

    fn is_agent(&self) -> bool {
        self.me.with(|m| m.as_ref().is_some_and(|m| m.role == Role::Agent))
    }

    /// The unread messages of a conversation: for an agent, the support side's count as
    /// the server keeps it; for a customer, what arrived since they last looked.
    pub fn unread(&self, id: ConversationId) -> usize {
        #[cfg(feature = "console")]
        if self.is_agent() {
            return self.desk.with(|d| d.get(&id).map_or(0, |s| s.unread as usize));
        }
        self.inbox.with(|i| i.threads.get(&id).map_or(0, |t| t.unread))
    }

    /// What the tab title counts: an agent's own conversations and the queue; everything
    /// for a customer.
    pub fn unread_total(&self) -> usize {
        #[cfg(feature = "console")]
        if self.is_agent() {
            let me = self.me.with(|m| m.as_ref().map(|m| m.name.clone()));
            return self.desk.with(|d| {
                d.values()
                    .filter(|s| {
                        s.status == Status::Queued || (s.status == Status::Open && s.assignee == me)
                    })
                    .map(|s| s.unread as usize)
                    .sum()
            });
        }
        self.inbox.with(|i| i.unread_total())
    }

    /// The support side has read `id` up to `seq`.
    pub fn read_up_to(&self, id: ConversationId, seq: u64) {
        if seq > self.read.with_untracked(|r| r.get(&id).copied().unwrap_or(0)) {
            self.read.update(|r| {
                r.insert(id, seq);
            });
        }
    }

    /// Someone is typing in `id` as of `now_ms`; shown for [`TYPING_SHOWN_MS`] unless renewed.
    pub fn typing(&self, id: ConversationId, from: UserName, now_ms: u64) {
        self.typing.update(|t| {
            t.insert(id, (from, now_ms + TYPING_SHOWN_MS));
        });
    }

    /// Forgets typing indicators that ran out by `now_ms`.
    pub fn expire_typing(&self, now_ms: u64) {
        if self.typing.with_untracked(|t| t.values().any(|(_, until)| *until <= now_ms)) {
            self.typing.update(|t| t.retain(|_, (_, until)| *until > now_ms));
        }
    }

    /// The summary of the conversation on screen, if it is on the desk.
    #[cfg(feature = "console")]
    pub fn open_summary(&self) -> Option<ConversationSummary> {
        let id = match self.open.get()? {
            Target::Conversation(id) => id,
            Target::Person(_) => return None,
        };
        self.desk.with(|d| d.get(&id).cloned())
    }

    /// The conversation on screen, once it has an id.
    pub fn open_conversation(&self) -> Option<ConversationId> {
        match self.open.get_untracked() {
            Some(Target::Conversation(id)) => Some(id),
            _ => None,
        }
    }

    /// The server accepted the login: a customer's own conversation opens at once.
    pub fn logged_in(&self, ok: LoginSuccess) {
        if let (Role::Customer, Some(id)) = (ok.role, ok.conversation) {
            // A lapsed session came back as a new customer: what this page held belongs to
            // the old conversation, but what was not sent yet goes to the new one.
            self.inbox.update(|i| i.adopt(id));
            self.open.set(Some(Target::Conversation(id)));
        }
        self.logging_in.set(false);
        self.login_error.set(None);
        // The login says again whether a resolution waits for a rating (another tab may
        // have given it meanwhile).
        self.resolved.set(None);
        self.rated.set(None);
        // An answer asked for on a connection that is gone will not come: ask again.
        #[cfg(feature = "console")]
        if self.search.with_untracked(|s| s.as_ref().is_some_and(|s| s.waiting)) {
            self.search.update(|s| {
                if let Some(s) = s.as_mut() {
                    s.waiting = false;
                }
            });
        }
        self.me.set(Some(ok));
    }

    /// Records a message sent or received.
    pub fn receive(&self, message: ChatMessage) {
        match self.open.get_untracked() {
            // An agent who wrote to an online customer by name now has the conversation.
            Some(Target::Person(name)) if name == message.customer => {
                self.open.set(Some(Target::Conversation(message.conversation)));
            }
            // An agent with nothing open sees the first message that comes in.
            None => self.open.set(Some(Target::Conversation(message.conversation))),
            _ => {}
        }
        // Their message is what they were typing.
        if self.typing.with_untracked(|t| {
            t.get(&message.conversation).is_some_and(|(n, _)| *n == message.from)
        }) {
            self.typing.update(|t| {
                t.remove(&message.conversation);
            });
        }
        // For an agent, one more unread on the desk: the server's count as of its last
        // summary, plus the customer's messages since (on screen, it is read at once).
        #[cfg(feature = "console")]
        if self.is_agent_untracked() && !message.is_self && message.from == message.customer {
            let id = message.conversation;
            if self.desk.with_untracked(|d| d.contains_key(&id)) {
                self.desk.update(|d| {
                    if let Some(s) = d.get_mut(&id) {
                        s.unread += 1;
                    }
                });
            }
        }
        let open = self.open_conversation();
        self.inbox.update(|inbox| {
            inbox.receive(message, open);
        });
    }

    pub fn history(&self, page: History) {
        self.read_up_to(page.conversation, page.read);
        self.inbox.update(|inbox| inbox.history(page));
    }

    /// Applies a change to the list of who is online (agents).
    pub fn presence(&self, change: Presence) {
        let mut users = self.users.get_untracked();
        change.apply_to(&mut users);
        self.set_users(users);
    }

    /// The others online this participant may write to (for a customer: the team's agents).
    pub fn others_online(&self) -> Vec<UserName> {
        let me = self.me.with(|m| m.as_ref().map(|m| m.name.clone()));
        self.users.get().into_iter().filter(|u| Some(u) != me.as_ref()).collect()
    }

    pub fn set_users(&self, users: Vec<UserName>) {
        self.users.set(users);
    }

    /// Opens a conversation (agents), marking it read.
    pub fn open(&self, target: Target) {
        let target = match target {
            Target::Person(name) => match self.inbox.with_untracked(|i| i.conversation_of(&name)) {
                Some(id) => Target::Conversation(id),
                None => Target::Person(name),
            },
            t => t,
        };
        if let Target::Conversation(id) = target {
            self.inbox.update(|i| i.mark_read(id));
        }
        if self
            .focus
            .with_untracked(|f| f.is_some_and(|(id, _)| Target::Conversation(id) != target))
        {
            self.focus.set(None);
        }
        self.open.set(Some(target));
    }

    /// Opens a conversation a search found (at message `seq`, brought into view): it joins
    /// the desk as the search saw it if it is not there (the server then keeps it current).
    #[cfg(feature = "console")]
    pub fn open_found(&self, summary: ConversationSummary, seq: Option<u64>) {
        let id = summary.id;
        if self.desk.with_untracked(|d| !d.contains_key(&id)) {
            self.desk.update(|d| {
                d.insert(id, summary);
            });
        }
        self.focus.set(seq.map(|seq| (id, seq)));
        self.open(Target::Conversation(id));
    }

    /// Forgets a conversation this agent no longer sees (a waiting one a colleague took):
    /// gone from the lists, and closed if it was open.
    #[cfg(feature = "console")]
    pub fn forget(&self, id: ConversationId) {
        self.desk.update(|d| {
            d.remove(&id);
        });
        self.inbox.update(|i| {
            i.threads.remove(&id);
        });
        self.typing.update(|t| {
            t.remove(&id);
        });
        if self.open.get_untracked() == Some(Target::Conversation(id)) {
            self.open.set(None);
        }
    }

    /// Forgets the session (after logging out).
    pub fn reset(&self) {
        self.me.set(None);
        self.logging_in.set(false);
        self.users.set(Vec::new());
        self.inbox.set(Inbox::default());
        self.open.set(None);
        self.error.set(None);
        #[cfg(feature = "console")]
        self.desk.set(BTreeMap::new());
        self.away.set(Vec::new());
        self.busy.set(Vec::new());
        self.my_status.set(None);
        #[cfg(feature = "console")]
        self.agents.set(Vec::new());
        self.office.set(None);
        self.uploads.set(Vec::new());
        self.blobs.set(BTreeMap::new());
        #[cfg(feature = "console")]
        self.search.set(None);
        self.focus.set(None);
        #[cfg(feature = "console")]
        self.more_conversations.set(MoreConversations::Unknown);
        #[cfg(feature = "console")]
        self.profile.set(None);
        self.resolved.set(None);
        self.rated.set(None);
    }
}

impl Default for ChatState {
    fn default() -> Self {
        Self::new(Lang::default())
    }
}

/// What a view asks the connection to do.
#[derive(Clone, Debug)]
pub enum Command {
    Login(LoginRequest),
    /// The first run: create the first admin with the setup link's token, then log in as
    /// them (`login`, an agent's).
    SetUp {
        token: String,
        login: LoginRequest,
    },
    /// Write `text` in the open conversation (queued while offline).
    Send(String),
    /// Send uploaded files in the conversation they were uploaded for (queued while
    /// offline, like text).
    SendFiles {
        target: Target,
        attachments: Vec<Attachment>,
    },
    Retry(ClientMsgId),
    LoadOlder(ConversationId),
    Logout,
    /// The person is typing in the open conversation.
    Typing,
    /// Customers: rate the resolution of their conversation.
    Rate(RateRequest),
    /// What only an agent's console asks for.
    #[cfg(feature = "console")]
    Desk(DeskCommand),
}

/// What only an agent's console asks the connection to do (none of it is in the customers'
/// bundle).
#[cfg(feature = "console")]
#[derive(Clone, Debug)]
pub enum DeskCommand {
    Take(ConversationId),
    Resolve(ConversationId),
    Transfer {
        conversation: ConversationId,
        to: String,
        note: String,
    },
    /// An internal note in the open conversation.
    Note(String),
    /// The agent has the conversation on screen: what is there is read.
    MarkRead(ConversationId),
    /// Online, away or busy.
    SetStatus(AgentStatus),
    /// Admins: add an agent account.
    AddAgent(NewAgent),
    /// Admins: remove an agent account.
    RemoveAgent(String),
    /// Admins: add or replace a canned reply.
    SetCanned(CannedReply),
    /// Admins: remove a canned reply.
    RemoveCanned(String),
    /// Search (the first page).
    Search(String),
    /// The next page of the search shown.
    SearchMore,
    /// The next page of their conversations.
    MoreConversations,
    /// Open a conversation a search found (or one listed without its messages), at a
    /// message if one was found.
    OpenFound {
        summary: ConversationSummary,
        seq: Option<u64>,
    },
    /// The profile of a conversation's customer (asked as it opens).
    Profile(ConversationId),
    /// Change a customer's e-mail address or the note on them.
    SetProfile(ProfileUpdate),
    /// Admins: change the desk's settings.
    SetDeskSettings(DeskSettings),
}

#[cfg(feature = "console")]
impl From<DeskCommand> for Command {
    fn from(command: DeskCommand) -> Self {
        Command::Desk(command)
    }
}

/// The state plus a way to send commands; provided as context to every view.
#[derive(Clone, Copy)]
pub struct Chat {
    pub state: ChatState,
    pub commands: Callback<Command>,
}

impl Chat {
    pub fn send(&self, command: impl Into<Command>) {
        self.commands.run(command.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{FoundMessage, MessageId, Snippet};

    fn found(id: u64) -> FoundMessage {
        FoundMessage {
            id: MessageId(id),
            conversation: ConversationId(1),
            seq: id,
            customer: UserName::parse("ann").unwrap(),
            status: Status::Open,
            assignee: None,
            from: UserName::parse("ann").unwrap(),
            ts: id,
            snippet: Snippet::default(),
        }
    }

    fn page(query: &str, before: Option<u64>, ids: &[u64], next: Option<u64>) -> SearchResults {
        SearchResults {
            query: query.into(),
            before: before.map(MessageId),
            messages: ids.iter().copied().map(found).collect(),
            next: next.map(MessageId),
            ..SearchResults::default()
        }
    }

    #[test]
    fn a_search_takes_its_pages_in_order_and_ignores_late_answers() {
        let mut search = Search { query: "refund".into(), waiting: true, ..Search::default() };
        // A late answer to an earlier query changes nothing, not even the wait.
        search.take(page("ref", None, &[9], None));
        assert!(search.waiting && search.results.messages.is_empty());
        search.take(page("refund", None, &[9, 8], Some(8)));
        assert!(!search.waiting);
        search.take(page("refund", Some(8), &[5, 3], None));
        let ids: Vec<u64> = search.results.messages.iter().map(|m| m.id.0).collect();
        assert_eq!(ids, vec![9, 8, 5, 3]);
        assert_eq!(search.results.next, None);
        // The same page again (a double click) is not added twice.
        search.take(page("refund", Some(8), &[5, 3], None));
        assert_eq!(search.results.messages.len(), 4);
        // A new first page replaces them.
        search.take(page("refund", None, &[10], None));
        assert_eq!(search.results.messages.len(), 1);
    }
}
