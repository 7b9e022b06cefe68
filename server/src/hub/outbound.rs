//! Who is sent what: the connections of each audience, and the user, away and busy lists
//! pushed when presence changes.
//!
//! Owns: the wording of those lists (sorted by name key; customers see the agents and
//! themselves only) and [`coalesce`], which merges a batch's presence changes.
//! Must not: change the hub; it reads and builds events.

use foldhash::{HashMap, HashMapExt};

use app::protocol::{Presence, Role, ServerEvent, UserName};

use crate::model::{ConversationMeta, Identity, NameKey};

use super::presence::Present;
use super::{ConnId, Hub, Outbound};

/// Merges the `presence` changes a connection would get one after another, with nothing
/// else for it in between, into one: a batch of logins tells each agent once, not once
/// per login. Every other event keeps its place.
pub fn coalesce(outbound: Vec<Outbound>) -> Vec<Outbound> {
    let mut out: Vec<Outbound> = Vec::with_capacity(outbound.len());
    // Per connection: where its current run of changes goes in `out`, and the changes.
    let mut runs: HashMap<ConnId, (usize, Vec<Presence>)> = HashMap::new();
    let close = |out: &mut Vec<Outbound>, (at, changes): (usize, Vec<Presence>)| {
        out[at].event = ServerEvent::Presence(Presence::merged(changes));
    };
    for Outbound { to, event } in outbound {
        match event {
            ServerEvent::Presence(change) => match runs.get_mut(&to) {
                Some((_, changes)) => changes.push(change),
                None => {
                    runs.insert(to, (out.len(), vec![change]));
                    out.push(Outbound { to, event: ServerEvent::Presence(Presence::default()) });
                }
            },
            event => {
                if let Some(run) = runs.remove(&to) {
                    close(&mut out, run);
                }
                out.push(Outbound { to, event });
            }
        }
    }
    for run in runs.into_values() {
        close(&mut out, run);
    }
    out
}

impl Hub {
    /// Every connection, logged in or not, in order.
    pub fn all_connections(&self) -> Vec<ConnId> {
        let mut conns: Vec<ConnId> = self.conns.keys().copied().collect();
        conns.sort_unstable();
        conns
    }

    /// The connections of online admins.
    pub fn admin_connections(&self) -> Vec<ConnId> {
        self.online_agents()
            .filter(|(_, p)| p.admin)
            .flat_map(|(_, p)| p.conns.iter().copied())
            .collect()
    }

    /// The connections of every online customer and admin (who are told the desk's
    /// settings).
    pub fn customer_and_admin_connections(&self) -> Vec<ConnId> {
        self.present
            .iter()
            .filter(|(who, p)| matches!(who, Identity::Customer(_)) || p.admin)
            .flat_map(|(_, p)| p.conns.iter().copied())
            .collect()
    }

    /// The connections of every online agent.
    pub fn agent_connections(&self) -> Vec<ConnId> {
        self.online_agents().flat_map(|(_, p)| p.conns.iter().copied()).collect()
    }

    /// Every connection of `who`, if online.
    pub fn connections(&self, who: &Identity) -> Vec<ConnId> {
        self.conns_of(who).collect()
    }

