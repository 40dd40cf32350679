//! `bench --smoke`: every part of `make bench` once, on debug builds and a
//! handful of iterations, so the bench cannot rot. It checks that each part
//! ran and each operation did what its row says; never a timing.

use std::process::Command;

#[test]
fn every_part_of_the_bench_runs() {
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .arg("--smoke")
        .output()
        .expect("the bench starts");
    let table = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bench --smoke failed:\n{log}\n{table}"
    );
    for part in [
        "DynamoDB calls per operation, counted at the wire",
        "Function binaries under a Lambda Runtime API emulator",
        "Warm latency",
        "| floor: answered at once, no DynamoDB call | floor |",
        "Sequential acquire + release cycles",
        "python-dynamodb-lock",
        "The local stack",
    ] {
        assert!(table.contains(part), "no {part:?} in:\n{table}");
    }
    // Every function was measured, and the one-write promise holds at the wire.
    let binaries = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions/src/bin");
    for function in std::fs::read_dir(binaries).unwrap() {
        let file = function.unwrap().file_name().into_string().unwrap();
        let name = file.trim_end_matches(".rs");
        assert!(
            table.contains(&format!("| {name} | ")),
            "{name} not measured:\n{table}"
        );
    }
    for (operation, calls) in [
        ("acquire, existing free name", "UpdateItem | 1 |"),
        ("unlock", "UpdateItem | 1 |"),
        ("get", "GetItem | 1 |"),
    ] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {operation} |")))
            .unwrap_or_else(|| panic!("no row {operation:?}"));
        assert!(row.ends_with(calls), "{row}");
    }
}
