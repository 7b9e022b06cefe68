//! An admin's *Integrations* panel: the REST API's tokens (made with a name and whether they
//! may write, their secret shown once, revoked) and the webhooks (an address and the events
//! it is sent, the signing secret shown once, the latest deliveries with how they went,
//! removed). Read afresh whenever the panel is opened; the server's refusals are shown in the
//! reader's language.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{t, use_chat};
use crate::protocol::{
    ApiTokenInfo, DeliveryInfo, WebhookInfo, API_TOKENS_PATH, WEBHOOKS_PATH, WEBHOOK_EVENTS,
};
use crate::text::{Lang, Ui};

/// An event's name for people (one this page does not know, as the server names it).
fn event_label(ui: &'static Ui, event: &str) -> String {
    match event {
        crate::protocol::WEBHOOK_CONVERSATION_CREATED => ui.event_conversation_created,
        crate::protocol::WEBHOOK_MESSAGE_CREATED => ui.event_message_created,
        crate::protocol::WEBHOOK_CONVERSATION_RESOLVED => ui.event_conversation_resolved,
        crate::protocol::WEBHOOK_RATING_GIVEN => ui.event_rating_given,
        other => other,
    }
    .to_owned()
}

/// A moment, as the reader's browser words it.
fn when(ts: u64, lang: Lang) -> String {
    super::when::stamp(ts, lang).full
}

