//! Satisfaction ratings: a customer rates a resolution of their conversation; admins turn
//! the asking on or off for the desk.
//!
//! Owns: `rate` (checked by the hub's rule for raters, [`crate::hub::Hub::rater`], before
//! anything else; stored once per resolution, then passed to the agents who see the
//! conversation and the customer's tabs through the hub), `desk_settings` from an admin,
//! and what a login is told of both ([`welcome`]). Must not: hold the live state's lock
//! across the store's `await`, or word anything.

use std::sync::Arc;

use socketioxide::extract::{AckSender, State};

use super::admin::{as_admin, AdminWork};
use super::desk::internal;
use super::live::{Item, Told};
use super::payload::Payload;
use super::shared::Shared;
use super::turnstile::Turn;
use crate::clock::now_ms;
use crate::hub::{Command, ConnId};
use crate::model::AgentKey;
use crate::store::StoreError;
use app::protocol::{DeskSettings, Problem, RateRequest, Rating, ServerEvent};

/// `rate`: the customer's rating, passed on as `rating`; or an `error`.
pub(super) async fn on_rate(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<RateRequest>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let rated = async {
        let request = payload?;
        shared.desk.live().hub.rater(conn, request.conversation, request.seq)?;
        let store = &shared.desk.store;
        if !shared.desk.settings().await?.csat {
            return Err(Problem::RatingsOff);
        }
        let (score, comment) = request.check()?;
        let rating = Rating {
            conversation: request.conversation,
            seq: request.seq,
            score,
            comment,
            ts: now_ms(),
        };
        match store.add_rating(&rating).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(Problem::AlreadyRated),
            Err(e) => return Err(internal("storing a rating")(e)),
        }
        tracing::info!(conversation = rating.conversation.0, score, "rated");
        // Stored: passed on to whoever is online. Should that fail, the rating is kept (and
        // comes with the history); the customer is not told of an error.
        let id = rating.conversation.0;
        if let (Err(problem), _) = shared.desk.apply_one(Item::Hub(Command::Rated(rating))).await {
            tracing::error!(?problem, conversation = id, "passing a stored rating on failed");
        }
        Ok(())
    };
    if let Err(problem) = rated.await {
        shared.desk.refuse(conn, problem);
    }
}

/// `desk_settings` from an admin: kept, and told to everyone connected.
pub(super) async fn on_desk_settings(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    Payload(payload): Payload<DeskSettings>,
) {
    let _served = turn.ticket.wait().await;
    as_admin(&shared, turn.info.conn, ack, payload, SetDeskSettings).await;
}

/// Changes the desk's settings.
struct SetDeskSettings;
impl AdminWork for SetDeskSettings {
    type Input = DeskSettings;
    async fn run(
        self,
        shared: &Shared,
        me: AgentKey,
        settings: DeskSettings,
    ) -> Result<(), Problem> {
        shared
            .desk
            .store
            .set_desk_settings(settings)
            .await
            .map_err(internal("keeping the desk's settings"))?;
        tracing::info!(admin = me.as_str(), csat = settings.csat, "desk settings changed");
        // Every node keeps the settings it was last told: a change that could not be told is
        // the admin's to hear of (it is stored, and they may say it again).
        let (told, _) = shared.desk.apply_one(Item::Tell(Told::Settings(settings))).await;
        told.map(|_| ())
    }
}

/// What someone just logged in is told of ratings: customers and admins the desk's
/// settings; a customer whose conversation is resolved and not rated at that resolution,
/// that it is (the page asks them). A failure is logged; the login stands.
pub(super) async fn welcome(shared: &Shared, conn: ConnId, agent: bool, admin: bool) {
    if agent && !admin {
        return;
    }
    let store = &shared.desk.store;
    // A failure was logged; the login stands.
    let Ok(settings) = shared.desk.settings().await else { return };
    shared.desk.live().emit(conn, &ServerEvent::DeskSettings(settings));
    let resolution = shared.desk.live().hub.resolution(conn);
    let Some(resolved) = resolution.filter(|_| settings.csat) else { return };
    match store.ratings(resolved.conversation, 1).await {
        Ok(last) if last.iter().any(|r| r.seq == resolved.seq) => {}
        Ok(_) => shared.desk.live().emit(conn, &ServerEvent::Resolved(resolved)),
        Err(e) => {
            tracing::error!(error = %e, conversation = resolved.conversation.0, "reading ratings failed")
        }
    }
}
