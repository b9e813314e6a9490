//! Counters, histograms and process gauges for `/metrics`, written in the Prometheus
//! text format by hand (a few lines do not justify a metrics crate).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokengate_core::audit::{Reason, Verdict};

/// Histogram bucket upper bounds, seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, value: Duration) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        let seconds = value.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let count = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

#[derive(Debug, Default)]
struct State {
    requests: BTreeMap<(&'static str, &'static str), u64>,
    upstream_errors: BTreeMap<&'static str, u64>,
    latency: Histogram,
    audit_commit: Histogram,
    audit_records: u64,
    audit_commits: u64,
    completions_dropped: u64,
    /// Requests the proxy-wasm filters decided, from their stored batches.
    filter_requests: BTreeMap<(&'static str, &'static str), u64>,
    filter_batches: BTreeMap<&'static str, u64>,
    filter_dropped: u64,
    filter_configs: BTreeMap<&'static str, u64>,
    webhook_deliveries: u64,
    webhook_failures: u64,
    /// The audit sink, when the gateway has one.
    sink: Option<Sink>,
}

/// The audit sink's counters and gauges.
#[derive(Debug, Default)]
struct Sink {
    /// This gateway holds the lease (on PostgreSQL one gateway streams).
    active: bool,
    delivered: u64,
    failures: u64,
    lag_records: u64,
    lag_ms: i64,
    /// Per record, from its request to its delivery.
    delay: Histogram,
}

