//! Who is online, and on which connections: login, leaving, away, and retiring an agent.
//!
//! Owns: [`Present`] (an online identity with its connections), the rule that a name is
//! held by one identity at a time (case-insensitively), and the name maps kept in step
//! with who is online.
//! Must not: decide who sees a conversation (`access.rs`) or word the lists it pushes
//! (`outbound.rs`); it only says when they changed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use app::protocol::Problem;
use app::protocol::{
    AgentStatus, ConversationId, LoginSuccess, Role, ServerEvent, Status, StatusRequest, UserName,
    NAME_MAX_CHARS,
};

use crate::model::{AgentKey, ConversationMeta, Identity, NameKey};

use super::{ConnId, Hub, Login, Outbound, Outcome, Step};

/// An identity that is online, with its connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Present {
    pub(super) name: UserName,
    pub(super) conns: BTreeSet<ConnId>,
    pub(super) admin: bool,
    /// The connections whose tab has been hidden a while: the identity is away when all
    /// of its connections are.
    pub(super) away: BTreeSet<ConnId>,
    /// What an agent said of themselves (`status`), for all their tabs.
    #[serde(default)]
    pub(super) chosen: AgentStatus,
}

impl Present {
    /// Every one of its connections has been hidden a while.
    fn hidden(&self) -> bool {
        !self.conns.is_empty() && self.conns.iter().all(|c| self.away.contains(c))
    }

    /// Said so, or at the desk with every tab hidden a while.
    pub(super) fn is_away(&self) -> bool {
        match self.chosen {
            AgentStatus::Away => true,
            AgentStatus::Online => self.hidden(),
            AgentStatus::Busy => false,
        }
    }

    pub(super) fn is_busy(&self) -> bool {
        self.chosen == AgentStatus::Busy
    }

    /// Whether the queue may give them something new: neither away nor busy.
    pub(super) fn takes_new(&self) -> bool {
        self.chosen == AgentStatus::Online && !self.hidden()
    }
}

impl Hub {
    /// How many identities are logged in.
    pub fn online(&self) -> usize {
        self.present.len()
    }

    /// Who is logged in on `conn`, if anyone.
    pub fn identity(&self, conn: ConnId) -> Option<&Identity> {
        self.conns.get(&conn)?.as_ref()
    }

    /// Whether `who` may use `name` now: nobody online holds it, or `who` does (another tab).
    pub fn name_free(&self, name: &UserName, who: Option<&Identity>) -> bool {
        let k = NameKey::of(name);
        match self.agents.get(&k).or_else(|| self.customers.get(&k)) {
            None => true,
            Some(holder) => Some(holder) == who,
        }
    }

    /// `name (2)`, `name (3)` … (the name shortened to leave room), the first that is free
    /// for `who` (or that `who` holds already, on another tab).
    fn free_variant(&self, name: &UserName, who: &Identity) -> Option<UserName> {
        (2..100).find_map(|n| {
            let suffix = format!(" ({n})");
            let room = NAME_MAX_CHARS - suffix.chars().count();
            let base: String = name.as_str().chars().take(room).collect();
            let variant = UserName::parse(&format!("{}{suffix}", base.trim_end())).ok()?;
            self.name_free(&variant, Some(who)).then_some(variant)
        })
    }

    /// The admin logged in on `conn`, or why not.
    pub fn admin(&self, conn: ConnId) -> Result<AgentKey, Problem> {
        match self.identity(conn) {
            Some(who @ Identity::Agent(key)) if self.present.get(who).is_some_and(|p| p.admin) => {
                Ok(key.clone())
            }
            Some(_) => Err(Problem::AdminsOnly),
            None => Err(Problem::NotLoggedIn),
        }
    }

