//! An admin's requests to the console's HTTP endpoints (with the session cookie the page
//! carries): the REST API's tokens and the webhooks, listed, made and removed. Each answers
//! with what was asked for, or the sentence to show in the reader's language.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::protocol::{AgentSession, Problem};
use crate::text::Lang;

/// `GET path` as JSON.
pub async fn get<T: DeserializeOwned>(path: &str, lang: Lang) -> Result<T, String> {
    answer(gloo_net::http::Request::get(path).send().await, lang).await
}

/// `POST path` with a JSON body, answered as JSON.
pub async fn post<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
    lang: Lang,
) -> Result<T, String> {
    let request = gloo_net::http::Request::post(path).json(body).map_err(|e| {
        leptos::logging::warn!("writing a request: {e}");
        Problem::Internal.in_lang(lang)
    })?;
    answer(request.send().await, lang).await
}

/// `DELETE path`: done, or why not.
pub async fn delete(path: &str, lang: Lang) -> Result<(), String> {
    let response = gloo_net::http::Request::delete(path).send().await.map_err(|e| {
        leptos::logging::warn!("{path}: {e}");
        lang.ui().cannot_reach_server.to_owned()
    })?;
    if response.ok() {
        Ok(())
    } else {
        Err(refusal(response, lang).await)
    }
}

async fn answer<T: DeserializeOwned>(
    sent: Result<gloo_net::http::Response, gloo_net::Error>,
    lang: Lang,
) -> Result<T, String> {
    let response = sent.map_err(|e| {
        leptos::logging::warn!("a console request: {e}");
        lang.ui().cannot_reach_server.to_owned()
    })?;
    if !response.ok() {
        return Err(refusal(response, lang).await);
    }
    response.json::<T>().await.map_err(|e| {
        leptos::logging::warn!("reading a console answer: {e}");
        Problem::Internal.in_lang(lang)
    })
}

/// A refusal names its problem; anything else (a 404 for someone who is no admin any more,
/// a proxy's page) is the server's.
async fn refusal(response: gloo_net::http::Response, lang: Lang) -> String {
    match response.json::<AgentSession>().await {
        Ok(AgentSession::Refused { problem: Some(problem), .. }) => problem.in_lang(lang),
        _ => Problem::Internal.in_lang(lang),
    }
}
