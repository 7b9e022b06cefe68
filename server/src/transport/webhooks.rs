//! Webhooks as admins manage them in the console (their cookie session): `GET /webhooks`
//! lists them with their latest deliveries (status, attempts, the last error), `POST
//! /webhooks` (a [`NewWebhook`], JSON) registers one and answers with the secret its
//! deliveries are signed with, shown this once, `DELETE /webhooks/{id}` removes one.
//!
//! Owns: who may manage webhooks (admins only; anyone else gets the same 404 as a path that
//! does not exist), checking a new one (an `http(s)://` URL, known events) and making its
//! secret. Must not: send anything (the courier does).

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
use crate::webhooks::events_column;
use app::protocol::{
    CreatedWebhook, NewWebhook, Problem, WEBHOOKS_PATH, WEBHOOK_DELIVERIES_SHOWN,
    WEBHOOK_URL_MAX_CHARS,
};

/// A webhook's secret begins so.
const SECRET_PREFIX: &str = "whsec_";

pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(WEBHOOKS_PATH, get(list).post(create))
        .route(&format!("{WEBHOOKS_PATH}/{{id}}"), delete(remove))
        .with_state(shared)
}

async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = admin(&shared, &headers).await {
        return refusal;
    }
    match shared.desk.store.webhooks(WEBHOOK_DELIVERIES_SHOWN).await {
        Ok(hooks) => private(Json(hooks).into_response()),
        Err(e) => refused(internal("listing webhooks")(e)),
    }
}

/// A webhook's URL, if it can be one: `http://` or `https://` with a host.
fn url(raw: &str) -> Result<String, Problem> {
    let raw = raw.trim();
    if raw.chars().count() > WEBHOOK_URL_MAX_CHARS {
        return Err(Problem::WebhookUrlInvalid);
    }
    let url = reqwest::Url::parse(raw).map_err(|_| Problem::WebhookUrlInvalid)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(Problem::WebhookUrlInvalid);
    }
    Ok(url.to_string())
}

async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Json<NewWebhook>, JsonRejection>,
) -> Response {
    let by = match admin(&shared, &headers).await {
        Ok(by) => by,
        Err(refusal) => return refusal,
    };
    // JSON only: what another site's page may post without asking is a form.
    let new = match body {
        Ok(Json(new)) if is_json(&headers) => new,
        _ => return refused(Problem::Malformed("webhook".into())),
    };
    let url = match url(&new.url) {
        Ok(url) => url,
        Err(problem) => return refused(problem),
    };
    let Some(events) = events_column(&new.events) else {
        return refused(Problem::WebhookNoEvents);
    };
    let secret = match auth::new_token() {
        Ok((secret, _)) => format!("{SECRET_PREFIX}{secret}"),
        Err(e) => {
            tracing::error!(error = %e, "making a webhook's secret");
            return refused(Problem::Internal);
        }
    };
    match shared.desk.store.add_webhook(&url, &events, &secret, &by, now_ms()).await {
        Ok(info) => {
            // Not its URL: it may hold the receiver's secret.
            tracing::info!(id = info.id, events = %events, by = %by, "webhook registered");
            private((StatusCode::CREATED, Json(CreatedWebhook { secret, info })).into_response())
        }
        // Their account was removed meanwhile: as for anyone who is no admin.
        Err(StoreError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => refused(internal("registering a webhook")(e)),
    }
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    remove_by_id(&shared, &headers, id, "removing a webhook", |id| {
        shared.desk.store.remove_webhook(id)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhooks_url_is_an_http_or_https_url_with_a_host() {
        assert_eq!(
            url(" https://crm.example.com/hooks/chat ").unwrap(),
            "https://crm.example.com/hooks/chat"
        );
        assert_eq!(url("http://127.0.0.1:9000").unwrap(), "http://127.0.0.1:9000/");
        for bad in [
            "",
            "crm.example.com/hook",
            "ftp://crm.example.com",
            "javascript:alert(1)",
            "http://",
            "file:///etc/passwd",
        ] {
            assert_eq!(url(bad), Err(Problem::WebhookUrlInvalid), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(WEBHOOK_URL_MAX_CHARS));
        assert_eq!(url(&long), Err(Problem::WebhookUrlInvalid));
    }
}