    /// A login: refused on a connection already logged in or for a name someone else holds;
    /// otherwise the welcome, the lists, and for an agent the console.
    pub(super) fn login(&mut self, login: Login) -> Step {
        let Login { conn, who, name, resume, conversations, admin, status, token_hash } = login;
        let Some(slot) = self.conns.get(&conn) else {
            return Step::new(Ok(Outcome::Stale), vec![]);
        };
        // Logged out after storage said the session was valid, before this login came.
        if token_hash.is_some_and(|hash| self.session_has_ended(&hash)) {
            return Self::refuse_login(conn, Problem::SessionExpired);
        }
        if slot.is_some() {
            let me = self
                .identity(conn)
                .and_then(|w| self.present.get(w))
                .map(|p| p.name.to_string())
                .unwrap_or_default();
            return Self::refuse_login(conn, Problem::AlreadyLoggedIn(me));
        }
        // A name someone else holds online: refused, the tutorial's rule (new customers
        // were refused before they were created). But a customer who comes back (their
        // token, or their site, says who they are) is never locked out by someone who took
        // their name meanwhile: they are told apart as "Ann (2)" while both are online.
        let name = if self.name_free(&name, Some(&who)) {
            name
        } else {
            let variant = match who {
                Identity::Customer(_) => self.free_variant(&name, &who),
                Identity::Agent(_) => None,
            };
            match variant {
                Some(variant) => variant,
                None => return Self::refuse_login(conn, Problem::NameTaken),
            }
        };
        let role = who.role();
        let own = match who {
            Identity::Customer(_) => conversations.first().map(|m| m.id),
            Identity::Agent(_) => None,
        };
        let listed: Vec<ConversationId> = conversations.iter().map(|m| m.id).collect();
        for meta in conversations {
            self.learn(meta);
        }
        self.conns.insert(conn, Some(who.clone()));
        let statuses_before = self.statuses();
        let arrived = !self.present.contains_key(&who);
        let present = self.present.entry(who.clone()).or_insert_with(|| Present {
            name: name.clone(),
            conns: BTreeSet::new(),
            admin,
            away: BTreeSet::new(),
            chosen: AgentStatus::Online,
        });
        present.conns.insert(conn);
        present.admin = admin;
        // The status a login says (a tab reconnecting, a server restarted) counts only when
        // nobody else holds it: another tab of theirs online knows the newer choice, which
        // the login is told instead.
        if let (Some(status), Role::Agent, true) = (status, role, arrived) {
            present.chosen = status;
        }
        let chosen = present.chosen;
        let name = present.name.clone();

        let agent = role == Role::Agent;
        let success = LoginSuccess {
            name: name.clone(),
            role,
            resume,
            conversation: own,
            admin: admin && agent,
            away_after_ms: agent.then_some(self.away_after_ms),
            status: agent.then_some(chosen),
            attachment_max_bytes: Some(self.attachment_max_bytes),
            reply_time_ms: self.reply_time_ms.filter(|_| !agent),
        };
        let mut outbound = vec![Outbound { to: conn, event: ServerEvent::LoginSuccess(success) }];
        if arrived {
            let k = NameKey::of(&name);
            match role {
                Role::Agent => self.agents.insert(k, who.clone()),
                Role::Customer => self.customers.insert(k, who.clone()),
            };
            self.push_lists_after_change(role, &name, Some(&who), &mut outbound);
        } else {
            // Another tab of someone already online: only it needs a list.
            let list = self.view_of(&who);
            outbound.push(Outbound { to: conn, event: ServerEvent::UserList(list) });
        }
        self.push_statuses_if_changed(&statuses_before, Some(conn), &mut outbound);
        if role == Role::Agent {
            // Whatever waits goes to agents with room (this one among them) first; then
            // the console: the queue and the conversations this agent sees, as they now
            // stand.
            self.assign_waiting();
            let mut listed: Vec<&ConversationMeta> = listed
                .iter()
                .filter_map(|id| self.conversations.get(id))
                .filter(|m| self.sees(&who, m))
                .chain(self.queue.iter().filter_map(|(_, id)| self.conversations.get(id)))
                .collect();
            listed.sort_by_key(|m| m.id);
            listed.dedup_by_key(|m| m.id);
            for meta in listed {
                outbound
                    .push(Outbound { to: conn, event: ServerEvent::Conversation(meta.summary()) });
            }
        }
        self.step(Ok(Outcome::LoggedIn), outbound)
    }

