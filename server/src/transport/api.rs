//! The REST API (`/api/v1`, JSON), for the programs a desk connects to it, with a token an
//! admin made in the console ([`super::tokens`]).
//!
//! Owns: reading each request (its token, path, query and body), answering with the API's
//! resources ([`app::protocol::ApiConversation`] …) or an [`ApiError`], and the OpenAPI
//! document generated from these handlers. Whether a token sees a conversation is the hub's
//! one rule ([`super::requester::seen`]; a token sees every one, as an admin does), asked
//! after the conversation is learnt from storage; one that does not exist is the same 404.
//! Messages go through the pipeline like any other (stored, then delivered live to whoever
//! sees the conversation, then answered); resolving and transferring are hub commands.
//! Must not: decide who receives what (the hub does) or talk SQL (the store does).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::OpenApi;

use super::desk::internal;
use super::live::Item;
use super::pipeline::{Answer, Job};
use super::requester::{api_requester, seen, Requester};
use super::shared::Shared;
use crate::clock::now_ms;
use crate::hub::{Command, Settle, Writer};
use crate::model::{skeleton, AgentKey, ConversationMeta};
use crate::resources::{conversation, message};
use app::protocol::{
    ApiAttachment, ApiAuthor, ApiConversation, ApiConversations, ApiCustomer, ApiCustomerRef,
    ApiCustomerUpdate, ApiError, ApiMessage, ApiMessages, ApiNewMessage, ApiSearch, ApiTokenInfo,
    ApiTransfer, ClientMsgId, ConversationId, MessageId, MessageText, Problem, ProfileUpdate,
    SearchQuery, Status, UserName, API_OPENAPI_PATH, API_PAGE_MAX,
};

/// The API's routes.
pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(API_OPENAPI_PATH, get(openapi))
        .route("/api/v1/conversations", get(list))
        .route("/api/v1/conversations/{id}", get(one))
        .route("/api/v1/conversations/{id}/messages", get(messages).post(send))
        .route("/api/v1/conversations/{id}/resolve", post(resolve))
        .route("/api/v1/conversations/{id}/transfer", post(transfer))
        .route("/api/v1/conversations/{id}/customer", get(customer).patch(update_customer))
        .route("/api/v1/search", get(search))
        .with_state(shared)
}

/// The OpenAPI document, from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Live chat REST API",
        description = "Conversations, messages and customers of the support desk. Every request carries a token an admin made in the console (Integrations → API tokens) as `Authorization: Bearer <token>`; a read-only token may not send, resolve, transfer or change customers. Each token may make 20 requests a second (100 at once) on each server; beyond that, 429 with Retry-After."
    ),
    paths(list, one, messages, send, resolve, transfer, customer, update_customer, search),
    components(schemas(
        ApiConversation,
        ApiCustomerRef,
        ApiConversations,
        ApiMessage,
        ApiAuthor,
        ApiAttachment,
        ApiMessages,
        ApiNewMessage,
        ApiTransfer,
        ApiCustomer,
        ApiCustomerUpdate,
        ApiSearch,
        ApiError
    )),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

/// Declares the bearer token every operation needs.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "token",
            Vec::<String>::new(),
        )]);
    }
}

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// An API answer: the resource, or the refusal.
type Answered<T> = Result<Json<T>, Refused>;

/// A refusal, as the API words it: the status that fits, and an [`ApiError`].
struct Refused(Problem);

