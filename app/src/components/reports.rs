//! An admin's *Reports* view: a period of days (the last 30 when first opened), how the
//! desk did over it (conversations, messages, resolutions, the times to a first response,
//! to resolution and in the queue, ratings), conversations per day as a bar chart with the
//! same figures as a table, the agents as a table, and the days and agents as CSV files.
//! What each figure counts is said in [`crate::protocol::report`].

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{t, use_chat};
use crate::protocol::{Durations, Ratings, Report, ReportFormat};
use crate::text::Ui;

/// The chart's drawing size (it is scaled to the panel's width).
const CHART_W: f64 = 300.0;
const CHART_H: f64 = 100.0;

/// A time in the largest unit that keeps it readable: seconds, minutes, hours.
fn duration_text(ui: &Ui, ms: u64) -> String {
    let s = ms.div_ceil(1000);
    let (template, n) = match s {
        0..=99 => (ui.report_seconds, s.to_string()),
        100..=5999 => (ui.report_minutes, format!("{:.1}", s as f64 / 60.0)),
        _ => (ui.report_hours, format!("{:.1}", s as f64 / 3600.0)),
    };
    template.replace("{n}", n.trim_end_matches(".0"))
}

/// "42 s median, 2 min for 90%", or "none yet".
fn durations_text(ui: &Ui, d: &Durations) -> String {
    match (d.median_ms, d.p90_ms) {
        (Some(median), Some(p90)) => ui
            .report_median_p90
            .replace("{median}", &duration_text(ui, median))
            .replace("{p90}", &duration_text(ui, p90)),
        _ => ui.report_none.to_owned(),
    }
}

fn ratings_text(ui: &Ui, r: &Ratings) -> String {
    match (r.average(), r.satisfied_percent()) {
        (Some(average), Some(satisfied)) => ui
            .report_ratings_summary
            .replace("{count}", &r.count.to_string())
            .replace("{average}", &format!("{average:.1}"))
            .replace("{satisfied}", &satisfied.to_string()),
        _ => ui.report_none.to_owned(),
    }
}

/// Today and 29 days before, in the browser's time zone, as `YYYY-MM-DD`.
#[cfg(feature = "browser")]
fn last_30_days() -> (String, String) {
    let day = |d: &js_sys::Date| {
        format!("{:04}-{:02}-{:02}", d.get_full_year(), d.get_month() + 1, d.get_date())
    };
    // From today's noon: 29 days back is 29 days' midday whatever daylight saving did.
    let today = js_sys::Date::new_0();
    today.set_hours(12);
    let first =
        js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(today.get_time() - 29.0 * 86_400_000.0));
    (day(&first), day(&today))
}

/// The browser's offset from UTC, in minutes east.
#[cfg(feature = "browser")]
fn offset_min() -> i32 {
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}