    /// A connection is gone; its identity leaves with its last connection.
    pub(super) fn disconnect(&mut self, conn: ConnId) -> Step {
        let Some(slot) = self.conns.remove(&conn) else {
            return Step::new(Ok(Outcome::Stale), vec![]);
        };
        let mut outbound = vec![];
        if let Some(who) = slot {
            self.leave(conn, &who, &mut outbound);
        }
        Step::new(Ok(Outcome::Disconnected), outbound)
    }

    /// `who` is no longer on `conn`; when that was their last connection, they are gone.
    fn leave(&mut self, conn: ConnId, who: &Identity, outbound: &mut Vec<Outbound>) {
        let statuses_before = self.statuses();
        let gone = match self.present.get_mut(who) {
            Some(p) => {
                p.conns.remove(&conn);
                p.away.remove(&conn);
                p.conns.is_empty()
            }
            None => false,
        };
        if gone {
            self.typing.retain(|(typist, _), _| typist != who);
            if let Some(p) = self.present.remove(who) {
                let k = NameKey::of(&p.name);
                match who.role() {
                    Role::Agent => self.agents.remove(&k),
                    Role::Customer => self.customers.remove(&k),
                };
                self.push_lists_after_change(who.role(), &p.name, None, outbound);
            }
        }
        self.push_statuses_if_changed(&statuses_before, None, outbound);
    }

    /// An agent's tab was hidden a while or shows again; everyone is told when who is away
    /// changed.
    pub(super) fn away(&mut self, conn: ConnId, away: bool) -> Step {
        let who = match self.agent(conn) {
            Ok(key) => Identity::Agent(key),
            Err(problem) => return Self::refuse(conn, problem),
        };
        let before = self.statuses();
        if let Some(p) = self.present.get_mut(&who) {
            if away {
                p.away.insert(conn);
            } else {
                p.away.remove(&conn);
            }
        }
        let mut out = vec![];
        self.push_statuses_if_changed(&before, None, &mut out);
        // Back at the desk: room for whatever waits.
        self.assign_waiting();
        self.step(Ok(Outcome::Changed), out)
    }

    /// An agent says they are online, away or busy: every tab of theirs is told, and
    /// everyone else when who is away or busy changed. Back online, whatever waits may be
    /// theirs.
    pub(super) fn set_status(&mut self, conn: ConnId, status: AgentStatus) -> Step {
        let who = match self.agent(conn) {
            Ok(key) => Identity::Agent(key),
            Err(problem) => return Self::refuse(conn, problem),
        };
        let before = self.statuses();
        let mut out = vec![];
        if let Some(p) = self.present.get_mut(&who).filter(|p| p.chosen != status) {
            p.chosen = status;
            let event = ServerEvent::Status(StatusRequest { status });
            out.extend(p.conns.iter().map(|&to| Outbound { to, event: event.clone() }));
        }
        self.push_statuses_if_changed(&before, None, &mut out);
        self.assign_waiting();
        self.step(Ok(Outcome::Changed), out)
    }

    /// A removed agent account: logged out everywhere, their open conversations queued.
    pub(super) fn retire(&mut self, agent: AgentKey, now_ms: u64) -> Step {
        let who = Identity::Agent(agent.clone());
        let mut out = vec![];
        for conn in self.connections(&who) {
            self.conns.insert(conn, None);
            self.leave(conn, &who, &mut out);
        }
        let theirs: Vec<ConversationId> = self
            .conversations
            .values()
            .filter(|m| {
                m.status == Status::Open && m.assignee.as_ref().is_some_and(|a| a.key == agent)
            })
            .map(|m| m.id)
            .collect();
        for id in theirs {
            self.update(id, |m| {
                m.status = Status::Queued;
                m.queued_at = now_ms;
                m.note = None;
            });
        }
        self.assign_waiting();
        self.step(Ok(Outcome::Changed), out)
    }

    /// Every online agent.
    pub(super) fn online_agents(&self) -> impl Iterator<Item = (&AgentKey, &Present)> + '_ {
        self.agents.values().filter_map(|who| match who {
            Identity::Agent(key) => Some((key, self.present.get(who)?)),
            Identity::Customer(_) => None,
        })
    }
}