impl From<Problem> for Refused {
    fn from(problem: Problem) -> Self {
        Self(problem)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self.0 {
            Problem::ApiTokenInvalid => StatusCode::UNAUTHORIZED,
            Problem::ApiReadOnly => StatusCode::FORBIDDEN,
            Problem::UnknownConversation => StatusCode::NOT_FOUND,
            Problem::SlowDown(_) => StatusCode::TOO_MANY_REQUESTS,
            Problem::NotSaved => StatusCode::SERVICE_UNAVAILABLE,
            Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let wait = match self.0 {
            Problem::SlowDown(s) => Some(s),
            _ => None,
        };
        let unauthorized = status == StatusCode::UNAUTHORIZED;
        let mut response = (status, Json(ApiError::from(self.0))).into_response();
        if unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = wait {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

/// The caller, refused unless their token may write.
async fn writer(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<(Requester, ApiTokenInfo), Problem> {
    let (requester, token) = api_requester(shared, headers).await?;
    if token.write {
        Ok((requester, token))
    } else {
        Err(Problem::ApiReadOnly)
    }
}

/// A conversation id from the path; one that cannot be one does not exist.
fn conversation_id(path: Result<Path<u64>, PathRejection>) -> Result<ConversationId, Problem> {
    path.map(|Path(id)| ConversationId(id)).map_err(|_| Problem::UnknownConversation)
}

/// A request's body or query, or `Malformed` naming what could not be read.
fn read<T>(what: &str, read: Result<T, impl std::fmt::Display>) -> Result<T, Problem> {
    read.map_err(|e| {
        tracing::debug!(error = %e, "an API request that could not be read");
        Problem::Malformed(what.to_owned())
    })
}

/// Conversation `id` as it now stands, if the requester sees it (learnt from storage first).
async fn visible(
    shared: &Shared,
    requester: &Requester,
    id: ConversationId,
) -> Result<ConversationMeta, Problem> {
    seen(shared, requester, id).await?;
    let live = shared.desk.live();
    live.hub.seen_by(&requester.who, requester.admin, id).cloned()
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<Status>,
    after: Option<String>,
    limit: Option<u32>,
}

/// A page size asked for, within 1 and [`API_PAGE_MAX`].
fn page_size(limit: Option<u32>) -> u32 {
    limit.unwrap_or(API_PAGE_MAX).clamp(1, API_PAGE_MAX)
}

/// Conversations, most recently active first.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    params(
        ("status" = Option<String>, Query, description = "Only those that are `new`, `queued`, `open` or `resolved`"),
        ("after" = Option<String>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<u32>, Query, description = "At most this many (1–100, 100 if not given)")
    ),
    responses(
        (status = 200, body = ApiConversations),
        (status = 401, body = ApiError, description = "No token, or one that does not work")
    )
)]
async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Answered<ApiConversations> {
    let (requester, token) = api_requester(&shared, &headers).await?;
    let Query(query) = read("query", query)?;
    let after = match query.after.as_deref() {
        None => None,
        Some(cursor) => Some(read("after", parse_cursor(cursor).ok_or("not a page's `next`"))?),
    };
    let limit = page_size(query.limit);
    let rows = shared
        .desk
        .store
        .agent_conversations_after(&AgentKey::token(token.id), true, after, limit)
        .await
        .map_err(internal("listing conversations for the API"))?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|(m, at)| format!("{at}.{}", m.id.0)))
        .flatten();
    let live = shared.desk.live();
    let conversations = rows
        .iter()
        .filter_map(|(stored, at)| {
            let meta = live.hub.found_by(&requester.who, requester.admin, stored)?;
            Some(conversation(meta, Some(*at)))
        })
        .filter(|c| query.status.is_none_or(|s| c.status == s))
        .collect();
    Ok(Json(ApiConversations { conversations, next }))
}

/// A page's `next` (`<last activity>.<id>`), read back.
fn parse_cursor(cursor: &str) -> Option<(u64, ConversationId)> {
    let (at, id) = cursor.split_once('.')?;
    Some((at.parse().ok()?, ConversationId(id.parse().ok()?)))
}

