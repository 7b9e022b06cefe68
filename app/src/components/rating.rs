//! Satisfaction ratings: for a customer whose conversation was resolved, "How did we do?"
//! (1 to 5, and a comment if they like) under the conversation, then thanks; for agents, a
//! customer's rating as a line in the conversation ([`rating_line`]). Whether customers are
//! asked at all is an admin's choice, in the team panel (`team.rs`).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{t, use_chat};
use crate::inbox::Target;
use crate::protocol::{RateRequest, Rating, RATING_COMMENT_MAX_CHARS, SCORE_MAX, SCORE_MIN};
use crate::state::Command;

/// Under a customer's conversation while its resolution waits for a rating (and the desk
/// asks for ratings); thanks once rated. Writing again reopens the conversation: the
/// question goes until it is resolved again.
#[component]
pub fn RatingPrompt() -> impl IntoView {
    let chat = use_chat();
    let state = chat.state;
    // The resolution to rate: of the open conversation, with nothing written since.
    let pending = move || {
        let resolved = state.resolved.get()?;
        let open = matches!(state.open.get(), Some(Target::Conversation(id)) if id == resolved.conversation);
        let newer = state.inbox.with(|i| {
            i.threads
                .get(&resolved.conversation)
                .and_then(|t| t.messages.keys().next_back().copied())
                .is_some_and(|last| last > resolved.seq)
        });
        (open && !newer && state.settings.get().csat).then_some(resolved)
    };
    let thanked = move || pending().is_some_and(|r| state.rated.get() == Some(r));
    let score = RwSignal::new(None::<u8>);
    let comment = RwSignal::new(String::new());
    // Each resolution is asked afresh: nothing chosen for an earlier one is sent again.
    Effect::new(move |_| {
        let _asked = pending();
        score.set(None);
        comment.set(String::new());
    });
    let send = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(resolved) = pending() else { return };
        let Some(score) = score.get_untracked() else {
            state.error.set(Some(
                crate::protocol::Problem::RatingScore.in_lang(state.lang.get_untracked()),
            ));
            return;
        };
        let comment = Some(comment.get_untracked()).filter(|c| !c.trim().is_empty());
        chat.send(Command::Rate(RateRequest {
            conversation: resolved.conversation,
            seq: resolved.seq,
            score,
            comment,
        }));
    };
    view! {
        <Show when=move || pending().is_some()>
            <Show
                when=move || !thanked()
                fallback=|| view! { <p class="rated" role="status" data-testid="rate-thanks">{move || t().rate_thanks}</p> }
            >
                <form class="rate" data-testid="rate" on:submit=send>
                    <fieldset>
                        <legend>{move || t().rate_heading}</legend>
                        <div class="scores">
                            {(SCORE_MIN..=SCORE_MAX).map(|n| view! {
                                <label class="score">
                                    <input type="radio" name="score" value=n data-testid="rate-score" prop:checked=move || score.get() == Some(n) on:change=move |_| score.set(Some(n))/>
                                    <span aria-hidden="true">{"★".repeat(usize::from(n))}</span>
                                    <span>{move || t().score_word(n)}</span>
                                </label>
                            }).collect_view()}
                        </div>
                    </fieldset>
                    <label class="rate-comment">
                        <span>{move || t().rate_comment}</span>
                        <textarea rows="2" maxlength=RATING_COMMENT_MAX_CHARS data-testid="rate-comment" bind:value=comment></textarea>
                    </label>
                    <button type="submit" data-testid="rate-send">{move || t().rate_send}</button>
                </form>
            </Show>
        </Show>
    }
}

/// A customer's rating, as a line of the conversation (agents).
pub(super) fn rating_line(r: Rating) -> impl IntoView {
    let score = r.score;
    view! {
        <li class="msg rating" data-testid="rating-line" data-score=score>
            <span class="from">{move || t().rating_line} " " {super::chat::moment(r.ts)}</span>
            <p class="text">
                <span aria-hidden="true">{"★".repeat(usize::from(score))}{"☆".repeat(usize::from(SCORE_MAX - score))}</span>
                " "
                {move || format!("{} · {}", t().rating_of.replace("{score}", &score.to_string()), t().score_word(score))}
            </p>
            {r.comment.map(|c| view! { <p class="text comment">"“" {c} "”"</p> })}
        </li>
    }
}
