//! Where chaosbed-proxy is on this machine: the binary the Docker backend copies into each
//! nemesis helper for latency (without netem) and the toxics. It is built with chaosbed
//! (`cargo build`, `cargo test`, `cargo xtask chaos` all make it) and sits beside it.

use std::path::{Path, PathBuf};

use anyhow::bail;

/// Names a chaosbed-proxy to use instead of the one beside chaosbed.
pub const ENV: &str = "CHAOSBED_PROXY";
pub const NAME: &str = "chaosbed-proxy";

/// `$CHAOSBED_PROXY`, else chaosbed-proxy beside this executable, else in its parent folder
/// (a test binary runs from target/<profile>/deps).
pub fn locate() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().ok();
    locate_from(std::env::var_os(ENV).map(PathBuf::from), exe.as_deref())
}

fn locate_from(configured: Option<PathBuf>, exe: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = configured {
        if path.is_file() {
            return Ok(path);
        }
        bail!("{ENV}={} names no file", path.display());
    }
    let dir = exe.and_then(Path::parent);
    let candidates: Vec<PathBuf> = dir
        .into_iter()
        .flat_map(|d| [Some(d.join(NAME)), d.parent().map(|p| p.join(NAME))])
        .flatten()
        .collect();
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "{NAME}, the proxy that latency (on a kernel without netem) and the toxics run in the \
         nemesis helper, is not at {}: build it with `cargo build --bin {NAME}` (`cargo build`, \
         `cargo test` and `cargo xtask chaos` make it), or set {ENV} to its path",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_is_found_beside_the_executable_or_one_folder_up() {
        let dir = tempfile::tempdir().unwrap();
        let deps = dir.path().join("deps");
        std::fs::create_dir(&deps).unwrap();
        let exe = deps.join("docker-1234");
        let missing = locate_from(None, Some(&exe)).unwrap_err().to_string();
        assert!(
            missing.contains("cargo build --bin chaosbed-proxy"),
            "{missing}"
        );
        std::fs::write(dir.path().join(NAME), b"").unwrap();
        assert_eq!(
            locate_from(None, Some(&exe)).unwrap(),
            dir.path().join(NAME)
        );
        std::fs::write(deps.join(NAME), b"").unwrap();
        assert_eq!(locate_from(None, Some(&exe)).unwrap(), deps.join(NAME));
        let named = locate_from(Some(dir.path().join("nope")), Some(&exe)).unwrap_err();
        assert!(named.to_string().contains("CHAOSBED_PROXY="));
    }
}
