//! The reports' figures, counted in SQL that SQLite and PostgreSQL both run (window
//! functions, no percentile function of either): what [`app::protocol::report`] says is
//! counted, as rows; [`crate::reports`] puts them into a report.
//!
//! A conversation's stretches (`episodes` below) come from its messages and its
//! resolutions (`conversation_events`): a message belongs to the stretch numbered by how
//! many resolutions came before it, and stretch `k` ends at resolution `k + 1`. Medians and
//! 90th percentiles are nearest-rank: in `n` times sorted, the one at rank ⌈n·p⌉, written
//! `(n * 50 + 99) / 100` in integers for both databases.
//!
//! A macro like [`rating_methods!`](super::ratings::rating_methods), expanded inside
//! `sql_store!`.

/// The stretches of the conversations with a message at or after `$1`, all their messages
/// considered (one that started before `$1` is told apart by its start): `episodes` with
/// their start, the customer's first message (`asked`), the first agent message after it
/// and who wrote it, and their resolution and who made it.
pub(super) const EPISODES: &str = "\
WITH active AS (
    SELECT DISTINCT conversation_id FROM messages WHERE created_at >= $1
), res AS (
    SELECT e.conversation_id, e.at, e.agent_key,
           ROW_NUMBER() OVER (PARTITION BY e.conversation_id ORDER BY e.at, e.id) AS k
    FROM conversation_events e JOIN active a ON a.conversation_id = e.conversation_id
    WHERE e.status = 'resolved'
), msg AS (
    SELECT m.conversation_id, m.created_at, m.author_role, m.author_key, COUNT(r.at) AS k
    FROM messages m JOIN active a ON a.conversation_id = m.conversation_id
    LEFT JOIN res r ON r.conversation_id = m.conversation_id AND r.at < m.created_at
    GROUP BY m.id, m.conversation_id, m.created_at, m.author_role, m.author_key
), started AS (
    SELECT conversation_id, k, MIN(created_at) AS started,
           MIN(CASE WHEN author_role = 'customer' THEN created_at END) AS asked
    FROM msg GROUP BY conversation_id, k
), answers AS (
    SELECT s.conversation_id, s.k, MIN(m.created_at) AS answered
    FROM started s JOIN msg m
      ON m.conversation_id = s.conversation_id AND m.k = s.k AND m.author_role = 'agent' AND m.created_at >= s.asked
    GROUP BY s.conversation_id, s.k
), responders AS (
    SELECT a.conversation_id, a.k, a.answered, MIN(m.author_key) AS responder
    FROM answers a JOIN msg m
      ON m.conversation_id = a.conversation_id AND m.k = a.k AND m.author_role = 'agent' AND m.created_at = a.answered
    GROUP BY a.conversation_id, a.k, a.answered
), episodes AS (
    SELECT s.conversation_id, s.k, s.started, s.asked, p.answered, p.responder,
           r.at AS resolved_at, r.agent_key AS resolver
    FROM started s
    LEFT JOIN responders p ON p.conversation_id = s.conversation_id AND p.k = s.k
    LEFT JOIN res r ON r.conversation_id = s.conversation_id AND r.k = s.k + 1
    WHERE s.started >= $1 AND s.started < $2
)";

/// Every time measured, as (metric, agent key or '' for the whole desk, time).
pub(super) const TIMES: &str = "\
, waits AS (
    SELECT q.at AS queued,
           (SELECT MIN(o.at) FROM conversation_events o
             WHERE o.conversation_id = q.conversation_id AND o.status = 'open' AND (o.at > q.at OR (o.at = q.at AND o.id > q.id))) AS taken
    FROM conversation_events q
    WHERE q.status = 'queued' AND q.from_status <> 'queued' AND q.at >= $1 AND q.at < $2
), times AS (
    SELECT 'first_response' AS metric, '' AS grp, answered - asked AS v FROM episodes WHERE answered IS NOT NULL
    UNION ALL SELECT 'first_response', responder, answered - asked FROM episodes WHERE answered IS NOT NULL
    UNION ALL SELECT 'resolution', '', resolved_at - started FROM episodes WHERE resolved_at IS NOT NULL
    UNION ALL SELECT 'resolution', resolver, resolved_at - started FROM episodes WHERE resolved_at IS NOT NULL AND resolver IS NOT NULL
    UNION ALL SELECT 'queue_wait', '', taken - queued FROM waits WHERE taken IS NOT NULL
), ranked AS (
    SELECT metric, grp, v,
           ROW_NUMBER() OVER (PARTITION BY metric, grp ORDER BY v) AS rn,
           COUNT(*) OVER (PARTITION BY metric, grp) AS n
    FROM times
)
SELECT metric, grp, MAX(n),
       MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN v END),
       MAX(CASE WHEN rn = (n * 90 + 99) / 100 THEN v END)
FROM ranked GROUP BY metric, grp";

/// Conversations started per day (`$3`: the reader's offset in ms).
pub(super) const STARTED_PER_DAY: &str =
    "SELECT (started + $3) / 86400000 AS day, COUNT(*) FROM episodes GROUP BY 1";

