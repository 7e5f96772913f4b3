//! `spate-loadgen run` and `sweep` refuse bad input before starting anything, with a message that
//! names the file and the field.

mod common;

use std::fs;

use common::loadgen_fails;

fn scenario(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("bad.toml");
    fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_bad_scenario_is_refused_naming_the_field_and_nothing_is_started() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_arg = out.to_str().unwrap();

    let bad = scenario(
        dir.path(),
        "name = \"x\"\n[load]\nduration = \"2s\"\nrotate_every = 5\n",
    );
    let err = loadgen_fails(&["run", &bad, "--out", out_arg]);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("unknown field `rotate_every`"), "{err}");

    let bad = scenario(dir.path(), "name = \"x\"\n[load]\nrate = 1000\n");
    let err = loadgen_fails(&["run", &bad, "--out", out_arg]);
    assert!(err.contains("`lines` or `duration`"), "{err}");

    let ok = scenario(dir.path(), "name = \"x\"\n[load]\nduration = \"2s\"\n");
    let err = loadgen_fails(&["run", &ok, "--out", out_arg, "--rate", "fast"]);
    assert!(err.contains("--rate"), "{err}");
    let err = loadgen_fails(&["sweep", &ok, "--out", out_arg, "--slo-p99", "soon"]);
    assert!(err.contains("--slo-p99"), "{err}");
    let err = loadgen_fails(&["run", "/nonexistent/x.toml", "--out", out_arg]);
    assert!(
        err.contains("cannot read scenario /nonexistent/x.toml"),
        "{err}"
    );

    assert!(!out.exists(), "no report directory for a refused run");
}
