//! The file writer as its users rely on it: every line is a numbered line of the asked size, the
//! line limit is exact, and reading back every file and every rotated file gives each sequence
//! number of each stream exactly once, whatever the rotation mode.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use spate_loadgen::gen::{
    write_files, Counters, FileLoad, GenReport, LineSizes, Rate, RotateMode, Rotation,
};
use spate_loadgen::line::{parse_line, HEADER_LEN};
use spate_loadgen::recv::tally::{Summary, Tally};

fn run(cfg: &FileLoad) -> GenReport {
    let counters = Counters::default();
    let r = write_files(cfg, &counters, &AtomicBool::new(false)).unwrap();
    assert_eq!(counters.lines.load(Relaxed), r.lines);
    assert_eq!(counters.bytes.load(Relaxed), r.bytes);
    assert_eq!(counters.rotations.load(Relaxed), r.rotations);
    r
}

/// File `path`'s rotated copies in rotation order (`.1`, `.2`, ...), then the file itself.
fn generations(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().unwrap().to_str().unwrap();
    let mut rotated: Vec<(u64, PathBuf)> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let n = e
                .file_name()
                .to_str()?
                .strip_prefix(name)?
                .strip_prefix('.')?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    rotated.sort();
    let mut all: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    all.push(path.to_path_buf());
    all
}

/// Reads every generation of every file of `cfg` in order, checks each line with `each`, and
/// accounts them as the receiver would.
fn read_back(cfg: &FileLoad, mut each: impl FnMut(&[u8])) -> Summary {
    let mut tally = Tally::new();
    for i in 0..cfg.files {
        for path in generations(&cfg.path(i)) {
            let data = fs::read(&path).unwrap();
            assert!(
                data.is_empty() || data.ends_with(b"\n"),
                "{path:?} ends in a whole line"
            );
            for line in data.split_inclusive(|&b| b == b'\n') {
                let p = parse_line(line).unwrap_or_else(|| panic!("{path:?}: {line:?}"));
                assert_eq!(usize::from(p.stream), usize::from(cfg.first_stream) + i);
                each(line);
                tally.line(&line[..line.len() - 1], line.len());
            }
        }
    }
    tally.summary(None)
}

fn assert_exactly_once(s: &Summary, lines: u64, streams: usize) {
    assert_eq!((s.lines, s.unique), (lines, lines), "{s:?}");
    assert_eq!(
        (s.missing, s.duplicates, s.out_of_order, s.malformed),
        (0, 0, 0, 0)
    );
    assert_eq!(s.streams.len(), streams);
}

#[test]
fn lines_have_the_asked_size_and_the_limit_is_exact() {
    for (sizes, lines) in [
        (LineSizes::Fixed(100), 10_001),
        (LineSizes::Fixed(43), 5_000),
        (LineSizes::Uniform { min: 60, max: 300 }, 20_000),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = FileLoad::new(dir.path());
        cfg.files = 3;
        cfg.first_stream = 20;
        cfg.sizes = sizes;
        cfg.lines = Some(lines);
        let r = run(&cfg);
        assert_eq!(r.lines, lines);
        assert_eq!(r.targets, 3);
        assert_eq!(r.target_rate, None);
        let mut bytes = 0;
        let s = read_back(&cfg, |line| {
            bytes += line.len() as u64;
            match sizes {
                LineSizes::Fixed(n) => assert_eq!(line.len(), n),
                LineSizes::Uniform { min, max } => assert!((min..=max).contains(&line.len())),
                _ => unreachable!(),
            }
        });
        assert_exactly_once(&s, lines, 3);
        assert_eq!(bytes, r.bytes);
        assert_eq!(r.mean_line_bytes, bytes as f64 / lines as f64);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no other files"
        );
    }
}