/// The gateway's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One answered request: its decision, reason and latency.
    pub fn observe_request(&self, decision: &'static str, reason: &'static str, latency: Duration) {
        let mut state = self.state();
        *state.requests.entry((decision, reason)).or_default() += 1;
        state.latency.observe(latency);
    }

    /// One audit commit of `records` records and completions.
    pub fn observe_audit_commit(&self, latency: Duration, records: usize) {
        let mut state = self.state();
        state.audit_commit.observe(latency);
        state.audit_commits += 1;
        state.audit_records += u64::try_from(records).unwrap_or(u64::MAX);
    }

    /// One webhook delivery attempt: answered with 2xx, or failed.
    pub fn webhook(&self, delivered: bool) {
        let mut state = self.state();
        if delivered {
            state.webhook_deliveries += 1;
        } else {
            state.webhook_failures += 1;
        }
    }

    /// A completion (upstream status and latency) dropped because the audit queue was full.
    pub fn completion_dropped(&self) {
        self.state().completions_dropped += 1;
    }

    /// One failed upstream exchange (`connect`, `timeout`, `other`).
    pub fn upstream_error(&self, kind: &'static str) {
        *self.state().upstream_errors.entry(kind).or_default() += 1;
    }

    /// A filter's pull: `sent`, `not-modified` or `unavailable`.
    pub fn filter_config(&self, outcome: &'static str) {
        *self.state().filter_configs.entry(outcome).or_default() += 1;
    }

    /// A filter's audit batch (`stored`, `duplicate`, `refused`, `unavailable`) and the
    /// records the filter said it dropped before it.
    pub fn filter_batch(&self, outcome: &'static str, dropped: u64) {
        let mut state = self.state();
        *state.filter_batches.entry(outcome).or_default() += 1;
        state.filter_dropped = state.filter_dropped.saturating_add(dropped);
    }

    /// The decisions of a stored filter batch.
    pub fn filter_records(&self, decided: &[(Verdict, Option<Reason>)]) {
        let mut state = self.state();
        for (decision, reason) in decided {
            // An allowed record has no reason: the filter let it through.
            let reason = reason.map_or("forwarded", Reason::as_str);
            *state
                .filter_requests
                .entry((decision.as_str(), reason))
                .or_default() += 1;
        }
    }

    /// The gateway streams its audit log (`audit_sink`): the sink's lines are shown.
    pub fn sink_started(&self) {
        self.state().sink = Some(Sink::default());
    }

    /// Whether this gateway streams (holds the lease) or another one does.
    pub fn sink_active(&self, active: bool) {
        if let Some(sink) = self.state().sink.as_mut() {
            sink.active = active;
        }
    }

    /// Records the sink took, by their age in ms when it took them.
    pub fn sink_delivered(&self, ages_ms: impl Iterator<Item = i64>) {
        if let Some(sink) = self.state().sink.as_mut() {
            for age in ages_ms {
                sink.delivered += 1;
                let age = u64::try_from(age).unwrap_or(0);
                sink.delay.observe(Duration::from_millis(age));
            }
        }
    }

    /// A round the sink did not take.
    pub fn sink_failed(&self) {
        if let Some(sink) = self.state().sink.as_mut() {
            sink.failures += 1;
        }
    }

    /// How far the sink is behind: committed records not sent, and the age of the
    /// oldest of them, ms.
    pub fn sink_lag(&self, records: u64, oldest_ms: i64) {
        if let Some(sink) = self.state().sink.as_mut() {
            sink.lag_records = records;
            sink.lag_ms = oldest_ms;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, live_tokens: usize) -> String {
        let state = self.state();
        let mut out = String::new();
        out.push_str(
            "# HELP tokengate_requests_total Requests answered, by decision and reason.\n\
             # TYPE tokengate_requests_total counter\n",
        );
        for ((decision, reason), count) in &state.requests {
            let _ = writeln!(
                out,
                "tokengate_requests_total{{decision=\"{}\",reason=\"{}\"}} {count}",
                escape(decision),
                escape(reason)
            );
        }
        out.push_str(
            "# HELP tokengate_upstream_errors_total Failed upstream exchanges, by kind.\n\
             # TYPE tokengate_upstream_errors_total counter\n",
        );
        for (kind, count) in &state.upstream_errors {
            let _ = writeln!(
                out,
                "tokengate_upstream_errors_total{{kind=\"{kind}\"}} {count}"
            );
        }
        state.latency.render(
            &mut out,
            "tokengate_request_duration_seconds",
            "Time from request to response headers.",
        );
        state.audit_commit.render(
            &mut out,
            "tokengate_audit_commit_duration_seconds",
            "Time to commit one batch of audit records.",
        );
        let _ = writeln!(
            out,
            "# HELP tokengate_audit_commits_total Audit batches committed.\n\
             # TYPE tokengate_audit_commits_total counter\ntokengate_audit_commits_total {}\n\
             # HELP tokengate_audit_writes_total Audit records and completions committed.\n\
             # TYPE tokengate_audit_writes_total counter\ntokengate_audit_writes_total {}\n\
             # HELP tokengate_audit_completions_dropped_total Upstream statuses not recorded \
             because the audit queue was full.\n\
             # TYPE tokengate_audit_completions_dropped_total counter\n\
             tokengate_audit_completions_dropped_total {}",
            state.audit_commits, state.audit_records, state.completions_dropped
        );
        let _ = writeln!(
            out,
            "# HELP tokengate_webhook_deliveries_total Token events delivered to the webhook.\n\
             # TYPE tokengate_webhook_deliveries_total counter\n\
             tokengate_webhook_deliveries_total {}\n\
             # HELP tokengate_webhook_failures_total Webhook deliveries that failed (retried).\n\
             # TYPE tokengate_webhook_failures_total counter\n\
             tokengate_webhook_failures_total {}",
            state.webhook_deliveries, state.webhook_failures
        );
        render_filters(&mut out, &state);
        if let Some(sink) = &state.sink {
            render_sink(&mut out, sink);
        }
        let _ = writeln!(
            out,
            "# HELP tokengate_live_tokens Tokens that can be used.\n\
             # TYPE tokengate_live_tokens gauge\ntokengate_live_tokens {live_tokens}"
        );
        render_process(&mut out);
        out
    }
}

