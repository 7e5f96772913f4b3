//! `report.md`: the figures of a run or a sweep as markdown someone pastes into a capacity plan.
//!
//! Numbers are rounded for reading ([`human`]); the exact values stay in `report.json`. Counts
//! that say whether data was lost (missing, duplicates, out of order) are printed exactly.
//! Strings that come from outside (host names, check details, commands) are escaped for table
//! cells, and the generated configuration goes in a code fence longer than any backtick run it
//! contains, so no input can break the layout.

use std::fmt::Write;

use super::human::{self, opt};
use super::model::{Environment, Latency, RunReport, SweepReport, SystemUnderTest};
use super::{CPU_VS_LOAD_SVG, LATENCY_SVG, LATENCY_VS_LOAD_SVG, RESOURCES_SVG, THROUGHPUT_SVG};

/// The markdown summary of one scenario run.
pub fn run_markdown(r: &RunReport) -> String {
    let mut md = String::new();
    let verdict = if r.passed { "PASS ✓" } else { "FAIL ✗" };
    line(&mut md, format!("# {}: {verdict}", title(&r.scenario)));
    if !r.description.trim().is_empty() {
        line(&mut md, "");
        line(&mut md, r.description.trim());
    }

    let (load, del, res) = (&r.load, &r.delivery, &r.resources);
    let offered = match load.target_rate {
        Some(rate) => human::per_sec(rate, "lines"),
        None => "as fast as possible".to_owned(),
    };
    let mut rows = vec![
        (
            "Load",
            format!(
                "{} to {} target(s) for {}",
                load.kind,
                load.targets,
                human::secs(load.seconds)
            ),
        ),
        ("Offered rate", offered),
        ("Achieved rate", human::per_sec(load.achieved_rate, "lines")),
        ("Received", human::per_sec(del.events_per_sec, "events")),
        ("Throughput", format!("{} MB/s", human::num(del.mb_per_sec))),
        (
            "Line size",
            format!(
                "{} (mean, newline included)",
                human::bytes(load.mean_line_bytes)
            ),
        ),
        ("Lines written", human::ucount(load.lines)),
        (
            "Lines received",
            format!(
                "{} unique of {}",
                human::ucount(del.unique),
                human::ucount(del.lines)
            ),
        ),
        ("Lost (missing)", human::ucount(del.missing)),
        ("Duplicates", human::ucount(del.duplicates)),
        ("Out of order", human::ucount(del.out_of_order)),
        ("Malformed", human::ucount(del.malformed)),
    ];
    if load.rotations > 0 {
        rows.push(("Rotations", human::ucount(load.rotations)));
    }
    match &r.latency {
        Some(l) => rows.extend(latency_rows(l)),
        None => rows.push(("Latency", "no line received".to_owned())),
    }
    rows.extend([
        ("CPU time", human::secs(res.cpu_seconds)),
        (
            "CPU mean",
            format!("{} of one core", human::percent(res.cpu_percent_mean)),
        ),
        (
            "CPU per million events",
            opt(res.cpu_seconds_per_million_events, human::secs),
        ),
        (
            "GB per CPU-second",
            opt(res.bytes_per_cpu_second, |b| human::num(b / 1e9)),
        ),
        ("Peak RSS", human::bytes(res.peak_rss_bytes as f64)),
        ("Mean RSS", human::bytes(res.mean_rss_bytes as f64)),
        ("Receiver CPU time", human::secs(del.receiver_cpu_seconds)),
    ]);
    section(&mut md, "Summary");
    table(
        &mut md,
        &["Figure", "Value"],
        rows.into_iter().map(|(k, v)| vec![k.to_owned(), v]),
    );

    section(&mut md, "Checks");
    if r.checks.is_empty() {
        line(&mut md, "No checks were run.");
    }
    for c in &r.checks {
        let mark = if c.ok { "✓" } else { "✗" };
        let detail = one_line(&c.detail);
        if detail.is_empty() {
            line(&mut md, format!("- {mark} **{}**", one_line(&c.name)));
        } else {
            line(
                &mut md,
                format!("- {mark} **{}**: {detail}", one_line(&c.name)),
            );
        }
    }

    section(&mut md, "Charts");
    images(
        &mut md,
        &[
            ("Throughput over time", THROUGHPUT_SVG),
            ("Latency over time", LATENCY_SVG),
            ("CPU and memory over time", RESOURCES_SVG),
        ],
    );
    environment(&mut md, &r.environment);
    system_under_test(&mut md, &r.system_under_test);
    md
}

