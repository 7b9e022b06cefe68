//! Logging in: who a connection is (an agent by password or session cookie, a customer by
//! resume token, a host site's signed user, or a new customer), and what they are sent
//! once in.
//!
//! Owns: establishing and resuming identities, agent sessions and their tokens. A known
//! participant joins through the [`pipeline`](super::pipeline) (which sends their
//! catch-up); a new customer is numbered (and, if a host site vouched for them, stored) by
//! the [`registrar`](super::registrar); an anonymous one who has not written yet resumes
//! from the hub. Must not:
//! decide whether a name is free or who gets which conversation (the hub does).

use std::net::IpAddr;

use super::desk::internal;
use super::live::{Item, PasswordCheck};
use super::pipeline::Job;
use super::registrar::Registration;
use super::shared::Shared;
use crate::auth;
use crate::clock::now_ms;
use crate::hub::{ConnId, Login, Outcome};
use crate::metrics;
use crate::model::{name_key, AgentKey, Identity};
use crate::store::{AgentRecord, SessionOwner};
use app::protocol::Problem;
use app::protocol::{LoginIntent, LoginPayload, OfficeStatus, Role, ServerEvent, UserName};

/// The hash of the session token a connection logged in with: for `logout`, and for
/// finding every socket of a session that ended (`Item::EndSession`).
#[derive(Clone)]
pub(super) struct SessionHash(pub String);

/// Logs connection `conn` (from `ip`, whose handshake carried the session `cookie`) in,
/// or tells it why not. Returns the outcome. Once the hub logs it in, its socket carries the
/// session's hash ([`SessionHash`], set by `Live::apply`).
pub(super) async fn log_in(
    shared: &Shared,
    conn: ConnId,
    ip: Option<IpAddr>,
    payload: Result<LoginPayload, Problem>,
    cookie: Option<String>,
) -> Result<Outcome, Problem> {
    if let Err(problem) = shared.gate.may_log_in(ip) {
        metrics::login_refused(&problem);
        return shared.desk.refuse_login(conn, problem);
    }
    let intent = payload.and_then(LoginPayload::into_intent);
    let role = intent.as_ref().map(|i| i.role).ok();
    let outcome = match intent {
        Err(problem) => shared.desk.refuse_login(conn, problem),
        Ok(mut intent) => {
            let since = intent.since.clone();
            let status = intent.status;
            let visit = std::mem::take(&mut intent.visit);
            // Believed once logged in: the identity's signature covers them. A site that
            // signs none now says there are none (what it signed before goes).
            let attributes = match &intent.identity {
                Some(_) => Some(intent.attributes.take().unwrap_or_default()),
                None => None,
            };
            match establish(shared, conn, ip, intent, cookie).await {
                Err(problem) => shared.desk.refuse_login(conn, problem),
                Ok((mut entry, hash)) => {
                    if let Entry::Known(login) = &mut entry {
                        login.status = status;
                        login.token_hash = Some(hash.clone());
                    }
                    let (agent, admin) = match &entry {
                        Entry::Known(login) => {
                            (matches!(login.who, Identity::Agent(_)), login.admin)
                        }
                        Entry::New { .. } => (false, false),
                    };
                    let outcome = match entry {
                        Entry::New { name, token, external } => {
                            shared
                                .register(|reply| Registration {
                                    conn,
                                    name,
                                    token,
                                    token_hash: hash,
                                    external,
                                    visit: visit.clone(),
                                    reply,
                                })
                                .await
                        }
                        Entry::Known(login) => {
                            shared.pipeline(|reply| Job::Join { login, since, reply }).await
                        }
                    };
                    if outcome == Ok(Outcome::LoggedIn) {
                        // Who they turned out to be (a session cookie makes an agent of a
                        // bare login).
                        metrics::logged_in(if agent { Role::Agent } else { Role::Customer });
                        welcome(shared, conn, agent, admin).await;
                        record_visit(shared, conn, &visit, attributes.as_ref()).await;
                    }
                    outcome
                }
            }
        }
    };
    tracing::info!(conn = conn.0, ?role, ?outcome, "login");
    if let Err(problem) = &outcome {
        metrics::login_refused(problem);
    }
    outcome
}