/// One conversation.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    params(("id" = u64, Path, description = "The conversation's number")),
    responses(
        (status = 200, body = ApiConversation),
        (status = 404, body = ApiError, description = "No such conversation")
    )
)]
async fn one(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Answered<ApiConversation> {
    let (requester, _) = api_requester(&shared, &headers).await?;
    let meta = visible(&shared, &requester, conversation_id(id)?).await?;
    Ok(Json(conversation(&meta, None)))
}

#[derive(Deserialize)]
struct PageQuery {
    before: Option<u64>,
    limit: Option<u32>,
}

/// A conversation's messages, oldest first: the newest page, or the one before `before`.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/messages",
    params(
        ("id" = u64, Path, description = "The conversation's number"),
        ("before" = Option<u64>, Query, description = "Messages before this `seq` (older ones)"),
        ("limit" = Option<u32>, Query, description = "At most this many (1–100, 100 if not given)")
    ),
    responses(
        (status = 200, body = ApiMessages),
        (status = 404, body = ApiError, description = "No such conversation")
    )
)]
async fn messages(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Answered<ApiMessages> {
    let (requester, _) = api_requester(&shared, &headers).await?;
    let id = conversation_id(id)?;
    let Query(query) = read("query", query)?;
    visible(&shared, &requester, id).await?;
    let page = shared
        .desk
        .store
        .messages_before(id, query.before, page_size(query.limit))
        .await
        .map_err(internal("reading messages for the API"))?;
    Ok(Json(ApiMessages { messages: page.messages.iter().map(message).collect(), more: page.more }))
}

/// Sends a message as an agent account or a bot: stored, then delivered live to the customer
/// and the agents who see the conversation, then answered.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/messages",
    params(("id" = u64, Path, description = "The conversation's number")),
    request_body = ApiNewMessage,
    responses(
        (status = 201, body = ApiMessage, description = "Stored and sent"),
        (status = 200, body = ApiMessage, description = "Sent before with this `client_id`: the message as stored then"),
        (status = 403, body = ApiError, description = "A read-only token"),
        (status = 404, body = ApiError, description = "No such conversation"),
        (status = 422, body = ApiError, description = "Empty or too long, or no such agent")
    )
)]
async fn send(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<ApiNewMessage>, JsonRejection>,
) -> Result<Response, Refused> {
    let (requester, token) = writer(&shared, &headers).await?;
    let id = conversation_id(id)?;
    let customer = visible(&shared, &requester, id).await?.customer_name;
    let Json(body) = read("body", body)?;
    let text = MessageText::parse(&body.text)?;
    let client_id = body.client_id.as_deref().map(ClientMsgId::parse).transpose()?;
    let writer = match (body.agent.as_deref(), body.bot.as_deref()) {
        (Some(agent), None) => Writer::Agent(shared.desk.account(agent).await?),
        (None, Some(bot)) => {
            Writer::Bot { name: bot_name(&shared, bot, &customer).await?, token: token.id }
        }
        _ => return Err(Problem::ApiWriter.into()),
    };
    shared.desk.save_unsaved(id).await?;
    let planned = shared.desk.live().hub.plan_written(&writer, id, text, client_id, now_ms())?;
    let (answer, stored) = Answer::http(shared.drain.sending());
    let joins = planned.joins.clone();
    if shared.queue(Job::Send { message: planned, joins, answer }).await.is_err() {
        tracing::error!(
            conversation = id.0,
            "the message pipeline is gone: an API message was refused"
        );
        return Err(Problem::Internal.into());
    }
    let appended = stored.await.map_err(|_| Problem::Internal)??;
    // Who sent what through which token, for the admins who wonder.
    tracing::info!(
        token = token.id,
        conversation = id.0,
        seq = appended.message.seq,
        from = %appended.message.from,
        duplicate = appended.duplicate,
        "a message sent through the API"
    );
    let status = if appended.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(message(&appended.message))).into_response())
}

/// A bot's name, unless it looks like an agent's (any account's, as customers' names are
/// checked) or like the conversation's customer's: a bot speaks for nobody else.
async fn bot_name(shared: &Shared, raw: &str, customer: &UserName) -> Result<UserName, Problem> {
    let name = UserName::parse(raw)?;
    let looks = skeleton(name.as_str());
    let agents = shared.desk.store.agents().await.map_err(internal("listing agents"))?;
    let taken = agents.iter().map(|a| &a.name).chain([customer]);
    if taken.into_iter().any(|n| skeleton(n.as_str()) == looks) {
        return Err(Problem::NameReserved);
    }
    Ok(name)
}

/// Resolves a conversation, whoever has it (the customer is told, and may rate it).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/resolve",
    params(("id" = u64, Path, description = "The conversation's number")),
    responses(
        (status = 200, body = ApiConversation, description = "Resolved (or it was already)"),
        (status = 403, body = ApiError, description = "A read-only token"),
        (status = 404, body = ApiError, description = "No such conversation")
    )
)]
async fn resolve(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Answered<ApiConversation> {
    let (requester, _) = writer(&shared, &headers).await?;
    settle(&shared, &requester, conversation_id(id)?, Settle::Resolve).await
}

/// Hands a conversation to an agent account, with a note for them.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/transfer",
    params(("id" = u64, Path, description = "The conversation's number")),
    request_body = ApiTransfer,
    responses(
        (status = 200, body = ApiConversation, description = "The agent has it"),
        (status = 403, body = ApiError, description = "A read-only token"),
        (status = 404, body = ApiError, description = "No such conversation"),
        (status = 422, body = ApiError, description = "No such agent, or the note is too long")
    )
)]
async fn transfer(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<ApiTransfer>, JsonRejection>,
) -> Answered<ApiConversation> {
    let (requester, _) = writer(&shared, &headers).await?;
    let id = conversation_id(id)?;
    let Json(body) = read("body", body)?;
    let to = shared.desk.account(&body.agent).await?;
    let note = body.note.unwrap_or_default();
    settle(&shared, &requester, id, Settle::Transfer { to, note }).await
}