/// What the proxy-wasm filters sent: their decisions (from stored audit batches), the
/// batches, the records they dropped, and their configuration pulls.
fn render_filters(out: &mut String, state: &State) {
    out.push_str(
        "# HELP tokengate_filter_requests_total Requests the proxy-wasm filters decided, from \
         their stored audit batches, by decision and reason.\n\
         # TYPE tokengate_filter_requests_total counter\n",
    );
    for ((decision, reason), count) in &state.filter_requests {
        let _ = writeln!(
            out,
            "tokengate_filter_requests_total{{decision=\"{}\",reason=\"{}\"}} {count}",
            escape(decision),
            escape(reason)
        );
    }
    out.push_str(
        "# HELP tokengate_filter_batches_total Audit batches from filters, by outcome.\n\
         # TYPE tokengate_filter_batches_total counter\n",
    );
    for (outcome, count) in &state.filter_batches {
        let _ = writeln!(
            out,
            "tokengate_filter_batches_total{{outcome=\"{outcome}\"}} {count}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP tokengate_filter_dropped_records_total Audit records filters reported \
         dropping before they reached the gateway.\n\
         # TYPE tokengate_filter_dropped_records_total counter\n\
         tokengate_filter_dropped_records_total {}",
        state.filter_dropped
    );
    out.push_str(
        "# HELP tokengate_filter_config_requests_total Configuration pulls by filters, by \
         outcome.\n\
         # TYPE tokengate_filter_config_requests_total counter\n",
    );
    for (outcome, count) in &state.filter_configs {
        let _ = writeln!(
            out,
            "tokengate_filter_config_requests_total{{outcome=\"{outcome}\"}} {count}"
        );
    }
}

/// The audit sink: what it took, how often it failed, how far it is behind.
fn render_sink(out: &mut String, sink: &Sink) {
    let _ = writeln!(
        out,
        "# HELP tokengate_audit_sink_active 1 when this gateway streams the audit log (one \
         gateway on a shared database does).\n\
         # TYPE tokengate_audit_sink_active gauge\ntokengate_audit_sink_active {}\n\
         # HELP tokengate_audit_sink_delivered_total Audit records the sink took.\n\
         # TYPE tokengate_audit_sink_delivered_total counter\n\
         tokengate_audit_sink_delivered_total {}\n\
         # HELP tokengate_audit_sink_failures_total Rounds the sink did not take (down, \
         refused, write error); their records are sent again.\n\
         # TYPE tokengate_audit_sink_failures_total counter\n\
         tokengate_audit_sink_failures_total {}\n\
         # HELP tokengate_audit_sink_lag_records Committed audit records not sent yet.\n\
         # TYPE tokengate_audit_sink_lag_records gauge\n\
         tokengate_audit_sink_lag_records {}\n\
         # HELP tokengate_audit_sink_lag_seconds Age of the oldest committed record not \
         sent yet (0: caught up).\n\
         # TYPE tokengate_audit_sink_lag_seconds gauge\n\
         tokengate_audit_sink_lag_seconds {}",
        u8::from(sink.active),
        sink.delivered,
        sink.failures,
        sink.lag_records,
        Duration::from_millis(u64::try_from(sink.lag_ms).unwrap_or(0)).as_secs_f64()
    );
    sink.delay.render(
        out,
        "tokengate_audit_sink_delay_seconds",
        "Per record the sink took, time from its request to its delivery.",
    );
}

/// Gauges that show leaks: tasks or descriptors that keep growing under steady
/// traffic are connections or requests never released.
fn render_process(out: &mut String) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let _ = writeln!(
            out,
            "# HELP tokengate_tasks_alive Tasks alive on the gateway's runtime.\n\
             # TYPE tokengate_tasks_alive gauge\ntokengate_tasks_alive {}",
            runtime.metrics().num_alive_tasks()
        );
    }
    // Linux only; elsewhere the line is left out.
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        // The listing includes the descriptor that reads it.
        let open = entries.count().saturating_sub(1);
        let _ = writeln!(
            out,
            "# HELP tokengate_open_fds File descriptors the process holds open.\n\
             # TYPE tokengate_open_fds gauge\ntokengate_open_fds {open}"
        );
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