/// What someone just logged in is sent besides their conversations: customers the office
/// hours, agents the canned replies, admins the team.
async fn welcome(shared: &Shared, conn: ConnId, agent: bool, admin: bool) {
    if let (false, Some(hours)) = (agent, &shared.office_hours) {
        let office = OfficeStatus { open: hours.is_open(now_ms()), hours: hours.to_string() };
        shared.desk.live().emit(conn, &ServerEvent::Office(office));
    }
    if agent {
        shared.desk.send_canned(Some(conn)).await;
    }
    if admin {
        shared.desk.send_team(Some(conn)).await;
    }
    super::rating::welcome(shared, conn, agent, admin).await;
}

/// Keeps what a stored customer's browser said as they logged in (and what their host
/// site signed) on their profile. The login stands either way: a failure is logged.
async fn record_visit(
    shared: &Shared,
    conn: ConnId,
    visit: &app::protocol::VisitFacts,
    attributes: Option<&std::collections::BTreeMap<String, String>>,
) {
    // An anonymous customer not stored yet has theirs in the hub (stored with them).
    let Some(customer) = shared.desk.live().hub.stored_customer(conn) else { return };
    if let Err(e) = shared.desk.store.record_visit(customer, visit, attributes, now_ms()).await {
        tracing::error!(error = %e, customer = customer.0, "recording a customer's visit failed");
    }
}

/// Who is logging in, as far as [`establish`] can tell.
enum Entry {
    /// Someone known: an agent, or a customer who resumed.
    Known(Login),
    /// A new customer, for the [`registrar`](super::registrar) to number (and to store, with
    /// the host site's user id, when the site vouched for them).
    New { name: UserName, token: String, external: Option<String> },
}

/// Works out who is logging in: the owner of a valid resume token, an agent with the
/// right password or (given neither) the session cookie the handshake carried, or a new
/// customer. Returns who it is and their session's token hash.
async fn establish(
    shared: &Shared,
    conn: ConnId,
    ip: Option<IpAddr>,
    intent: LoginIntent,
    cookie: Option<String>,
) -> Result<(Entry, String), Problem> {
    let LoginIntent { name, role, password, resume, identity, .. } = intent;
    let now = now_ms();
    if let Some(identity) = identity {
        // A customer the host site vouches for: the same record whenever they come back,
        // from any device.
        let name = name.filter(|_| role == Role::Customer).ok_or(Problem::IdentityInvalid)?;
        let secret = shared.widget_secret.as_deref().ok_or(Problem::IdentityNotAccepted)?;
        // The expiry is part of what is signed (the intent requires one): a forged
        // identity is told only that it is not signed, whatever its expiry.
        let expires = identity.expires.ok_or(Problem::IdentityInvalid)?;
        let signed = identity.sig.as_deref().is_some_and(|sig| {
            let user = auth::HostUser {
                id: &identity.id,
                name: name.as_str(),
                expires,
                attributes: identity.attributes.as_deref(),
            };
            auth::host_identity_signed(secret, user, sig)
        });
        if !signed {
            tracing::warn!(?ip, "refused a host identity with a missing or wrong signature");
            return Err(Problem::IdentityInvalid);
        }
        if let Err(problem) = auth::host_identity_expiry(expires, now) {
            tracing::info!(?ip, ?problem, "refused a host identity out of its time");
            return Err(problem);
        }
        let (token, hash) = new_token()?;
        let store = &shared.desk.store;
        return match store
            .external_customer(&identity.id)
            .await
            .map_err(internal("looking up a host's user"))?
        {
            Some(customer) => {
                store
                    .create_customer_session(customer, &hash, now)
                    .await
                    .map_err(internal("opening a session"))?;
                let (login, hash) = resumed(shared, conn, &token, Role::Customer, now)
                    .await?
                    .ok_or(Problem::Internal)?;
                Ok((Entry::Known(login), hash))
            }
            None => Ok((Entry::New { name, token, external: Some(identity.id) }, hash)),
        };
    }
    let password_given = password.as_deref().is_some_and(|p| !p.is_empty());
    if let (Role::Agent, None, false, Some(token)) = (role, &resume, password_given, cookie) {
        let Some((mut login, hash)) = resumed(shared, conn, &token, role, now).await? else {
            return Err(Problem::SessionExpired);
        };
        // The token stays in its cookie, out of reach of the page's scripts.
        login.resume = None;
        return Ok((Entry::Known(login), hash));
    }
    if let Some(token) = resume {
        if let Some((login, hash)) = resumed(shared, conn, &token, role, now).await? {
            return Ok((Entry::Known(login), hash));
        }
        // Unknown or lapsed: a customer who gave a name starts afresh, an agent who
        // gave a password logs in with it; anyone else must log in again.
        let fresh_possible = match role {
            Role::Customer => name.is_some(),
            Role::Agent => name.is_some() && password_given,
        };
        if !fresh_possible {
            return Err(Problem::SessionExpired);
        }
    }
    let name = name.ok_or(Problem::NameEmpty)?;
    match role {
        Role::Customer => {
            let (token, hash) = new_token()?;
            Ok((Entry::New { name, token, external: None }, hash))
        }
        Role::Agent => {
            let record = check_agent(shared, ip, name, password).await?;
            let (token, hash) = open_agent_session(shared, &record).await?;
            Ok((Entry::Known(agent_login(shared, conn, record, token).await?), hash))
        }
    }
}

