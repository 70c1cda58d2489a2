//! Every scenario file in scenarios/ is valid, named after its file, and has an up-to-date
//! compose file in compose/.

use std::path::PathBuf;

use rstest::rstest;

#[rstest]
fn scenario_file_is_valid_and_its_compose_file_is_fresh(
    #[files("scenarios/*.toml")] path: PathBuf,
) {
    let scenario = chaosbed::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let stem = path.file_stem().unwrap().to_string_lossy();
    assert_eq!(
        scenario.name,
        stem,
        "{}: `name` must equal the file name",
        path.display()
    );
    assert!(
        !scenario.description.is_empty(),
        "{}: say what the scenario proves in `description`",
        path.display()
    );

    let compose = path
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("compose")
        .join(format!("{stem}.yml"));
    let on_disk = std::fs::read_to_string(&compose).unwrap_or_default();
    assert!(
        on_disk == chaosbed::compose::compose_file(&scenario),
        "{} is stale or missing: run `cargo xtask compose`",
        compose.display()
    );
}