#[test]
fn shaped_lines_look_like_their_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = FileLoad::new(dir.path());
    cfg.name = "access-{i}.log".into();
    cfg.files = 2;
    cfg.sizes = LineSizes::Access;
    cfg.lines = Some(5_000);
    let mut typical = 0;
    let s = read_back(&cfg_run(&cfg), |line| {
        let body = std::str::from_utf8(&line[HEADER_LEN..line.len() - 1]).unwrap();
        assert!(
            body.contains(" - - [") && body.contains(" +0000] \""),
            "{body}"
        );
        assert!(body.contains(" HTTP/") && body.ends_with('"'), "{body}");
        typical += usize::from((150..=350).contains(&line.len()));
    });
    assert_exactly_once(&s, 5_000, 2);
    assert!(
        typical > 3_500,
        "most access lines are 150-350 bytes: {typical}"
    );

    cfg.name = "app-{i}.log".into();
    cfg.sizes = LineSizes::App;
    let s = read_back(&cfg_run(&cfg), |line| {
        let body = std::str::from_utf8(&line[HEADER_LEN..line.len() - 1]).unwrap();
        assert!(body.starts_with("2026-11-22T"), "{body}");
        let level = body[25..30].trim_end();
        assert!(
            ["INFO", "WARN", "ERROR", "DEBUG"].contains(&level),
            "{body}"
        );
        assert!(body.contains(" - "), "{body}");
    });
    assert_exactly_once(&s, 5_000, 2);
}

/// Runs `cfg` and hands it back, for chaining into [`read_back`].
fn cfg_run(cfg: &FileLoad) -> FileLoad {
    run(cfg);
    cfg.clone()
}

#[test]
fn rotation_by_size_loses_and_repeats_nothing() {
    for mode in [RotateMode::Rename, RotateMode::CopyTruncate] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = FileLoad::new(dir.path());
        cfg.files = 4;
        cfg.sizes = LineSizes::Uniform { min: 64, max: 200 };
        cfg.lines = Some(40_000);
        cfg.rotation = Some(Rotation {
            every_bytes: Some(100_000),
            every: None,
            mode,
        });
        let r = run(&cfg);
        // About 5.3 MB over 4 files: each file rotates about 13 times.
        assert!(r.rotations >= 40, "{mode:?}: {r:?}");
        let s = read_back(&cfg, |_| {});
        assert_exactly_once(&s, 40_000, 4);
        for i in 0..4 {
            let gens = generations(&cfg.path(i));
            assert!(gens.len() >= 10, "{gens:?}");
            assert!(gens[0].to_str().unwrap().ends_with(".log.1"));
            for g in &gens[..gens.len() - 1] {
                let len = fs::metadata(g).unwrap().len();
                assert!(
                    (100_000..100_200).contains(&len),
                    "rotated at the first line end past the limit: {g:?} {len}"
                );
            }
        }
    }
}

#[test]
fn rotation_by_age_at_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = FileLoad::new(dir.path());
    cfg.files = 2;
    cfg.rate = Rate::PerSec(20_000.0);
    cfg.lines = Some(4_000);
    cfg.rotation = Some(Rotation {
        every_bytes: None,
        every: Some(Duration::from_millis(50)),
        mode: RotateMode::CopyTruncate,
    });
    let r = run(&cfg);
    // The pacing makes the run last at least 0.2 s, so each file passes 50 ms of age.
    assert!(r.seconds >= 0.15, "{r:?}");
    assert!(r.rotations >= 2, "{r:?}");
    assert_exactly_once(&read_back(&cfg, |_| {}), 4_000, 2);
}

#[test]
fn a_rate_is_kept_loosely() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = FileLoad::new(dir.path());
    cfg.rate = Rate::PerSec(10_000.0);
    cfg.lines = Some(2_000);
    let started = Instant::now();
    let r = run(&cfg);
    assert!(started.elapsed() >= Duration::from_millis(150), "{r:?}");
    assert_eq!(r.lines, 2_000);
    assert_eq!(r.target_rate, Some(10_000.0));
    assert!(
        r.achieved_rate > 0.0 && r.achieved_rate <= 10_000.0 * 1.05,
        "{r:?}"
    );
}