/// Resolves or transfers a conversation the requester sees, and stores the change.
async fn settle(
    shared: &Shared,
    requester: &Requester,
    id: ConversationId,
    settle: Settle,
) -> Answered<ApiConversation> {
    seen(shared, requester, id).await?;
    let (outcome, changed) =
        shared.desk.apply_one(Item::Hub(Command::Settle { conversation: id, settle })).await;
    shared.desk.keep(changed).await;
    outcome?;
    let meta = visible(shared, requester, id).await?;
    Ok(Json(conversation(&meta, None)))
}

/// What is known of a conversation's customer.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/customer",
    params(("id" = u64, Path, description = "The conversation's number")),
    responses(
        (status = 200, body = ApiCustomer),
        (status = 404, body = ApiError, description = "No such conversation")
    )
)]
async fn customer(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Answered<ApiCustomer> {
    let (requester, _) = api_requester(&shared, &headers).await?;
    let meta = visible(&shared, &requester, conversation_id(id)?).await?;
    Ok(Json(customer_of(&shared, meta).await?))
}

async fn customer_of(shared: &Shared, meta: ConversationMeta) -> Result<ApiCustomer, Problem> {
    let record = super::profile::record(shared, meta.customer, meta.unsaved).await?;
    Ok(ApiCustomer {
        id: meta.customer.0,
        name: meta.customer_name.to_string(),
        email: record.email.map(|e| e.as_str().to_owned()),
        note: record.note.map(|n| n.text),
        page: record.page,
        language: record.language,
        time_zone: record.time_zone,
        user_id: record.user_id,
        attributes: record.attributes,
        first_seen: record.first_seen,
    })
}

/// Changes a customer's e-mail address or the agents' note on them.
#[utoipa::path(
    patch,
    path = "/api/v1/conversations/{id}/customer",
    params(("id" = u64, Path, description = "The conversation's number")),
    request_body = ApiCustomerUpdate,
    responses(
        (status = 200, body = ApiCustomer, description = "As it now stands"),
        (status = 403, body = ApiError, description = "A read-only token"),
        (status = 404, body = ApiError, description = "No such conversation"),
        (status = 422, body = ApiError, description = "Not an e-mail address, or the note is too long")
    )
)]
async fn update_customer(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<ApiCustomerUpdate>, JsonRejection>,
) -> Answered<ApiCustomer> {
    let (requester, token) = writer(&shared, &headers).await?;
    let id = conversation_id(id)?;
    let Json(body) = read("body", body)?;
    let meta = visible(&shared, &requester, id).await?;
    let change = ProfileUpdate { conversation: id, email: body.email, note: body.note }.check()?;
    shared.desk.save_unsaved(id).await?;
    // The note says who changed it: the token, by its name (checked as a person's name when
    // it was made).
    let by = UserName::stored(token.name);
    shared
        .desk
        .store
        .change_profile(meta.customer, &change, &by, now_ms())
        .await
        .map_err(internal("changing a customer's profile for the API"))?;
    let meta = visible(&shared, &requester, id).await?;
    Ok(Json(customer_of(&shared, meta).await?))
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    before: Option<u64>,
    limit: Option<u32>,
}

/// Searches conversations (by their customer's name, the host site's user id or the number)
/// and messages (every word), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    params(
        ("q" = String, Query, description = "What to look for"),
        ("before" = Option<u64>, Query, description = "The `next` of the previous page: older messages"),
        ("limit" = Option<u32>, Query, description = "At most this many messages (1–100, 100 if not given)")
    ),
    responses(
        (status = 200, body = ApiSearch),
        (status = 422, body = ApiError, description = "Nothing to look for, or too much")
    )
)]
async fn search(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Answered<ApiSearch> {
    let (requester, token) = api_requester(&shared, &headers).await?;
    let Query(params) = read("query", params)?;
    let query = SearchQuery::parse(params.q.as_deref().unwrap_or_default())?;
    let found = shared
        .desk
        .store
        .search(
            &query,
            &AgentKey::token(token.id),
            requester.admin,
            params.before.map(MessageId),
            page_size(params.limit),
        )
        .await
        .map_err(internal("searching for the API"))?;
    let live = shared.desk.live();
    let conversations = found
        .conversations
        .iter()
        .filter_map(|f| {
            let meta = live.hub.found_by(&requester.who, requester.admin, &f.meta)?;
            Some(conversation(meta, Some(f.updated_at)))
        })
        .collect();
    let messages = found
        .messages
        .iter()
        .filter(|(stored, _)| live.hub.found_by(&requester.who, requester.admin, stored).is_some())
        .map(|(_, m)| message(m))
        .collect();
    Ok(Json(ApiSearch { conversations, messages, next: found.next.map(|id| id.0) }))
}