#[component]
pub fn ReportsPanel() -> impl IntoView {
    let chat = use_chat();
    let (from, to) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let report = RwSignal::new(None::<Report>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let load = move || {
        #[cfg(feature = "browser")]
        {
            let lang = chat.state.lang.get_untracked();
            let url = crate::protocol::report_url(
                &from.get_untracked(),
                &to.get_untracked(),
                offset_min(),
                ReportFormat::Json,
                lang.tag(),
            );
            busy.set(true);
            leptos::task::spawn_local(async move {
                match crate::client::reports::fetch(url, lang).await {
                    Ok(r) => {
                        error.set(None);
                        report.set(Some(r));
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        }
    };
    let show = move |ev: SubmitEvent| {
        ev.prevent_default();
        load();
    };
    // The first time it is opened: the last 30 days.
    let opened = move |_| {
        #[cfg(feature = "browser")]
        {
            if from.get_untracked().is_empty() {
                let (first, last) = last_30_days();
                from.set(first);
                to.set(last);
                load();
            }
        }
    };
    let download = move |format: ReportFormat| {
        let Some(r) = report.get_untracked() else { return };
        #[cfg(feature = "browser")]
        {
            let lang = chat.state.lang.get_untracked().tag();
            let url = crate::protocol::report_url(&r.from, &r.to, offset_min(), format, lang);
            let name = format!("report-{}-{}-{}", r.from, r.to, format.as_str());
            leptos::task::spawn_local(crate::client::files::download(chat.state, url, name));
        }
        #[cfg(not(feature = "browser"))]
        let _ = (r, format, chat);
    };

    let figures = move || {
        report.get().map(|r| {
            let ui = t();
            let d = &r.desk;
            let rows: Vec<(&'static str, String)> = vec![
                (ui.report_conversations, d.conversations.to_string()),
                (ui.report_resolved, d.resolved.to_string()),
                (ui.report_customer_messages, d.customer_messages.to_string()),
                (ui.report_agent_messages, d.agent_messages.to_string()),
                (ui.report_first_response, durations_text(ui, &d.first_response)),
                (ui.report_resolution, durations_text(ui, &d.resolution)),
                (ui.report_queue_wait, durations_text(ui, &d.queue_wait)),
                (ui.report_ratings, ratings_text(ui, &d.ratings)),
            ];
            view! {
                <dl class="report-figures" data-testid="report-figures">
                    {rows.into_iter().map(|(label, value)| view! {
                        <div><dt>{label}</dt><dd>{value}</dd></div>
                    }).collect_view()}
                </dl>
                {chart(ui, &r)}
                <details class="report-table">
                    <summary>{ui.report_days_table}</summary>
                    <div class="report-scroll" tabindex="0" role="region" aria-label=ui.report_days_table>
                        {days_table(ui, &r)}
                    </div>
                </details>
                {agents_table(ui, &r)}
            }
        })
    };

    view! {
        <details class="team reports" data-testid="reports" on:toggle=opened>
            <summary>{move || t().reports_heading}</summary>
            <form class="report-period" on:submit=show>
                <label>
                    {move || t().report_from}
                    <input type="date" data-testid="report-from" prop:value=from
                        on:input=move |ev| from.set(event_target_value(&ev))/>
                </label>
                <label>
                    {move || t().report_to}
                    <input type="date" data-testid="report-to" prop:value=to
                        on:input=move |ev| to.set(event_target_value(&ev))/>
                </label>
                <button type="submit" data-testid="report-show" disabled=move || busy.get()>
                    {move || if busy.get() { t().report_counting } else { t().report_show }}
                </button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="report-error">{e}</p> })}
            {figures}
            <Show when=move || report.with(Option::is_some)>
                <p class="report-downloads">
                    <button type="button" class="link" data-testid="report-days-csv"
                        on:click=move |_| download(ReportFormat::DaysCsv)>
                        {move || t().report_download_days}
                    </button>
                    " · "
                    <button type="button" class="link" data-testid="report-agents-csv"
                        on:click=move |_| download(ReportFormat::AgentsCsv)>
                        {move || t().report_download_agents}
                    </button>
                </p>
            </Show>
        </details>
    }
}

/// Conversations per day as bars, named by a sentence with the figures that matter (the
/// table beside it has every day).
fn chart(ui: &'static Ui, r: &Report) -> impl IntoView {
    let max = r.days.iter().map(|d| d.conversations).max().unwrap_or(0);
    let total: u64 = r.days.iter().map(|d| d.conversations).sum();
    let busiest = r.days.iter().find(|d| d.conversations == max && max > 0).map(|d| d.day.clone());
    let summary = ui
        .report_chart_summary
        .replace("{total}", &total.to_string())
        .replace("{days}", &r.days.len().to_string())
        .replace("{max}", &max.to_string())
        .replace("{day}", busiest.as_deref().unwrap_or("—"));
    let n = r.days.len().max(1) as f64;
    let width = CHART_W / n;
    let bars = r
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = if max == 0 { 0.0 } else { d.conversations as f64 / max as f64 * (CHART_H - 2.0) };
            view! {
                <rect x=format!("{:.2}", i as f64 * width + width * 0.1) y=format!("{:.2}", CHART_H - h)
                    width=format!("{:.2}", width * 0.8) height=format!("{h:.2}")/>
            }
        })
        .collect_view();
    let label = format!("{}: {summary}", ui.report_chart_title);
    view! {
        <figure class="report-chart">
            <figcaption>{ui.report_chart_title}</figcaption>
            <svg viewBox=format!("0 0 {CHART_W} {CHART_H}") role="img" aria-label=label
                preserveAspectRatio="none" data-testid="report-chart">
                {bars}
            </svg>
            <p class="report-summary">{summary}</p>
        </figure>
    }
}

fn days_table(ui: &'static Ui, r: &Report) -> impl IntoView {
    let rows = r
        .days
        .iter()
        .map(|d| {
            view! {
                <tr>
                    <th scope="row">{d.day.clone()}</th>
                    <td>{d.conversations}</td>
                    <td>{d.resolved}</td>
                    <td>{d.customer_messages}</td>
                    <td>{d.agent_messages}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table data-testid="report-days">
            <thead>
                <tr>
                    <th scope="col">{ui.report_day}</th>
                    <th scope="col">{ui.report_conversations}</th>
                    <th scope="col">{ui.report_resolved}</th>
                    <th scope="col">{ui.report_customer_messages}</th>
                    <th scope="col">{ui.report_agent_messages}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

fn agents_table(ui: &'static Ui, r: &Report) -> impl IntoView {
    let rows = r
        .agents
        .iter()
        .map(|a| {
            view! {
                <tr data-testid="report-agent">
                    <th scope="row">{a.name.to_string()}</th>
                    <td>{a.resolved}</td>
                    <td>{a.messages}</td>
                    <td>{durations_text(ui, &a.first_response)}</td>
                    <td>{durations_text(ui, &a.resolution)}</td>
                    <td>{ratings_text(ui, &a.ratings)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="report-scroll" tabindex="0" role="region" aria-label=ui.report_agent>
            <table data-testid="report-agents">
                <thead>
                    <tr>
                        <th scope="col">{ui.report_agent}</th>
                        <th scope="col">{ui.report_resolved}</th>
                        <th scope="col">{ui.report_messages}</th>
                        <th scope="col">{ui.report_first_response}</th>
                        <th scope="col">{ui.report_resolution}</th>
                        <th scope="col">{ui.report_ratings}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    #[test]
    fn times_are_told_in_a_readable_unit_in_both_languages() {
        let en = Lang::En.ui();
        assert_eq!(duration_text(en, 42_000), "42 s");
        assert_eq!(duration_text(en, 150_000), "2.5 min");
        assert_eq!(duration_text(en, 7_200_000), "2 h");
        assert_eq!(duration_text(Lang::ZhCn.ui(), 42_000), "42 秒");
        let d = Durations { count: 2, median_ms: Some(42_000), p90_ms: Some(120_000) };
        assert_eq!(durations_text(en, &d), "42 s median, 2 min for 90%");
        assert_eq!(durations_text(en, &Durations::default()), "none yet");
    }
}
