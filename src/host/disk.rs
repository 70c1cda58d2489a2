//! Free space on the filesystem that holds a directory (statvfs), measured at the nearest
//! directory that exists (Docker's /var/lib/docker before the engine first ran, a target/ not
//! built yet).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The space of one filesystem, as seen from a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    /// The directory asked about.
    pub asked: PathBuf,
    /// Where it was measured: `asked`, or its nearest existing ancestor.
    pub measured: PathBuf,
    /// Bytes an unprivileged process can still write (statvfs `f_bavail`), as `df` shows.
    pub free: u64,
    /// The filesystem's size in bytes.
    pub total: u64,
    /// The filesystem's device, to tell whether two directories share one.
    pub device: u64,
}

impl Space {
    /// A space from statvfs's block counts: `blocks` and `available` in units of `fragment`
    /// bytes (`f_blocks`, `f_bavail`, `f_frsize`).
    pub fn from_blocks(
        asked: &Path,
        measured: &Path,
        blocks: u64,
        available: u64,
        fragment: u64,
        device: u64,
    ) -> Self {
        Self {
            asked: asked.to_path_buf(),
            measured: measured.to_path_buf(),
            free: available.saturating_mul(fragment),
            total: blocks.saturating_mul(fragment),
            device,
        }
    }

    /// Whether the measurement was taken at an ancestor because `asked` does not exist yet.
    pub fn walked_up(&self) -> bool {
        self.asked != self.measured
    }

    /// Where it was measured, naming the directory asked about when that does not exist:
    /// `/var/lib (for /var/lib/docker, not created yet)`.
    pub fn place(&self) -> String {
        if self.walked_up() {
            format!(
                "{} (for {}, not created yet)",
                self.measured.display(),
                self.asked.display()
            )
        } else {
            self.measured.display().to_string()
        }
    }
}

/// `path` itself when it exists, else its nearest existing ancestor (`/` at worst).
pub fn nearest_existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|dir| dir.exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The space of the filesystem holding `path` (or its nearest existing ancestor).
pub fn space(path: &Path) -> anyhow::Result<Space> {
    let measured = nearest_existing(path);
    let stat = rustix::fs::statvfs(&measured).with_context(|| {
        format!(
            "measuring free disk at {} (statvfs) for {}",
            measured.display(),
            path.display()
        )
    })?;
    let device = rustix::fs::stat(&measured)
        .with_context(|| format!("reading which filesystem holds {}", measured.display()))?
        .st_dev;
    Ok(Space::from_blocks(
        path,
        &measured,
        stat.f_blocks,
        stat.f_bavail,
        stat.f_frsize,
        device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_multiply_by_the_fragment_size() {
        // `df -B4096` of a 250 GiB disk with 78.9 GiB available.
        let space = Space::from_blocks(
            Path::new("/var/lib/docker"),
            Path::new("/var/lib/docker"),
            66_053_021,
            20_692_939,
            4096,
            2049,
        );
        assert_eq!(space.total, 270_553_174_016);
        assert_eq!(space.free, 84_758_278_144);
        assert!(!space.walked_up());
        assert_eq!(space.place(), "/var/lib/docker");
    }

    #[test]
    fn a_missing_directory_is_measured_at_its_nearest_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let asked = dir.path().join("docker/volumes");
        assert_eq!(nearest_existing(&asked), dir.path());
        assert_eq!(nearest_existing(dir.path()), dir.path());
        let space = space(&asked).unwrap();
        assert!(space.walked_up());
        assert_eq!(space.measured, dir.path());
        assert!(space.total >= space.free && space.total > 0);
        assert!(space.place().ends_with("docker/volumes, not created yet)"));
    }
}