/// The markdown summary of a capacity sweep.
pub fn sweep_markdown(r: &SweepReport) -> String {
    let mut md = String::new();
    line(&mut md, format!("# Capacity sweep: {}", title(&r.scenario)));
    line(&mut md, "");
    line(&mut md, headline(r));

    section(&mut md, "Result");
    let mut rows = vec![
        ("SLO", format!("p99 ≤ {}", human::ms(r.slo_p99_ms))),
        (
            "Line size",
            format!("{} (mean, newline included)", human::bytes(r.line_bytes)),
        ),
        (
            "Highest sustainable rate",
            opt(r.max_sustainable_rate, |v| human::per_sec(v, "events")),
        ),
        (
            "Throughput at that rate",
            opt(r.max_sustainable_bytes_per_sec, |b| {
                format!("{} MB/s", human::num(b / 1e6))
            }),
        ),
        ("p99 at that rate", opt(r.p99_ms_at_max, human::ms)),
        (
            "CPU per million events",
            opt(r.cpu_seconds_per_million_events, human::secs),
        ),
    ];
    if let Some(h) = &r.headroom {
        rows.push((
            "Expected workload",
            format!(
                "{} of {}: {} of the highest sustainable rate",
                human::per_sec(h.expected_rate, "events"),
                human::bytes(h.line_bytes as f64),
                human::percent(h.percent_used)
            ),
        ));
    }
    table(
        &mut md,
        &["Figure", "Value"],
        rows.into_iter().map(|(k, v)| vec![k.to_owned(), v]),
    );

    section(&mut md, "Steps");
    let lat = |l: &Option<Latency>, f: fn(&Latency) -> f64| {
        l.as_ref()
            .map_or_else(|| human::NA.to_owned(), |l| human::ms(f(l)))
    };
    table(
        &mut md,
        &[
            "Offered",
            "Achieved",
            "Received",
            "p50",
            "p99",
            "p99.9",
            "CPU",
            "CPU s/M events",
            "Peak RSS",
            "Lost",
            "Lag",
            "Sustainable",
        ],
        r.steps.iter().map(|s| {
            vec![
                human::rate(s.offered_rate),
                human::rate(s.achieved_rate),
                human::rate(s.received_rate),
                lat(&s.latency, |l| l.p50_ms),
                lat(&s.latency, |l| l.p99_ms),
                lat(&s.latency, |l| l.p999_ms),
                human::percent(s.cpu_percent_mean),
                opt(s.cpu_seconds_per_million_events, human::num),
                human::bytes(s.peak_rss_bytes as f64),
                human::ucount(s.missing),
                human::count(s.lag_lines_end),
                if s.sustainable {
                    "✓".to_owned()
                } else {
                    format!("✗ {}", s.reason.as_deref().unwrap_or("no reason given"))
                },
            ]
        }),
    );

    section(&mut md, "Charts");
    images(
        &mut md,
        &[
            ("Latency against offered load", LATENCY_VS_LOAD_SVG),
            (
                "CPU and received rate against offered load",
                CPU_VS_LOAD_SVG,
            ),
        ],
    );
    environment(&mut md, &r.environment);
    system_under_test(&mut md, &r.system_under_test);
    md
}

/// The one sentence a sweep comes down to.
fn headline(r: &SweepReport) -> String {
    if let Some(h) = r
        .headroom
        .as_ref()
        .filter(|h| !h.statement.trim().is_empty())
    {
        return one_line(&h.statement);
    }
    match r.max_sustainable_rate {
        Some(rate) => format!(
            "This host sustains {} of {} at p99 ≤ {}.",
            human::per_sec(rate, "events"),
            human::bytes(r.line_bytes),
            human::ms(r.slo_p99_ms)
        ),
        None => format!(
            "No offered rate was sustained at p99 ≤ {} (lines of {}).",
            human::ms(r.slo_p99_ms),
            human::bytes(r.line_bytes)
        ),
    }
}

fn latency_rows(l: &Latency) -> Vec<(&'static str, String)> {
    vec![
        ("Latency p50", human::ms(l.p50_ms)),
        ("Latency p90", human::ms(l.p90_ms)),
        ("Latency p99", human::ms(l.p99_ms)),
        ("Latency p99.9", human::ms(l.p999_ms)),
        ("Latency max", human::ms(l.max_ms)),
    ]
}