#[test]
fn a_thousand_files_at_a_low_rate_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = FileLoad::new(dir.path());
    cfg.files = 1000;
    cfg.rate = Rate::PerSec(50_000.0);
    cfg.lines = Some(5_000);
    let r = run(&cfg);
    assert_eq!(r.targets, 1000);
    let s = read_back(&cfg, |_| {});
    assert_exactly_once(&s, 5_000, 1000);
    for stream in s.streams.values() {
        assert_eq!(stream.unique, 5, "an even spread");
    }
}

#[test]
fn the_stop_flag_ends_an_unlimited_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = FileLoad::new(dir.path());
    cfg.files = 3;
    cfg.rate = Rate::PerSec(5_000.0);
    let counters = Counters::default();
    let stop = AtomicBool::new(false);
    let r = std::thread::scope(|s| {
        let writer = s.spawn(|| write_files(&cfg, &counters, &stop).unwrap());
        while counters.lines.load(Relaxed) < 300 {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Relaxed);
        writer.join().unwrap()
    });
    assert!(r.lines >= 300, "{r:?}");
    assert_exactly_once(&read_back(&cfg, |_| {}), r.lines, 3);
}

#[test]
fn a_second_run_into_the_same_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = FileLoad::new(dir.path());
    cfg.lines = Some(10);
    run(&cfg);
    let err = write_files(&cfg, &Counters::default(), &AtomicBool::new(false)).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn the_write_command_prints_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let r = common::loadgen(&[
        "write",
        "--dir",
        d,
        "--files",
        "2",
        "--lines",
        "1000",
        "--size",
        "100",
        "--rotate-bytes",
        "10K",
        "--rotate-mode",
        "copytruncate",
        "--first-stream",
        "3",
    ]);
    assert_eq!(r["lines"], 1000);
    assert_eq!(r["bytes"], 100_000);
    assert_eq!(r["targets"], 2);
    assert_eq!(
        r["rotations"], 8,
        "50 KB per file, rotated at every 10 KiB: {r}"
    );
    let mut cfg = FileLoad::new(dir.path());
    cfg.files = 2;
    cfg.first_stream = 3;
    assert_exactly_once(&read_back(&cfg, |_| {}), 1000, 2);
}

#[test]
fn bad_write_arguments_name_the_flag_or_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let fails = |extra: &[&str], want: &str| {
        let mut args = vec!["write", "--dir", d];
        args.extend(extra);
        let err = common::loadgen_fails(&args);
        assert!(err.contains(want), "{extra:?}: {err}");
    };
    fails(&["--lines", "5", "--size", "10"], "size: 10 is too small");
    fails(
        &["--lines", "5", "--files", "0"],
        "files: must be at least 1",
    );
    fails(
        &["--lines", "5", "--files", "2", "--name", "a.log"],
        "must contain {i}",
    );
    fails(&["--lines", "5", "--rate", "0"], "rate: must be a positive");
    fails(&["--lines", "5", "--rate", "fast"], "--rate");
    fails(&["--lines", "5", "--duration", "5 parsecs"], "--duration");
    fails(
        &["--lines", "5", "--first-stream", "9999", "--files", "2"],
        "first_stream",
    );
    fails(
        &["--lines", "5", "--rotate-mode", "rename"],
        "--rotate-mode needs",
    );
    fails(
        &["--lines", "5", "--rotate-bytes", "0"],
        "rotation.every_bytes",
    );
    fails(&["--files", "2"], "--lines or --duration");
    let missing = dir.path().join("missing");
    let err = common::loadgen_fails(&["write", "--dir", missing.to_str().unwrap(), "--lines", "1"]);
    assert!(err.contains("dir: "), "{err}");
}
