//! What admins do over the socket: manage the team (agent accounts) and the canned replies.
//!
//! Owns: the admin check for these requests, each request's work and its acknowledgement.
//! Must not: let anyone but an admin through (the hub says who is one).

use std::future::Future;

use socketioxide::extract::AckSender;

use super::desk::internal;
use super::live::Item;
use super::shared::Shared;
use crate::auth;
use crate::clock::now_ms;
use crate::hub::{Command, ConnId};
use crate::model::AgentKey;
use crate::store::StoreError;
use app::protocol::Problem;
use app::protocol::{AdminAck, AgentRef, CannedRef, CannedReply, MessageText, NewAgent, UserName};

/// Runs an admin's request: refused unless `conn` is an admin's, the error told to them
/// and in the optional acknowledgement (`{ok}` or `{ok: false, error}`).
pub(super) async fn as_admin<F: AdminWork>(
    shared: &Shared,
    conn: ConnId,
    ack: AckSender,
    payload: Result<F::Input, Problem>,
    work: F,
) {
    let done = async {
        let payload = payload?;
        let me = shared.desk.live().hub.admin(conn)?;
        work.run(shared, me, payload).await
    };
    let reply = match done.await {
        Ok(()) => AdminAck::done(),
        Err(problem) => {
            shared.desk.refuse(conn, problem.clone());
            AdminAck::failed(problem)
        }
    };
    if let Err(e) = ack.send(&reply) {
        tracing::debug!(conn = conn.0, error = %e, "admin ack");
    }
}

/// One kind of admin request.
pub(super) trait AdminWork {
    type Input;
    fn run(
        self,
        shared: &Shared,
        me: AgentKey,
        input: Self::Input,
    ) -> impl Future<Output = Result<(), Problem>>;
}

/// Adds an agent account.
pub(super) struct AddAgent;
impl AdminWork for AddAgent {
    type Input = NewAgent;
    async fn run(
        self,
        shared: &Shared,
        _me: AgentKey,
        NewAgent { name, password, admin }: NewAgent,
    ) -> Result<(), Problem> {
        let name = UserName::parse(&name)?;
        auth::check_new_password(&password)?;
        let hash =
            shared.gate.hashing(move || auth::hash_password(&password)).await?.map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                Problem::Internal
            })?;
        match shared.desk.store.add_agent(&name, &hash, admin).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(Problem::AgentExists(name.to_string())),
            Err(e) => return Err(internal("adding an agent")(e)),
        }
        tracing::info!(agent = %name, admin, "agent added");
        shared.desk.send_team(None).await;
        Ok(())
    }
}

/// Removes an agent account (not one's own); the agent is logged out at once.
pub(super) struct RemoveAgent;
impl AdminWork for RemoveAgent {
    type Input = AgentRef;
    async fn run(
        self,
        shared: &Shared,
        me: AgentKey,
        AgentRef { name }: AgentRef,
    ) -> Result<(), Problem> {
        let name =
            UserName::parse(&name).map_err(|_| Problem::UnknownAgent(name.trim().to_owned()))?;
        let key = AgentKey::of(&name);
        if key == me {
            return Err(Problem::RemoveSelf);
        }
        let gone = match shared.desk.store.remove_agent(&name).await {
            Ok(gone) => gone,
            Err(StoreError::NotFound(_)) => return Err(Problem::UnknownAgent(name.to_string())),
            Err(e) => return Err(internal("removing an agent")(e)),
        };
        // Logged out at once (their sockets, on every node, are closed); what they had
        // goes back to the queue.
        let (_, changed) = shared
            .desk
            .apply_one(Item::Hub(Command::Retire { agent: key, now_ms: now_ms() }))
            .await;
        shared.desk.keep(changed).await;
        tracing::info!(
            agent = %name,
            api_tokens = gone.tokens,
            webhooks = gone.webhooks,
            "agent removed, with the API tokens and webhooks they made"
        );
        shared.desk.send_team(None).await;
        Ok(())
    }
}

/// Adds or replaces a canned reply.
pub(super) struct SetCanned;
impl AdminWork for SetCanned {
    type Input = CannedReply;
    async fn run(self, shared: &Shared, _me: AgentKey, reply: CannedReply) -> Result<(), Problem> {
        if !CannedReply::valid_shortcut(&reply.shortcut) {
            return Err(Problem::BadShortcut);
        }
        let text = MessageText::parse(&reply.text)?;
        let reply = CannedReply { shortcut: reply.shortcut, text: text.as_str().to_owned() };
        shared.desk.store.set_canned(&reply).await.map_err(internal("saving a canned reply"))?;
        shared.desk.send_canned(None).await;
        Ok(())
    }
}

/// Removes a canned reply (done if there was none).
pub(super) struct RemoveCanned;
impl AdminWork for RemoveCanned {
    type Input = CannedRef;
    async fn run(
        self,
        shared: &Shared,
        _me: AgentKey,
        CannedRef { shortcut }: CannedRef,
    ) -> Result<(), Problem> {
        match shared.desk.store.remove_canned(&shortcut).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(internal("removing a canned reply")(e)),
        }
        shared.desk.send_canned(None).await;
        Ok(())
    }
}