fn environment(md: &mut String, e: &Environment) {
    section(md, "Environment");
    let mut rows = vec![
        ("Host", e.hostname.clone()),
        ("CPU", e.cpu_model.clone()),
        ("Cores", e.cpus.to_string()),
        ("Memory", human::bytes(e.memory_bytes as f64)),
        ("Kernel", e.kernel.clone()),
    ];
    if let Some(v) = &e.io_uring_disabled {
        rows.push(("io_uring_disabled", v.clone()));
    }
    rows.extend([
        (
            "Commit",
            e.commit.clone().unwrap_or_else(|| "unknown".to_owned()),
        ),
        ("Started", e.started_at.clone()),
        ("spate-loadgen", e.loadgen_version.clone()),
    ]);
    table(
        md,
        &["What", "Value"],
        rows.into_iter().map(|(k, v)| vec![k.to_owned(), v]),
    );
}

fn system_under_test(md: &mut String, s: &SystemUnderTest) {
    section(md, "System under test");
    if s.command.is_empty() {
        line(md, "No command recorded.");
    } else {
        line(md, "Command:");
        line(md, "");
        fenced(md, "sh", &shell_words(&s.command));
    }
    if let Some(pid) = s.pid {
        line(md, "");
        line(md, format!("CPU and memory sampled from pid {pid}."));
    }
    if let Some(config) = &s.config {
        line(md, "");
        line(md, "Generated configuration:");
        line(md, "");
        fenced(md, "properties", config);
    }
}

fn images(md: &mut String, images: &[(&str, &str)]) {
    for (i, (alt, file)) in images.iter().enumerate() {
        if i > 0 {
            line(md, "");
        }
        line(md, format!("![{alt}]({file})"));
    }
}

/// A scenario name as a title: in code style, so underscores and stars stay literal.
fn title(name: &str) -> String {
    let name = one_line(name);
    let ticks = "`".repeat(longest_run(&name, '`') + 1);
    if name.starts_with('`') || name.ends_with('`') {
        // Spaces keep the name's own backticks apart from the delimiters; CommonMark strips them.
        format!("{ticks} {name} {ticks}")
    } else {
        format!("{ticks}{name}{ticks}")
    }
}

fn section(md: &mut String, name: &str) {
    line(md, "");
    line(md, format!("## {name}"));
    line(md, "");
}

fn line(md: &mut String, s: impl AsRef<str>) {
    md.push_str(s.as_ref());
    md.push('\n');
}

/// A table; cells are escaped, so any string may go in one.
fn table(md: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let row = |md: &mut String, cells: &mut dyn Iterator<Item = String>| {
        md.push('|');
        for c in cells {
            let _ = write!(md, " {} |", cell(&c));
        }
        md.push('\n');
    };
    row(md, &mut head.iter().map(|h| (*h).to_owned()));
    row(md, &mut head.iter().map(|_| "---".to_owned()));
    for r in rows {
        row(md, &mut r.into_iter());
    }
}

/// A string made safe for a table cell: on one line, with `|` escaped.
fn cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// A string on one line: newlines and runs of white space become one space.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A code block whose fence is longer than any run of backticks in `body`.
fn fenced(md: &mut String, lang: &str, body: &str) {
    let fence = "`".repeat((longest_run(body, '`') + 1).max(3));
    line(md, format!("{fence}{lang}"));
    line(md, body.trim_end_matches('\n'));
    line(md, fence);
}

