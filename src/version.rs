//! Which chaosbed this is: the crate's version and, when run from its checkout, the git commit.

use std::sync::OnceLock;

/// `git rev-parse --short HEAD` of the checkout this was built from, `-dirty` with uncommitted
/// changes; None when that checkout (or git) is not there.
pub fn git_commit() -> Option<String> {
    static COMMIT: OnceLock<Option<String>> = OnceLock::new();
    COMMIT
        .get_or_init(|| {
            let git = |args: &[&str]| {
                std::process::Command::new("git")
                    .args(args)
                    .current_dir(env!("CARGO_MANIFEST_DIR"))
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            };
            let commit = git(&["rev-parse", "--short", "HEAD"])?;
            let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
            Some(if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            })
        })
        .clone()
}

/// `0.1.0 (eed52be)`, or the version alone.
pub fn describe() -> String {
    match git_commit() {
        Some(commit) => format!("{} ({commit})", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_string(),
    }
}