/// The login a resume token stands for, if it is valid for someone of `role`.
async fn resumed(
    shared: &Shared,
    conn: ConnId,
    token: &str,
    role: Role,
    now: u64,
) -> Result<Option<(Login, String)>, Problem> {
    let Some(hash) = auth::token_hash(token) else { return Ok(None) };
    // A customer who has not written is not stored yet: the hub knows them (asked first: it
    // lets go of them only once they are stored).
    if role == Role::Customer {
        if let Some(meta) = shared.desk.live().hub.unsaved_login(&hash) {
            return Ok(Some((Login::customer(conn, meta, token.to_owned()), hash)));
        }
    }
    let owner = shared
        .desk
        .store
        .resume(&hash, now, auth::SESSION_IDLE)
        .await
        .map_err(internal("resuming a session"))?;
    let login = match (owner, role) {
        (Some(SessionOwner::Customer { id, name, conversation }), Role::Customer) => Login {
            who: Identity::Customer(id),
            name,
            ..Login::customer(conn, conversation, token.to_owned())
        },
        (Some(SessionOwner::Agent(record)), Role::Agent) => {
            agent_login(shared, conn, record, token.to_owned()).await?
        }
        // A token of the other kind is no token for this login.
        _ => return Ok(None),
    };
    Ok(Some((login, hash)))
}

/// The login of an agent account, with the conversations their console lists.
async fn agent_login(
    shared: &Shared,
    conn: ConnId,
    record: AgentRecord,
    token: String,
) -> Result<Login, Problem> {
    let key = AgentKey::of(&record.name);
    let conversations = shared
        .desk
        .store
        .agent_conversations(&key, record.admin, app::protocol::CONVERSATIONS_AT_LOGIN)
        .await
        .map_err(internal("listing an agent's conversations"))?;
    Ok(Login {
        conn,
        who: Identity::Agent(key),
        name: record.name,
        resume: Some(token),
        conversations,
        admin: record.admin,
        status: None,
        token_hash: None,
    })
}

/// A new session token and the hash to store for it.
fn new_token() -> Result<(String, String), Problem> {
    auth::new_token().map_err(|e| {
        tracing::error!(error = %e, "cannot make a session token");
        Problem::Internal
    })
}

/// Starts a session for an agent whose password was checked: its token and hash.
pub(super) async fn open_agent_session(
    shared: &Shared,
    record: &AgentRecord,
) -> Result<(String, String), Problem> {
    let (token, hash) = new_token()?;
    let key = AgentKey::of(&record.name);
    shared
        .desk
        .store
        .create_agent_session(&key, &hash, now_ms())
        .await
        .map_err(internal("creating an agent session"))?;
    Ok((token, hash))
}

/// An agent logs in with the password of their account; the account's spelling of the
/// name is the one shown. After a few wrong passwords for a name from one address, each
/// further try waits longer.
pub(super) async fn check_agent(
    shared: &Shared,
    ip: Option<IpAddr>,
    name: UserName,
    password: Option<String>,
) -> Result<AgentRecord, Problem> {
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(Problem::AgentPasswordMissing);
    };
    let key = name_key(name.as_str());
    shared.gate.may_try_password(ip, &key)?;
    let record = shared.desk.store.agent(&name).await.map_err(internal("looking up an agent"))?;
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    let ok = shared.gate.hashing(move || auth::verify_password(&password, hash.as_deref())).await?;
    let ok = ok && record.is_some();
    if let Some(ip) = ip {
        // Counted on every node (through the cluster's stream when there is one): a client
        // spreading its guesses over the nodes meets one backoff, not one per node.
        let at_ms = crate::clock::now_ms();
        let check = PasswordCheck { ip, key, ok, at_ms };
        shared.desk.apply_quietly(Item::PasswordChecked(check)).await;
    }
    match record {
        Some(record) if ok => Ok(record),
        _ => Err(Problem::WrongPassword),
    }
}
