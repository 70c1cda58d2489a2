//! The run directory: target/chaosbed/runs/<scenario>/<timestamp>/, and a `latest` link beside it.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where one run's files go.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `<root>/<scenario>/<timestamp>` and points `<root>/<scenario>/latest` at it.
    pub fn create(root: &Path, scenario: &str) -> anyhow::Result<Self> {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S%.3f").to_string();
        let parent = root.join(scenario);
        let path = parent.join(&stamp);
        std::fs::create_dir_all(path.join("logs"))
            .with_context(|| format!("creating the run directory {}", path.display()))?;
        let latest = parent.join("latest");
        let _ = std::fs::remove_file(&latest);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&stamp, &latest)
            .with_context(|| format!("linking {} to the new run", latest.display()))?;
        Ok(Self { path })
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> anyhow::Result<PathBuf> {
        let file = self.path.join(name);
        std::fs::write(&file, contents).with_context(|| format!("writing {}", file.display()))?;
        Ok(file)
    }

    pub fn write_log(&self, node: &str, contents: &str) -> anyhow::Result<PathBuf> {
        self.write(&format!("logs/{node}.log"), contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_points_at_the_newest_run() {
        let root = tempfile::tempdir().unwrap();
        let first = RunDir::create(root.path(), "s").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = RunDir::create(root.path(), "s").unwrap();
        assert_ne!(first.path, second.path);
        let latest = std::fs::canonicalize(root.path().join("s/latest")).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&second.path).unwrap());
        second.write_log("zk-1", "hello").unwrap();
        assert!(second.path.join("logs/zk-1.log").exists());
    }
}