fn longest_run(s: &str, c: char) -> usize {
    s.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// The command as one line a POSIX shell would split back into the same words.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '+' | '@')
                });
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use crate::report::model::Headroom;

    fn assert_has(md: &str, expected: &[&str]) {
        for e in expected {
            assert!(md.contains(e), "{e:?} missing from:\n{md}");
        }
    }

    #[test]
    fn run_shows_the_key_figures() {
        let md = run_markdown(&fixtures::run());
        assert!(
            md.starts_with("# `tail_to_tcp receiver-outage`: FAIL ✗\n"),
            "{md}"
        );
        assert_has(
            &md,
            &[
                "| Offered rate | 100 k lines/s |",
                "| Achieved rate | 99.9 k lines/s |",
                "| Received | 99.6 k events/s |",
                "| Throughput | 25.5 MB/s |",
                "| Line size | 256 B (mean, newline included) |",
                "| Lost (missing) | 1,234 |",
                "| Duplicates | 34 |",
                "| Latency p50 | 3.46 ms |",
                "| Latency p99 | 1.23 s |",
                "| Latency p99.9 | 3.46 s |",
                "| CPU per million events | 3.30 s |",
                "| GB per CPU-second | 0.0776 |",
                "| Peak RSS | 19.6 MiB |",
                "| Receiver CPU time | 2.50 s |",
                "- ✗ **zero loss**: 1,234 lines missing\n",
                "- ✗ **p99 ≤ 50 ms**: p99 was 1.23 s\n",
                "- ✓ **no duplicates after restart**\n",
                "| Kernel | 6.1.0-18-amd64 |",
                "| Commit | e5f2845 |",
                "```sh\nspate --conf agent.properties --name a1\n```\n",
                "```properties\na1.sources = r1\na1.sinks = k1\na1.channels = c1\n```\n",
                "![Latency over time](latency.svg)",
            ],
        );
    }

    #[test]
    fn run_without_data_says_so() {
        let md = run_markdown(&fixtures::empty_run());
        assert!(md.starts_with("# `nothing`: PASS ✓\n"), "{md}");
        assert_has(
            &md,
            &[
                "| Offered rate | as fast as possible |",
                "| Latency | no line received |",
                "| CPU per million events | n/a |",
                "No checks were run.",
                "No command recorded.",
                "| Commit | unknown |",
            ],
        );
        assert!(!md.contains("Latency p99"));
    }

    #[test]
    fn sweep_shows_the_headline_and_every_step() {
        let r = fixtures::sweep();
        let md = sweep_markdown(&r);
        assert_has(
            &md,
            &[
                "\nThis host sustains 100 k events/s of 256 B at p99 ≤ 50.0 ms.\n",
                "| Highest sustainable rate | 100 k events/s |",
                "| p99 at that rate | 12.7 ms |",
                "| 10.0 k/s | 9.99 k/s | 10.0 k/s | 0.420 ms | 2.10 ms | 4.20 ms | 4.00 % | 4.00 | 19.1 MiB | 0 | 0 | ✓ |",
                "| 500 k/s | 500 k/s | 150 k/s | 480 ms | 2.40 s | 4.80 s | 99.0 % | 6.60 | 19.1 MiB | 5,000 | 250,000 | ✗ loss |",
                "![Latency against offered load](latency-vs-load.svg)",
            ],
        );
        for step in &r.steps {
            let row = format!("\n| {} | ", human::rate(step.offered_rate));
            assert_eq!(md.matches(&row).count(), 1, "{row:?}");
        }
    }

    #[test]
    fn sweep_headline_prefers_the_headroom_statement() {
        let mut r = fixtures::sweep();
        r.headroom = Some(Headroom {
            expected_rate: 25_000.0,
            line_bytes: 256,
            percent_used: 25.0,
            statement: "Your 25 k events/s use 25 % of this host.".to_owned(),
        });
        let md = sweep_markdown(&r);
        assert_has(
            &md,
            &[
                "\nYour 25 k events/s use 25 % of this host.\n",
                "| Expected workload | 25.0 k events/s of 256 B: 25.0 % of the highest sustainable rate |",
            ],
        );
        assert!(!md.contains("This host sustains"));
        assert_has(
            &sweep_markdown(&fixtures::empty_sweep()),
            &[
                "\nNo offered rate was sustained at p99 ≤ 50.0 ms (lines of 100 B).\n",
                "| 1.00 k/s | 0/s | 0/s | n/a | n/a | n/a | 0 % | n/a | 0 B | 0 | 0 | ✗ nothing received |",
            ],
        );
    }

    #[test]
    fn outside_strings_cannot_break_the_layout() {
        let mut r = fixtures::run();
        r.scenario = "`odd` name".to_owned();
        r.environment.hostname = "a|b\nc".to_owned();
        r.system_under_test.command =
            vec!["spate".to_owned(), "it's here".to_owned(), String::new()];
        r.system_under_test.config = Some("x = ```\n".to_owned());
        let md = run_markdown(&r);
        assert!(md.starts_with("# `` `odd` name ``: FAIL ✗\n"), "{md}");
        assert_has(
            &md,
            &[
                "| Host | a\\|b c |",
                "spate 'it'\\''s here' ''\n",
                "````properties\nx = ```\n````\n",
            ],
        );
    }
}
