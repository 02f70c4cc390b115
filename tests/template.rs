//! template.yaml deploys every Lambda function of the workspace, and nothing else: each
//! `Binary:` it builds is a crate under `functions/` with a `main.rs`, and each such crate is
//! built by one function resource.

use std::collections::BTreeSet;

#[test]
fn every_function_crate_is_deployed_once() {
    let root = env!("CARGO_MANIFEST_DIR");
    let template = std::fs::read_to_string(format!("{root}/template.yaml")).expect("template");
    let deployed: Vec<String> = template
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Binary: "))
        .map(str::to_owned)
        .collect();
    let unique: BTreeSet<String> = deployed.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        deployed.len(),
        "a binary deployed twice: {deployed:?}"
    );
    let crates: BTreeSet<String> = std::fs::read_dir(format!("{root}/functions"))
        .expect("functions/")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("src/main.rs").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(unique, crates);
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).expect("Cargo.toml");
    for name in &crates {
        assert!(
            manifest.contains(&format!("\"functions/{name}\"")),
            "functions/{name} is not a workspace member"
        );
    }
}
