//! `/supervisor/analytics`: the analytics report (`GET /api/v1/analytics`) as a page of charts,
//! rendered on the server as SVG (no script, nothing fetched): bot outcomes per day, the three
//! rates per bot, average sentiment per day and the agents' wait and handle times per day, with
//! the figures in tables beneath. It reads the session cookie set by signing in on
//! `/supervisor` (or `/agent`); supervisors and admins only.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::analytics::{BotFigures, Figures, Mean, Report};

use crate::api::analytics::{Days, RangeQuery, compute, day_text, now};
use crate::api::auth::Caller;
use crate::api::transcripts::scope;
use crate::{ApiError, AppState};

/// Inline styles only; nothing else loads.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

const RESOLVED: &str = "#2e7d32";
const ESCALATED: &str = "#f9a825";
const ABANDONED: &str = "#c62828";
const LINE: &str = "#1565c0";
const HANDLE: &str = "#6a1b9a";

pub fn routes() -> Router<AppState> {
    Router::new().route("/supervisor/analytics", get(page))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn shell(title: &str, main: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} · Switchboard</title><style>
body{{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}}
header{{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}}
header a{{color:#cfd8e3}} main{{padding:16px 20px;max-width:1200px}}
.grid{{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}}
figure{{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:0;padding:12px}}
figcaption{{font-weight:600;margin-bottom:6px}} table{{border-collapse:collapse;background:#fff;margin:12px 0}}
td,th{{border:1px solid #dde1e7;padding:4px 8px;text-align:right}} th:first-child,td:first-child{{text-align:left}}
.kpis{{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}} .kpi{{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:8px 14px}}
.kpi b{{display:block;font-size:22px}} form{{display:flex;gap:8px;align-items:center}}
.legend span{{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}}
</style></head><body><header><strong>Switchboard analytics</strong><a href="/supervisor">Live view</a></header><main>{main}</main></body></html>"#
    )
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.1} %", v * 100.0))
}

fn secs(m: &Mean) -> String {
    m.value().map_or("–".into(), |v| {
        if v >= 120.0 {
            format!("{:.1} min", v / 60.0)
        } else {
            format!("{v:.1} s")
        }
    })
}

fn score(m: &Mean) -> String {
    m.value().map_or("–".into(), |v| {
        format!("{v:+.3} ({})", sentiment::Level::of(v).as_str().replace('_', " "))
    })
}

/// Chart geometry shared by the per-day charts.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    bottom: f64,
    top: f64,
}

const FRAME: Frame = Frame {
    width: 560.0,
    height: 240.0,
    left: 44.0,
    bottom: 40.0,
    top: 12.0,
};

impl Frame {
    fn plot_height(&self) -> f64 {
        self.height - self.bottom - self.top
    }

    fn y(&self, v: f64, max: f64) -> f64 {
        self.top + self.plot_height() * (1.0 - if max > 0.0 { v / max } else { 0.0 })
    }

    /// The axes, with `ticks` labelled values from 0 to `max` (or `min` … `max`).
    fn axes(&self, out: &mut String, min: f64, max: f64, label: impl Fn(f64) -> String) {
        let x0 = self.left;
        let x1 = self.width - 8.0;
        for i in 0..=4 {
            let v = min + (max - min) * f64::from(i) / 4.0;
            let y = self.top + self.plot_height() * (1.0 - f64::from(i) / 4.0);
            let _ = write!(
                out,
                r##"<line x1="{x0}" x2="{x1}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e6ea"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#555">{}</text>"##,
                x0 - 4.0,
                y + 3.0,
                esc(&label(v))
            );
        }
    }

    /// Day labels under the slots (at most about ten shown).
    fn days(&self, out: &mut String, days: Days) {
        let n = (days.last - days.first + 1) as f64;
        let slot = (self.width - 8.0 - self.left) / n;
        let every = ((n / 10.0).ceil() as i64).max(1);
        for (i, d) in (days.first..=days.last).enumerate() {
            if (i as i64) % every != 0 {
                continue;
            }
            let x = self.left + slot * (i as f64 + 0.5);
            let _ = write!(
                out,
                r##"<text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
                self.height - self.bottom + 14.0,
                &day_text(d)[5..]
            );
        }
    }

    fn slot(&self, days: Days) -> f64 {
        (self.width - 8.0 - self.left) / (days.last - days.first + 1) as f64
    }

    fn open(&self, id: &str, title: &str) -> String {
        format!(
            r#"<svg data-testid="chart-{id}" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%">"#,
            esc(title),
            self.width,
            self.height
        )
    }
}

/// The top of an axis with four ticks for values up to `v`: four times a round step (1, 2 or 5
/// times a power of ten), so every tick is a round number.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 4.0;
    }
    let quarter = v / 4.0;
    let p = 10f64.powf(quarter.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|step| quarter <= *step)
        .unwrap_or(10.0 * p);
    step * 4.0
}

/// A tick label with as many decimals as the axis needs.
fn tick(v: f64, max: f64, unit: &str) -> String {
    match max {
        m if m >= 40.0 => format!("{v:.0}{unit}"),
        m if m >= 4.0 => format!("{v:.1}{unit}").replace(".0", ""),
        _ => format!("{v:.2}{unit}"),
    }
}

fn legend(items: &[(&str, &str)]) -> String {
    let mut out = String::from(r#"<div class="legend">"#);
    for (colour, name) in items {
        let _ = write!(out, r#"<span style="background:{colour}"></span>{name}"#);
    }
    out.push_str("</div>");
    out
}

/// Bot outcomes per day, stacked.
fn outcomes_chart(days: Days, report: &Report) -> String {
    let f = &FRAME;
    let empty = Figures::default();
    let per_day = |d: i64| report.by_day.get(&d).unwrap_or(&empty).bot;
    let max = nice_max(
        (days.first..=days.last)
            .map(|d| per_day(d).finished() as f64)
            .fold(0.0, f64::max),
    );
    let mut out = f.open("outcomes", "Bot outcomes per day");
    f.axes(&mut out, 0.0, max, |v| tick(v, max.max(40.0), ""));
    let slot = f.slot(days);
    for (i, d) in (days.first..=days.last).enumerate() {
        let b = per_day(d);
        let x = f.left + slot * i as f64 + slot * 0.15;
        let mut base = 0.0;
        for (n, colour, name) in [
            (b.resolved, RESOLVED, "resolved"),
            (b.escalated, ESCALATED, "escalated"),
            (b.abandoned, ABANDONED, "abandoned"),
        ] {
            if n == 0 {
                continue;
            }
            let y_top = f.y(base + n as f64, max);
            let y_bottom = f.y(base, max);
            let _ = write!(
                out,
                r#"<rect data-series="{name}" x="{x:.1}" y="{y_top:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{} {name}: {n}</title></rect>"#,
                slot * 0.7,
                y_bottom - y_top,
                day_text(d)
            );
            base += n as f64;
        }
    }
    f.days(&mut out, days);
    out.push_str("</svg>");
    out + &legend(&[
        (RESOLVED, "resolved"),
        (ESCALATED, "escalated"),
        (ABANDONED, "abandoned"),
    ])
}

/// Each bot's finished conversations as one 100 % bar.
fn rates_chart(report: &Report) -> String {
    let row = 30.0;
    let left = 130.0;
    let width = 560.0;
    let height = (report.by_bot.len().max(1) as f64) * row + 24.0;
    let mut out = format!(
        r#"<svg data-testid="chart-rates" role="img" aria-label="Resolution, escalation and abandon rates per bot" viewBox="0 0 {width} {height}" width="100%">"#
    );
    if report.by_bot.is_empty() {
        out.push_str(r##"<text x="10" y="20" fill="#555">No bot conversations in this range.</text>"##);
    }
    for (i, (bot, b)) in report.by_bot.iter().enumerate() {
        let y = 6.0 + row * i as f64;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + 15.0,
            esc(bot.as_str())
        );
        let mut x = left;
        let span = width - left - 10.0;
        for (r, colour, name) in [
            (b.resolution_rate(), RESOLVED, "resolved"),
            (b.escalation_rate(), ESCALATED, "escalated"),
            (b.abandon_rate(), ABANDONED, "abandoned"),
        ] {
            let w = r.unwrap_or(0.0) * span;
            if w > 0.0 {
                let _ = write!(
                    out,
                    r#"<rect data-series="{name}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="22" fill="{colour}"><title>{} {name}: {}</title></rect>"#,
                    esc(bot.as_str()),
                    pct(r)
                );
                if w > 36.0 {
                    let _ = write!(
                        out,
                        r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#fff" text-anchor="middle">{:.0}%</text>"##,
                        x + w / 2.0,
                        y + 15.0,
                        r.unwrap_or(0.0) * 100.0
                    );
                }
            }
            x += w;
        }
    }
    out.push_str("</svg>");
    out + &legend(&[
        (RESOLVED, "resolved"),
        (ESCALATED, "escalated"),
        (ABANDONED, "abandoned"),
    ])
}

/// Average sentiment per day (−1 … +1), a line over the days that have one.
fn sentiment_chart(days: Days, report: &Report) -> String {
    let f = &FRAME;
    let mut out = f.open("sentiment", "Average bot-conversation sentiment per day");
    f.axes(&mut out, -1.0, 1.0, |v| format!("{v:+.1}"));
    let slot = f.slot(days);
    let mut points = Vec::new();
    for (i, d) in (days.first..=days.last).enumerate() {
        if let Some(v) = report.by_day.get(&d).and_then(|f| f.bot.sentiment.value()) {
            let x = f.left + slot * (i as f64 + 0.5);
            let y = f.top + f.plot_height() * (1.0 - (v + 1.0) / 2.0);
            points.push((x, y, v, d));
        }
    }
    if points.len() > 1 {
        let path: Vec<String> = points.iter().map(|(x, y, _, _)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{LINE}" stroke-width="2"/>"#,
            path.join(" ")
        );
    }
    for (x, y, v, d) in &points {
        let _ = write!(
            out,
            r#"<circle data-series="sentiment" cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{LINE}"><title>{}: {v:+.3}</title></circle>"#,
            day_text(*d)
        );
    }
    f.days(&mut out, days);
    out.push_str("</svg>");
    out
}

/// Agents' average wait and handle time per day, side by side.
fn agent_chart(days: Days, report: &Report) -> String {
    let f = &FRAME;
    let values = |d: i64| {
        report
            .by_day
            .get(&d)
            .map_or((None, None), |f| (f.agent.wait.value(), f.agent.handle_time.value()))
    };
    let max = nice_max(
        (days.first..=days.last)
            .flat_map(|d| {
                let (w, h) = values(d);
                [w.unwrap_or(0.0), h.unwrap_or(0.0)]
            })
            .fold(0.0, f64::max),
    );
    let mut out = f.open("agents", "Average wait and handle time per day (seconds)");
    f.axes(&mut out, 0.0, max, |v| tick(v, max, "s"));
    let slot = f.slot(days);
    for (i, d) in (days.first..=days.last).enumerate() {
        let (wait, handle) = values(d);
        for (j, (v, colour, name)) in [(wait, ESCALATED, "wait"), (handle, HANDLE, "handle")]
            .into_iter()
            .enumerate()
        {
            let Some(v) = v else { continue };
            let x = f.left + slot * i as f64 + slot * (0.12 + 0.38 * j as f64);
            let y = f.y(v, max);
            let _ = write!(
                out,
                r#"<rect data-series="{name}" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{} {name}: {v:.1} s</title></rect>"#,
                slot * 0.36,
                f.y(0.0, max) - y,
                day_text(d)
            );
        }
    }
    f.days(&mut out, days);
    out.push_str("</svg>");
    out + &legend(&[(ESCALATED, "average wait"), (HANDLE, "average handle time")])
}

fn bot_row(name: &str, b: &BotFigures) -> String {
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(name),
        b.conversations,
        b.in_progress,
        pct(b.resolution_rate()),
        pct(b.escalation_rate()),
        pct(b.abandon_rate()),
        secs(&b.resolution_time),
        secs(&b.escalation_time),
        score(&b.sentiment)
    )
}

fn render(days: Days, report: &Report) -> String {
    let t = &report.total;
    let mut main = format!(
        r#"<form method="get" action="/supervisor/analytics"><label>From <input type="date" name="from" value="{}"></label>
<label>to <input type="date" name="to" value="{}"></label><button type="submit">Show</button></form>
<div class="kpis" data-testid="kpis">
<div class="kpi">Bot conversations<b data-testid="kpi-bot-conversations">{}</b></div>
<div class="kpi">Resolution rate<b data-testid="kpi-resolution-rate">{}</b></div>
<div class="kpi">Escalation rate<b data-testid="kpi-escalation-rate">{}</b></div>
<div class="kpi">Abandon rate<b data-testid="kpi-abandon-rate">{}</b></div>
<div class="kpi">Avg resolution time<b>{}</b></div><div class="kpi">Avg escalation time<b>{}</b></div>
<div class="kpi">Avg sentiment<b>{}</b></div>
<div class="kpi">Agent conversations<b>{}</b></div><div class="kpi">Avg wait<b>{}</b></div>
<div class="kpi">Avg handle time<b>{}</b></div><div class="kpi">Transfer rate<b>{}</b></div>
<div class="kpi">Avg CSAT (1–5)<b data-testid="kpi-csat">{}</b></div>
<div class="kpi">Satisfied (4–5)<b data-testid="kpi-satisfied">{}</b></div>
<div class="kpi">Survey responses<b data-testid="kpi-survey-responses">{} of {}</b></div></div>
<div class="grid">
<figure><figcaption>Bot outcomes per day</figcaption>{}</figure>
<figure><figcaption>Rates per bot</figcaption>{}</figure>
<figure><figcaption>Average sentiment per day</figcaption>{}</figure>
<figure><figcaption>Agents: wait and handle time per day</figcaption>{}</figure>
</div>"#,
        day_text(days.first),
        day_text(days.last),
        t.bot.conversations,
        pct(t.bot.resolution_rate()),
        pct(t.bot.escalation_rate()),
        pct(t.bot.abandon_rate()),
        secs(&t.bot.resolution_time),
        secs(&t.bot.escalation_time),
        score(&t.bot.sentiment),
        t.agent.conversations,
        secs(&t.agent.wait),
        secs(&t.agent.handle_time),
        pct(t.agent.transfer_rate()),
        t.survey.csat.value().map_or("–".to_owned(), |v| format!("{v:.2}")),
        pct(t.survey.satisfied_rate()),
        t.survey.responses,
        t.survey.surveyed,
        outcomes_chart(days, report),
        rates_chart(report),
        sentiment_chart(days, report),
        agent_chart(days, report),
    );
    main.push_str(
        "<h3>Per bot</h3><table data-testid=\"by-bot\"><tr><th>Bot</th><th>Conversations</th><th>In progress</th>\
         <th>Resolved</th><th>Escalated</th><th>Abandoned</th><th>Avg resolution</th><th>Avg escalation</th>\
         <th>Avg sentiment</th></tr>",
    );
    for (bot, b) in &report.by_bot {
        main.push_str(&bot_row(bot.as_str(), b));
    }
    main.push_str(&bot_row("All bots", &t.bot));
    main.push_str(
        "</table><h3>Per workstream</h3><table data-testid=\"by-workstream\"><tr><th>Workstream</th><th>Conversations</th>\
         <th>Bot resolved</th><th>Bot escalated</th><th>Bot abandoned</th><th>Agent conversations</th><th>Avg wait</th>\
         <th>Avg handle</th><th>Transfer rate</th></tr>",
    );
    for (ws, f) in &report.by_workstream {
        let _ = write!(
            main,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(ws.as_str()),
            f.conversations,
            pct(f.bot.resolution_rate()),
            pct(f.bot.escalation_rate()),
            pct(f.bot.abandon_rate()),
            f.agent.conversations,
            secs(&f.agent.wait),
            secs(&f.agent.handle_time),
            pct(f.agent.transfer_rate())
        );
    }
    main.push_str(
        "</table><p>Definitions: docs/analytics.md. Days are UTC; a conversation counts on the day it was created.</p>",
    );
    shell("Analytics", &main)
}

async fn page(
    caller: Result<Caller, ApiError>,
    State(state): State<AppState>,
    Query(query): Query<RangeQuery>,
) -> Response {
    let caller = match caller {
        Ok(c) => c,
        Err(_) => {
            return html(
                StatusCode::UNAUTHORIZED,
                shell(
                    "Sign in",
                    r#"<p data-testid="signin-needed">Sign in on the <a href="/supervisor">supervisor view</a> first; this page uses that session.</p>"#,
                ),
            );
        }
    };
    let keep = match scope(&state, &caller) {
        Ok(k) => k,
        Err(e) => {
            return html(
                StatusCode::FORBIDDEN,
                shell("Not allowed", &format!("<p>{}</p>", esc(&e.to_string()))),
            );
        }
    };
    let days = match query.days(now()) {
        Ok(d) => d,
        Err(e) => {
            return html(
                StatusCode::BAD_REQUEST,
                shell("Bad range", &format!("<p>{}</p>", esc(&e.to_string()))),
            );
        }
    };
    match compute(state.hub.store(), days, keep.as_ref()).await {
        Ok(report) => html(StatusCode::OK, render(days, &report)),
        Err(e) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            shell(
                "Unavailable",
                &format!("<p>The report could not be read: {}</p>", esc(&e.to_string())),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_four_round_steps() {
        assert_eq!(nice_max(3.0), 4.0);
        assert_eq!(nice_max(5.0), 8.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(0.3), 0.4);
        assert_eq!(nice_max(0.0), 4.0);
        assert_eq!(tick(50.0, 200.0, "s"), "50s");
        assert_eq!(tick(0.1, 0.4, "s"), "0.10s");
        assert_eq!(tick(2.0, 8.0, "s"), "2s");
    }

    #[test]
    fn names_are_escaped_in_the_markup() {
        assert_eq!(
            esc("<b>\"a\" & 'b'</b>"),
            "&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;"
        );
    }
}
