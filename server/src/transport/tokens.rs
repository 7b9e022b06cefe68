//! The REST API's tokens, as admins manage them in the console (their cookie session):
//! `GET /api-tokens` lists them, `POST /api-tokens` (a [`NewApiToken`], JSON) makes one and
//! answers with its secret, shown this once, `DELETE /api-tokens/{id}` revokes one.
//!
//! Owns: who may manage tokens (admins only: anyone else, logged in or not, gets the same
//! 404 as a path that does not exist), a new token's name, and its secret (random, kept only
//! as its SHA-256). Must not: let a token manage tokens (a token is no session).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::header::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};

use super::desk::internal;
use super::http::{is_json, refused};
use super::requester::{admin_name as admin, private, remove_by_id};
use super::shared::Shared;
use crate::auth;
use crate::clock::now_ms;
use crate::store::StoreError;
use app::protocol::{
    CreatedApiToken, NewApiToken, Problem, UserName, API_TOKENS_PATH, API_TOKEN_PREFIX,
};

pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(API_TOKENS_PATH, get(list).post(create))
        .route(&format!("{API_TOKENS_PATH}/{{id}}"), delete(revoke))
        .with_state(shared)
}

async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = admin(&shared, &headers).await {
        return refusal;
    }
    match shared.desk.store.api_tokens().await {
        Ok(tokens) => private(Json(tokens).into_response()),
        Err(e) => refused(internal("listing API tokens")(e)),
    }
}

async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Json<NewApiToken>, JsonRejection>,
) -> Response {
    let by = match admin(&shared, &headers).await {
        Ok(by) => by,
        Err(refusal) => return refusal,
    };
    // JSON only: what another site's page may post without asking is a form.
    let Ok(Json(new)) = body.map_err(|e| tracing::debug!(error = %e, "a new token's body")) else {
        return refused(Problem::Malformed("api_token".into()));
    };
    if !is_json(&headers) {
        return refused(Problem::Malformed("api_token".into()));
    }
    // Named as people are: within the length, nothing invisible.
    let name = match UserName::parse(&new.name) {
        Ok(name) => name,
        Err(problem) => return refused(problem),
    };
    let (secret, _) = match auth::new_token() {
        Ok(made) => made,
        Err(e) => {
            tracing::error!(error = %e, "making an API token");
            return refused(Problem::Internal);
        }
    };
    let token = format!("{API_TOKEN_PREFIX}{secret}");
    let Some(hash) = auth::token_hash(&token) else { return refused(Problem::Internal) };
    match shared.desk.store.add_api_token(name.as_str(), &hash, new.write, &by, now_ms()).await {
        Ok(info) => {
            tracing::info!(id = info.id, name = %info.name, write = info.write, by = %by, "API token made");
            private((StatusCode::CREATED, Json(CreatedApiToken { token, info })).into_response())
        }
        // Their account was removed meanwhile: as for anyone who is no admin.
        Err(StoreError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => refused(internal("storing an API token")(e)),
    }
}

async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    remove_by_id(&shared, &headers, id, "revoking an API token", |id| {
        shared.desk.store.revoke_api_token(id)
    })
    .await
}