    /// Every connection of an online identity.
    pub(super) fn conns_of<'a>(&'a self, who: &Identity) -> impl Iterator<Item = ConnId> + 'a {
        self.present.get(who).into_iter().flat_map(|p| p.conns.iter().copied())
    }

    /// The connections of the online agents who see the conversation.
    pub(super) fn agent_viewers(&self, meta: &ConversationMeta) -> Vec<ConnId> {
        self.online_agents()
            .filter(|(key, p)| p.admin || Self::involves(key, meta))
            .flat_map(|(_, p)| p.conns.iter().copied())
            .collect()
    }

    /// Pushes `user_list` to everyone whose list changed when a participant of `role`
    /// came or went: agents always (they see everyone), customers only when an agent did,
    /// and a customer who just `arrived` (nobody else's list shows them).
    ///
    /// Agents, who see everyone, get only the change (`presence`): a full list per login
    /// would cost every agent the whole list of a busy desk, over and over. The agent who
    /// just arrived gets the full list.
    pub(super) fn push_lists_after_change(
        &self,
        role: Role,
        name: &UserName,
        arrived: Option<&Identity>,
        outbound: &mut Vec<Outbound>,
    ) {
        let change = match arrived {
            Some(_) => Presence { online: vec![name.clone()], offline: vec![] },
            None => Presence { online: vec![], offline: vec![name.clone()] },
        };
        let change = ServerEvent::Presence(change);
        for who in self.agents.values() {
            let event = if Some(who) == arrived {
                ServerEvent::UserList(self.everyone())
            } else {
                change.clone()
            };
            for conn in self.conns_of(who) {
                outbound.push(Outbound { to: conn, event: event.clone() });
            }
        }
        let customers: Vec<&Identity> = match (role, arrived) {
            (Role::Agent, _) => self.customers.values().collect(),
            (Role::Customer, Some(who)) => vec![who],
            (Role::Customer, None) => vec![],
        };
        for who in customers {
            let view = self.view_of(who);
            for conn in self.conns_of(who) {
                outbound.push(Outbound { to: conn, event: ServerEvent::UserList(view.clone()) });
            }
        }
    }

    /// The list `who` sees: everyone for an agent; the agents and themself for a customer.
    pub(super) fn view_of(&self, who: &Identity) -> Vec<UserName> {
        match who {
            Identity::Agent(_) => self.everyone(),
            Identity::Customer(_) => {
                let me = self.present.get(who).map(|p| NameKey::of(&p.name));
                let mine = me.as_ref().and_then(|k| self.customers.get_key_value(k));
                self.sorted_names(self.agents.iter().chain(mine))
            }
        }
    }

    /// Every online name, sorted case-insensitively.
    fn everyone(&self) -> Vec<UserName> {
        self.sorted_names(self.agents.iter().chain(self.customers.iter()))
    }

    /// The names of `entries`, in the order of their keys.
    fn sorted_names<'a>(
        &self,
        entries: impl Iterator<Item = (&'a NameKey, &'a Identity)>,
    ) -> Vec<UserName> {
        let mut list: Vec<_> = entries.collect();
        list.sort_by(|a, b| a.0.cmp(b.0));
        list.into_iter()
            .filter_map(|(_, who)| self.present.get(who).map(|p| p.name.clone()))
            .collect()
    }

    /// Who is away and who is busy: what everyone is told.
    pub(super) fn statuses(&self) -> Statuses {
        let names = |keep: fn(&Present) -> bool| {
            self.online_agents().filter(|(_, p)| keep(p)).map(|(_, p)| p.name.clone()).collect()
        };
        Statuses { away: names(Present::is_away), busy: names(Present::is_busy) }
    }

    /// Tells everyone logged in who is away and who is busy, each list if it changed from
    /// `before`; and a `newcomer` (a login's connection, which starts from none) the lists
    /// that did not change and are not empty.
    pub(super) fn push_statuses_if_changed(
        &self,
        before: &Statuses,
        newcomer: Option<ConnId>,
        out: &mut Vec<Outbound>,
    ) {
        let now = self.statuses();
        let lists = [
            (now.away, &before.away, ServerEvent::Away as fn(Vec<UserName>) -> ServerEvent),
            (now.busy, &before.busy, ServerEvent::Busy),
        ];
        for (list, was, event) in lists {
            if &list != was {
                self.push_to_everyone(event(list), out);
            } else if let Some(to) = newcomer.filter(|_| !list.is_empty()) {
                out.push(Outbound { to, event: event(list) });
            }
        }
    }

    fn push_to_everyone(&self, event: ServerEvent, out: &mut Vec<Outbound>) {
        out.extend(
            self.present
                .values()
                .flat_map(|p| p.conns.iter())
                .map(|&to| Outbound { to, event: event.clone() }),
        );
    }
}

/// The agents who are away (chosen, or every tab hidden a while) and those who said they
/// are busy, each list sorted.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Statuses {
    away: Vec<UserName>,
    busy: Vec<UserName>,
}
