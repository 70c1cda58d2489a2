//! The host tools chaosbed uses, what each is for and the Debian package that provides it;
//! finding them on PATH (and in the sbin directories, where Debian puts dockerd and iptables);
//! and whether a missing Docker engine could be started on this host.

use std::path::PathBuf;

/// When a tool is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// To build chaosbed itself.
    Build,
    /// To run the Docker engine.
    Engine,
    /// To build the local images.
    Images,
    /// By a benchmark, or to look at something by hand.
    Optional,
}

/// A host tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The command looked up on PATH.
    pub command: &'static str,
    /// What chaosbed uses it for.
    pub purpose: &'static str,
    /// The Debian package that provides it.
    pub package: &'static str,
    pub need: Need,
}

/// The Docker engine (Debian's docker.io brings containerd and iptables with it).
pub const DOCKERD: Tool = Tool {
    command: "dockerd",
    purpose: "the Docker engine every run needs",
    package: "docker.io",
    need: Need::Engine,
};

/// Makes the Debian rootfs every local image starts from.
pub const MMDEBSTRAP: Tool = Tool {
    command: "mmdebstrap",
    purpose: "makes the base image's Debian rootfs",
    package: "mmdebstrap",
    need: Need::Images,
};

/// Resolves the pinned poms of the images built from Maven Central jars.
pub const MAVEN: Tool = Tool {
    command: "mvn",
    purpose: "stages the Java images' jars from Maven Central",
    package: "maven",
    need: Need::Images,
};

/// Headless Chromium: the Docker tests load a run's report.html in it, as a person would.
pub const CHROMIUM: Tool = Tool {
    command: "chromium",
    purpose: "loads report.html in the Docker tests (and takes screenshots of the web UIs)",
    package: "chromium",
    need: Need::Optional,
};

/// Every tool `cargo xtask doctor` looks for, in the order it reports them.
pub const TOOLS: &[Tool] = &[
    Tool {
        command: "cc",
        purpose: "compiles jemalloc's C sources",
        package: "gcc",
        need: Need::Build,
    },
    Tool {
        command: "make",
        purpose: "builds jemalloc (tikv-jemalloc-sys)",
        package: "make",
        need: Need::Build,
    },
    DOCKERD,
    Tool {
        command: "iptables",
        purpose: "dockerd sets up its networks with it",
        package: "iptables",
        need: Need::Engine,
    },
    MMDEBSTRAP,
    MAVEN,
    Tool {
        command: "docker",
        purpose: "the Docker CLI, to look by hand (chaosbed uses the engine's API)",
        package: "docker.io",
        need: Need::Optional,
    },
    Tool {
        command: "go",
        purpose: "builds a Go client for a benchmark",
        package: "golang-go",
        need: Need::Optional,
    },
    CHROMIUM,
];

/// Directories searched after PATH: a non-root PATH often lacks them, and Debian installs
/// dockerd and iptables there.
const SBIN: &str = "/usr/local/sbin:/usr/sbin:/sbin";

/// Where `command` is: on PATH, else in an sbin directory.
pub fn find(command: &str) -> Option<PathBuf> {
    which::which(command).ok().or_else(|| {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        which::which_in(command, Some(SBIN), cwd).ok()
    })
}

/// How a Docker engine that does not answer could be started on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineStart {
    /// dockerd is installed and we are root: `cargo xtask chaos` / `bash .ci/run` start it.
    Start,
    /// Root on Debian without dockerd: `bash .ci/run` installs docker.io, then starts it.
    InstallAndStart,
    /// Nothing here can: the reason, and what a person can do.
    Cannot(String),
}

/// Whether a missing engine can be started here, from what the host has.
pub fn engine_start(root: bool, dockerd: bool, apt_get: bool) -> EngineStart {
    match (root, dockerd, apt_get) {
        (true, true, _) => EngineStart::Start,
        (true, false, true) => EngineStart::InstallAndStart,
        (true, false, false) => EngineStart::Cannot(
            "dockerd is not installed and there is no apt-get to install docker.io; install a \
             Docker engine, or point DOCKER_HOST at one"
                .to_owned(),
        ),
        (false, _, _) => EngineStart::Cannot(
            "starting dockerd (and installing docker.io) needs root; run `sudo dockerd &` (or \
             `sudo bash .ci/run`), or point DOCKER_HOST at an engine"
                .to_owned(),
        ),
    }
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_starts_an_installed_engine_or_installs_one_with_apt() {
        assert_eq!(engine_start(true, true, false), EngineStart::Start);
        assert_eq!(
            engine_start(true, false, true),
            EngineStart::InstallAndStart
        );
        let EngineStart::Cannot(why) = engine_start(true, false, false) else {
            panic!("no apt-get, no dockerd")
        };
        assert!(why.contains("apt-get"), "{why}");
        let EngineStart::Cannot(why) = engine_start(false, true, true) else {
            panic!("not root")
        };
        assert!(why.contains("needs root"), "{why}");
    }

    #[test]
    fn every_tool_names_its_package_once() {
        for tool in TOOLS {
            assert!(!tool.package.is_empty() && !tool.purpose.is_empty());
            assert_eq!(
                TOOLS.iter().filter(|t| t.command == tool.command).count(),
                1
            );
        }
    }

    #[test]
    fn find_looks_on_path() {
        assert!(find("sh").is_some());
        assert!(find("chaosbed-no-such-tool").is_none());
    }
}