/// How a delivery went, in a few words.
fn delivery_text(ui: &'static Ui, d: &DeliveryInfo, lang: Lang) -> String {
    let attempts = ui.delivery_attempts.replace("{n}", &d.attempts.to_string());
    let state = match (d.delivered_at, d.next_attempt_at) {
        (Some(_), _) => ui.delivery_delivered.to_owned(),
        // Not tried yet (or being tried now).
        (None, _) if d.attempts == 0 => return ui.delivery_pending.to_owned(),
        (None, Some(next)) => ui.delivery_retrying.replace("{when}", &when(next, lang)),
        (None, None) => ui.delivery_given_up.to_owned(),
    };
    let status = d.last_status.map(|s| format!("HTTP {s}"));
    [Some(state), Some(attempts), status, d.last_error.clone()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

#[component]
pub fn IntegrationsPanel() -> impl IntoView {
    let chat = use_chat();
    let lang = move || chat.state.lang.get_untracked();
    let tokens = RwSignal::new(Vec::<ApiTokenInfo>::new());
    let hooks = RwSignal::new(Vec::<WebhookInfo>::new());
    let error = RwSignal::new(None::<String>);
    // A secret just made, shown once: a token's (`true`) or a webhook's.
    let secret = RwSignal::new(None::<(bool, String)>);
    let (token_name, token_write) = (RwSignal::new(String::new()), RwSignal::new(false));
    let hook_url = RwSignal::new(String::new());
    let hook_events =
        RwSignal::new(WEBHOOK_EVENTS.iter().map(|e| e.to_string()).collect::<Vec<_>>());

    let load = move || {
        #[cfg(feature = "browser")]
        leptos::task::spawn_local(async move {
            use crate::client::console;
            let lang = lang();
            let listed = async {
                let t = console::get::<Vec<ApiTokenInfo>>(API_TOKENS_PATH, lang).await?;
                let h = console::get::<Vec<WebhookInfo>>(WEBHOOKS_PATH, lang).await?;
                Ok::<_, String>((t, h))
            };
            match listed.await {
                Ok((t, h)) => {
                    tokens.set(t);
                    hooks.set(h);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    // Read afresh each time it is opened or closed: deliveries go on meanwhile.
    let opened = move |_| load();
    // Makes a token or a webhook: its secret is shown, the form emptied, the lists read again.
    #[cfg(feature = "browser")]
    let make = move |path: &'static str,
                     body: serde_json::Value,
                     token: bool,
                     made: fn(serde_json::Value) -> Option<String>| {
        leptos::task::spawn_local(async move {
            match crate::client::console::post::<_, serde_json::Value>(path, &body, lang()).await {
                Ok(answer) => {
                    error.set(None);
                    secret.set(made(answer).map(|value| (token, value)));
                    if token {
                        token_name.set(String::new());
                        token_write.set(false);
                    } else {
                        hook_url.set(String::new());
                    }
                    load();
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let make_token = move |ev: SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "browser")]
        {
            let body = crate::protocol::NewApiToken {
                name: token_name.get_untracked(),
                write: token_write.get_untracked(),
            };
            let secret = |answer: serde_json::Value| {
                serde_json::from_value::<crate::protocol::CreatedApiToken>(answer)
                    .ok()
                    .map(|m| m.token)
            };
            make(API_TOKENS_PATH, serde_json::json!(body), true, secret);
        }
    };
    let add_hook = move |ev: SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "browser")]
        {
            let body = crate::protocol::NewWebhook {
                url: hook_url.get_untracked(),
                events: hook_events.get_untracked(),
            };
            let secret = |answer: serde_json::Value| {
                serde_json::from_value::<crate::protocol::CreatedWebhook>(answer)
                    .ok()
                    .map(|m| m.secret)
            };
            make(WEBHOOKS_PATH, serde_json::json!(body), false, secret);
        }
    };
    let remove = move |path: String| {
        #[cfg(feature = "browser")]
        leptos::task::spawn_local(async move {
            match crate::client::console::delete(&path, lang()).await {
                Ok(()) => {
                    error.set(None);
                    load();
                }
                Err(e) => error.set(Some(e)),
            }
        });
        #[cfg(not(feature = "browser"))]
        let _ = path;
    };

    let token_list = move || {
        let listed = tokens.get();
        if listed.is_empty() {
            return view! { <p class="hint">{t().tokens_none}</p> }.into_any();
        }
        view! {
            <ul data-testid="api-tokens">
                {listed.into_iter().map(|token| {
                    let ui = t();
                    let kind = if token.write { ui.token_read_write } else { ui.token_read_only };
                    let used = match token.last_used_at {
                        Some(at) => ui.token_last_used.replace("{when}", &when(at, lang())),
                        None => ui.token_never_used.to_owned(),
                    };
                    let path = format!("{API_TOKENS_PATH}/{}", token.id);
                    view! {
                        <li data-testid="api-token" data-name=token.name.clone()>
                            <span>{token.name.clone()}</span>
                            <span class="hint">{format!("{kind} · {} · {used}", token.created_by)}</span>
                            <button type="button" class="link" data-testid="revoke-token"
                                on:click=move |_| remove(path.clone())>
                                {ui.token_revoke}
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    };

    let hook_list = move || {
        let listed = hooks.get();
        if listed.is_empty() {
            return view! { <p class="hint">{t().webhooks_none}</p> }.into_any();
        }
        view! {
            <ul data-testid="webhooks">
                {listed.into_iter().map(|hook| {
                    let ui = t();
                    let events = hook.events.iter().map(|e| event_label(ui, e)).collect::<Vec<_>>().join(", ");
                    let path = format!("{WEBHOOKS_PATH}/{}", hook.id);
                    let deliveries = if hook.deliveries.is_empty() {
                        view! { <p class="hint">{ui.webhook_no_deliveries}</p> }.into_any()
                    } else {
                        view! {
                            <ol class="deliveries" data-testid="deliveries">
                                {hook.deliveries.iter().map(|d| view! {
                                    <li data-testid="delivery">
                                        <span>{format!("#{} {}", d.id, event_label(ui, &d.event))}</span>
                                        " "
                                        <span class="hint">{delivery_text(ui, d, lang())}</span>
                                    </li>
                                }).collect_view()}
                            </ol>
                        }
                        .into_any()
                    };
                    view! {
                        <li data-testid="webhook" data-url=hook.url.clone()>
                            <span class="webhook-url">{hook.url.clone()}</span>
                            <span class="hint">{events}</span>
                            <button type="button" class="link" data-testid="remove-webhook"
                                on:click=move |_| remove(path.clone())>
                                {ui.webhook_remove}
                            </button>
                            <details>
                                <summary>{ui.webhook_deliveries}</summary>
                                {deliveries}
                            </details>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    };

    view! {
        <details class="team integrations" data-testid="integrations" on:toggle=opened>
            <summary>{move || t().integrations_heading}</summary>
            <p class="hint">{move || t().integrations_intro}</p>
            {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="integrations-error">{e}</p> })}
            {move || secret.get().map(|(token, value)| view! {
                <div class="secret" role="status" data-testid="secret">
                    <p>{move || if token { t().token_made } else { t().webhook_secret_made }}</p>
                    <code data-testid="secret-value">{value}</code>
                </div>
            })}
            <h3>{move || t().tokens_heading}</h3>
            {token_list}
            <form class="team-form" data-testid="make-token" on:submit=make_token>
                <input type="text" aria-label=move || t().token_name placeholder=move || t().token_name
                    data-testid="token-name" prop:value=token_name
                    on:input=move |ev| token_name.set(event_target_value(&ev))/>
                <label>
                    <input type="checkbox" data-testid="token-write" prop:checked=token_write
                        on:change=move |ev| token_write.set(event_target_checked(&ev))/>
                    {move || t().token_write}
                </label>
                <button type="submit">{move || t().token_make}</button>
            </form>
            <h3>{move || t().webhooks_heading}</h3>
            {hook_list}
            <form class="team-form" data-testid="add-webhook" on:submit=add_hook>
                <input type="url" aria-label=move || t().webhook_url placeholder=move || t().webhook_url
                    data-testid="webhook-url" prop:value=hook_url
                    on:input=move |ev| hook_url.set(event_target_value(&ev))/>
                <fieldset>
                    <legend>{move || t().webhook_events}</legend>
                    {WEBHOOK_EVENTS.into_iter().map(|event| view! {
                        <label>
                            <input type="checkbox" data-event=event
                                prop:checked=move || hook_events.with(|e| e.iter().any(|x| x == event))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    hook_events.update(|e| {
                                        e.retain(|x| x != event);
                                        if on {
                                            e.push(event.to_owned());
                                        }
                                    });
                                }/>
                            {move || event_label(t(), event)}
                        </label>
                    }).collect_view()}
                </fieldset>
                <button type="submit">{move || t().webhook_add}</button>
            </form>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_says_how_it_went_in_both_languages() {
        let d = DeliveryInfo {
            id: 7,
            event: "message.created".into(),
            created_at: 1,
            attempts: 4,
            last_attempt_at: Some(2),
            last_status: Some(204),
            last_error: None,
            delivered_at: Some(2),
            next_attempt_at: None,
        };
        assert_eq!(
            delivery_text(Lang::En.ui(), &d, Lang::En),
            "delivered · attempts: 4 · HTTP 204"
        );
        assert_eq!(
            delivery_text(Lang::ZhCn.ui(), &d, Lang::ZhCn),
            "已送达 · 尝试次数：4 · HTTP 204"
        );
        let gave_up = DeliveryInfo {
            delivered_at: None,
            last_status: None,
            last_error: Some("connection refused".into()),
            ..d
        };
        assert_eq!(
            delivery_text(Lang::En.ui(), &gave_up, Lang::En),
            "given up · attempts: 4 · connection refused"
        );
        let waiting =
            DeliveryInfo { attempts: 0, last_error: None, next_attempt_at: Some(9), ..gave_up };
        assert_eq!(delivery_text(Lang::En.ui(), &waiting, Lang::En), "waiting to be sent");
        assert_eq!(event_label(Lang::ZhCn.ui(), "rating.given"), "收到评价");
        assert_eq!(event_label(Lang::En.ui(), "ticket.closed"), "ticket.closed");
    }
}
