//! How soon the team answers a customer who starts a conversation, from recent history:
//! what customers are told ("usually answers in a few minutes").
//!
//! Owns: what counts as a first answer, and the typical wait. Must not: read storage
//! (the caller passes [`Turn`]s) or word the result (`app::text` does).
//!
//! A conversation here lasts for ever (one per customer), so "first answer" is per
//! question: a customer's message starts one when nothing was said in the conversation
//! for [`QUESTION_GAP_MS`] before it (or it is the first); the first agent message after
//! it answers it. Replies within a running exchange (often seconds) do not count: they
//! would promise a customer who just arrived an answer far sooner than they will get one.

use app::protocol::ConversationId;

/// How far back the history is read.
pub const WINDOW_MS: u64 = 7 * 24 * 3600 * 1000;
/// At most this many of the most recently active conversations (that have messages) are
/// read, at most the newest this many messages of each, and this many in all: enough for a
/// typical desk's week, bounded for a busy one (or a customer who writes a lot).
pub const CONVERSATIONS_READ: u32 = 1_000;
pub const MESSAGES_PER_CONVERSATION: u32 = 50;
pub const TURNS_READ: u32 = 20_000;
/// Quiet this long, a conversation's next customer message is a new question.
pub const QUESTION_GAP_MS: u64 = 30 * 60 * 1000;
/// Fewer answered questions than this say nothing typical: no estimate is shown.
pub const MIN_ANSWERS: usize = 5;

/// One message's place in a conversation's back and forth: who wrote it, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turn {
    pub conversation: ConversationId,
    /// Its place in the conversation (1: the first message ever).
    pub seq: u64,
    pub by_agent: bool,
    pub at: u64,
}

/// A question's first answer: when it was asked, and how long it waited (milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub asked: u64,
    pub wait: u64,
}

/// The first answer of each question in `turns` (each conversation's messages in order,
/// conversations one after another). Questions still waiting are left out (they have no
/// answer time yet). A conversation read from its middle (its first message read is not
/// its first ever) starts with that message as what was said last: whether the customer
/// was waiting then is not known, so it asks nothing.
pub fn first_answers(turns: &[Turn]) -> Vec<Answer> {
    let mut waits = Vec::new();
    // The conversation being read, its last message's time (none: nothing was said
    // before), and since when its customer has been waiting for an answer to a question.
    let mut current: Option<ConversationId> = None;
    let mut last_at: Option<u64> = None;
    let mut waiting_since: Option<u64> = None;
    for turn in turns {
        if current != Some(turn.conversation) {
            current = Some(turn.conversation);
            waiting_since = None;
            last_at = None;
            if turn.seq > 1 {
                last_at = Some(turn.at);
                continue;
            }
        }
        if turn.by_agent {
            if let Some(asked) = waiting_since.take() {
                waits.push(Answer { asked, wait: turn.at.saturating_sub(asked) });
            }
        } else if waiting_since.is_none()
            && last_at.is_none_or(|last| turn.at.saturating_sub(last) >= QUESTION_GAP_MS)
        {
            waiting_since = Some(turn.at);
        }
        last_at = Some(turn.at);
    }
    waits
}

/// The typical wait (the median), once there are [`MIN_ANSWERS`] of them; in whole
/// minutes, rounded up (what customers are told needs no more, and one conversation's
/// exact wait is nobody else's business).
pub fn typical(mut waits: Vec<u64>) -> Option<u64> {
    if waits.len() < MIN_ANSWERS {
        return None;
    }
    let middle = waits.len() / 2;
    let (_, median, _) = waits.select_nth_unstable(middle);
    Some(median.div_ceil(MINUTE) * MINUTE)
}

const MINUTE: u64 = 60_000;

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    fn customer(c: u64, at: u64) -> Turn {
        Turn { conversation: ConversationId(c), seq: 0, by_agent: false, at }
    }

    fn agent(c: u64, at: u64) -> Turn {
        Turn { conversation: ConversationId(c), seq: 0, by_agent: true, at }
    }

    /// How long each question in `turns` waited.
    fn waits(turns: &[Turn]) -> Vec<u64> {
        first_answers(turns).iter().map(|a| a.wait).collect()
    }

    /// Numbers each conversation's turns from `first` on, as stored.
    fn numbered(mut turns: Vec<Turn>, first: u64) -> Vec<Turn> {
        let mut next = std::collections::HashMap::new();
        for turn in &mut turns {
            let seq = next.entry(turn.conversation).or_insert(first);
            turn.seq = *seq;
            *seq += 1;
        }
        turns
    }

    #[test]
    fn a_question_is_answered_by_the_first_agent_message_after_it() {
        let start = 1_000 * MIN;
        let turns = numbered(
            vec![
                customer(1, start),
                // More from the customer while waiting: still the same wait.
                customer(1, start + MIN),
                agent(1, start + 4 * MIN),
                // The exchange that follows is not a first answer.
                customer(1, start + 5 * MIN),
                agent(1, start + 5 * MIN + 10_000),
                // Back after an hour: a new question.
                customer(1, start + 70 * MIN),
                agent(1, start + 72 * MIN),
            ],
            1,
        );
        assert_eq!(waits(&turns), vec![4 * MIN, 2 * MIN]);
        assert_eq!(first_answers(&turns)[1].asked, start + 70 * MIN);
    }

    #[test]
    fn unanswered_questions_and_agents_writing_first_count_for_nothing() {
        let turns = numbered(
            vec![
                // The agent greets first, the customer answers at once: no question waited.
                agent(1, 100 * MIN),
                customer(1, 101 * MIN),
                agent(1, 102 * MIN),
                // Another customer is still waiting.
                customer(2, 100 * MIN),
                customer(2, 140 * MIN),
            ],
            1,
        );
        assert!(first_answers(&turns).is_empty());
    }

    #[test]
    fn each_conversation_is_read_on_its_own() {
        // The second conversation's first message follows the first's last closely in
        // time: it is a question all the same.
        let turns = numbered(
            vec![
                customer(1, 10 * MIN),
                agent(1, 11 * MIN),
                customer(2, 11 * MIN),
                agent(2, 20 * MIN),
            ],
            1,
        );
        assert_eq!(waits(&turns), vec![MIN, 9 * MIN]);
    }

    #[test]
    fn a_conversation_read_from_its_middle_starts_with_what_was_said_last() {
        // Its first message read is the customer's reply in a running exchange: not a
        // question (it would count a reply of seconds as a first answer).
        let running = numbered(vec![customer(1, 100 * MIN), agent(1, 100 * MIN + 5_000)], 40);
        assert!(first_answers(&running).is_empty());
        // After it, a question asked after a quiet half hour counts as ever.
        let later =
            numbered(vec![agent(1, 100 * MIN), customer(1, 140 * MIN), agent(1, 146 * MIN)], 40);
        assert_eq!(waits(&later), vec![6 * MIN]);
    }

    #[test]
    fn the_typical_wait_is_the_median_of_enough_answers() {
        assert_eq!(typical(vec![MIN; MIN_ANSWERS - 1]), None, "too few to say");
        assert_eq!(typical(vec![9 * MIN, MIN, 2 * MIN, 60 * MIN, 3 * MIN]), Some(3 * MIN));
        // One very slow answer does not move it much.
        assert_eq!(typical(vec![MIN, MIN, 2 * MIN, 2 * MIN, 3 * MIN, 900 * MIN]), Some(2 * MIN));
        // Whole minutes, rounded up.
        assert_eq!(typical(vec![61_000, 62_000, 95_000, 100_000, 30_000]), Some(2 * MIN));
    }
}
