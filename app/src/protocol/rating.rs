//! Satisfaction ratings (CSAT): a customer whose conversation was resolved is asked to rate
//! it, 1 to 5 with an optional comment, once per resolution; the agents who see the
//! conversation are shown the rating; admins may turn the asking off ([`DeskSettings`]).
//!
//! A resolution is named by the conversation and its newest message's sequence number when
//! it was resolved ([`ResolvedAt`]): resolved again after the customer wrote is another
//! resolution, rated afresh; resolved again with nothing new said is the same one.

use serde::{Deserialize, Serialize};

use super::*;

/// The lowest and highest score.
pub const SCORE_MIN: u8 = 1;
pub const SCORE_MAX: u8 = 5;
/// The longest comment with a rating.
pub const RATING_COMMENT_MAX_CHARS: usize = 1000;
/// Ratings of one conversation sent to an agent with its history, the newest.
pub const RATINGS_SENT: u32 = 20;

/// The `resolved` payload, server → customer: their conversation was resolved, with its
/// newest message at `seq` (what a rating is for).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedAt {
    pub conversation: ConversationId,
    pub seq: u64,
}

/// The `rate` payload, customer → server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateRequest {
    pub conversation: ConversationId,
    /// The resolution rated (from [`ResolvedAt`]).
    pub seq: u64,
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl RateRequest {
    /// The score and the comment (none when only white space); a score out of 1–5 is
    /// `RatingScore`, a comment over [`RATING_COMMENT_MAX_CHARS`] `RatingCommentTooLong`.
    pub fn check(&self) -> Result<(u8, Option<String>), Problem> {
        if !(SCORE_MIN..=SCORE_MAX).contains(&self.score) {
            return Err(Problem::RatingScore);
        }
        let comment = self.comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
        match comment {
            Some(c) if c.chars().count() > RATING_COMMENT_MAX_CHARS => {
                Err(Problem::RatingCommentTooLong)
            }
            // Line breaks stay; other control characters go.
            Some(c) => Ok((
                self.score,
                Some(c.chars().filter(|ch| *ch == '\n' || !ch.is_control()).collect()),
            )),
            None => Ok((self.score, None)),
        }
    }
}

/// The `rating` payload, server → the agents who see the conversation and the customer: a
/// rating given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub conversation: ConversationId,
    /// The resolution rated.
    pub seq: u64,
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When it was given (ms since the epoch).
    pub ts: u64,
}

/// The `desk_settings` payload: server → customers and admins at login and whenever it
/// changes; admin → server to change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskSettings {
    /// Customers are asked to rate a resolved conversation.
    pub csat: bool,
}

impl Default for DeskSettings {
    fn default() -> Self {
        Self { csat: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(score: u8, comment: Option<&str>) -> Result<(u8, Option<String>), Problem> {
        let request = RateRequest {
            conversation: ConversationId(1),
            seq: 3,
            score,
            comment: comment.map(str::to_owned),
        };
        request.check()
    }

    #[test]
    fn a_rating_is_one_to_five_with_a_short_comment() {
        assert_eq!(rate(5, Some("  Quick and kind \n")), Ok((5, Some("Quick and kind".into()))));
        assert_eq!(rate(1, Some("   ")), Ok((1, None)));
        assert_eq!(rate(3, Some("a\u{7}b\nc")), Ok((3, Some("ab\nc".into()))));
        assert_eq!(rate(0, None), Err(Problem::RatingScore));
        assert_eq!(rate(6, None), Err(Problem::RatingScore));
        let long = "好".repeat(RATING_COMMENT_MAX_CHARS + 1);
        assert_eq!(rate(4, Some(&long)), Err(Problem::RatingCommentTooLong));
        assert!(DeskSettings::default().csat, "asked unless an admin turns it off");
    }
}