/// Messages per day, by the customer or by each agent.
pub(super) const MESSAGES_PER_DAY: &str = "\
SELECT (created_at + $3) / 86400000 AS day, author_role, CASE WHEN author_role = 'agent' THEN author_key ELSE '' END AS agent, COUNT(*)
FROM messages WHERE created_at >= $1 AND created_at < $2
GROUP BY 1, 2, 3";

/// Resolutions per day, by each agent.
pub(super) const RESOLVED_PER_DAY: &str = "\
SELECT (at + $3) / 86400000 AS day, COALESCE(agent_key, '') AS agent, COUNT(*)
FROM conversation_events WHERE status = 'resolved' AND at >= $1 AND at < $2
GROUP BY 1, 2";

/// Ratings given in the period, by the agent who made the resolution rated ('' when none
/// is known: a resolution from before the events were kept).
pub(super) const RATINGS: &str = "\
WITH rated AS (
    SELECT r.score,
           COALESCE((SELECT MIN(e.agent_key) FROM conversation_events e
                      WHERE e.conversation_id = r.conversation_id AND e.status = 'resolved' AND e.seq = r.seq), '') AS agent
    FROM ratings r WHERE r.created_at >= $1 AND r.created_at < $2
)
SELECT agent, COUNT(*), SUM(score), SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END) FROM rated GROUP BY agent";

/// A time measured: metric (`first_response`, `resolution` or `queue_wait`), agent key or
/// '' for the desk, how many, median, 90th percentile.
pub type TimeRow = (String, String, u64, Option<u64>, Option<u64>);

/// The rows of a report, from the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportRows {
    /// (day, conversations started).
    pub started: Vec<(i64, u64)>,
    /// (day, agent key or '' for the customers' messages, messages).
    pub messages: Vec<(i64, String, u64)>,
    /// (day, agent key or '' when unknown, resolutions).
    pub resolved: Vec<(i64, String, u64)>,
    pub times: Vec<TimeRow>,
    /// (agent key or '' for resolutions of no known agent; ratings; sum of scores;
    /// satisfied).
    pub ratings: Vec<(String, u64, u64, u64)>,
    /// (agent key, name) of every account.
    pub names: Vec<(String, String)>,
}

/// Expands, inside `sql_store!`, the report method of [`Store`](super::Store) as an
/// inherent method (`report_rows`) of `$store`.
macro_rules! report_methods {
    ($store:ty) => {
        impl $store {
            pub(super) async fn report_rows(
                &self,
                from_ms: u64,
                to_ms: u64,
                offset_ms: i64,
            ) -> Result<super::reports::ReportRows, StoreError> {
                use super::reports::*;
                let (from, to) = (int(from_ms), int(to_ms));
                let mut conn = self.pool.acquire().await.map_err(backend)?;
                let started: Vec<(i64, i64)> =
                    sqlx::query_as(&format!("{EPISODES} {STARTED_PER_DAY}"))
                        .bind(from)
                        .bind(to)
                        .bind(offset_ms)
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(backend)?;
                let times: Vec<(String, String, i64, Option<i64>, Option<i64>)> =
                    sqlx::query_as(&format!("{EPISODES} {TIMES}"))
                        .bind(from)
                        .bind(to)
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(backend)?;
                let messages: Vec<(i64, String, String, i64)> = sqlx::query_as(MESSAGES_PER_DAY)
                    .bind(from)
                    .bind(to)
                    .bind(offset_ms)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(backend)?;
                let resolved: Vec<(i64, String, i64)> = sqlx::query_as(RESOLVED_PER_DAY)
                    .bind(from)
                    .bind(to)
                    .bind(offset_ms)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(backend)?;
                let ratings: Vec<(String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(RATINGS)
                    .bind(from)
                    .bind(to)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(backend)?;
                let names: Vec<(String, String)> =
                    sqlx::query_as("SELECT name_key, name FROM agents")
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(backend)?;
                let opt = |v: Option<i64>| v.map(uint);
                Ok(ReportRows {
                    started: started.into_iter().map(|(day, n)| (day, uint(n))).collect(),
                    messages: messages
                        .into_iter()
                        .map(|(day, role, agent, n)| {
                            (day, if role == "agent" { agent } else { String::new() }, uint(n))
                        })
                        .collect(),
                    resolved: resolved
                        .into_iter()
                        .map(|(day, agent, n)| (day, agent, uint(n)))
                        .collect(),
                    times: times
                        .into_iter()
                        .map(|(metric, grp, n, median, p90)| {
                            (metric, grp, uint(n), opt(median), opt(p90))
                        })
                        .collect(),
                    ratings: ratings
                        .into_iter()
                        .map(|(agent, n, sum, satisfied)| {
                            (agent, uint(n), uint(sum.unwrap_or(0)), uint(satisfied.unwrap_or(0)))
                        })
                        .collect(),
                    names,
                })
            }
        }
    };
}

pub(super) use report_methods;
