//! What provisioning would do on this machine, as pure data: which packages are missing, whether
//! chaosbed may install them itself, and the commands a person runs where it may not.

pub use crate::host::tools::{DOCKERD, MAVEN, MMDEBSTRAP, Tool};

/// What the machine is, as far as installing packages on it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Running as uid 0.
    pub root: bool,
    /// `ID`/`ID_LIKE` of /etc/os-release names Debian or Ubuntu, and apt-get is on the PATH.
    pub apt: bool,
    /// A short name for messages, e.g. "Debian GNU/Linux 12 (bookworm)".
    pub name: String,
}

impl Machine {
    /// chaosbed installs packages itself only as root on a Debian or Ubuntu machine.
    pub fn can_install(&self) -> bool {
        self.root && self.apt
    }
}

/// Whether an os-release text describes Debian, Ubuntu or a distribution derived from them.
pub fn is_debian_like(os_release: &str) -> bool {
    os_release.lines().any(|line| {
        let line = line.trim();
        let value = line
            .strip_prefix("ID=")
            .or_else(|| line.strip_prefix("ID_LIKE="));
        value.is_some_and(|v| {
            v.trim_matches(|c| c == '"' || c == '\'')
                .split_whitespace()
                .any(|id| id == "debian" || id == "ubuntu")
        })
    })
}

/// `PRETTY_NAME` of an os-release text, or "an unknown system".
pub fn pretty_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|line| line.trim().strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches(|c| c == '"' || c == '\'').to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "an unknown system".to_owned())
}

/// The tools of `wanted` whose binary `present` does not find, in order, without repeats.
pub fn missing<'a>(wanted: &[&'a Tool], present: impl Fn(&str) -> bool) -> Vec<&'a Tool> {
    let mut out: Vec<&Tool> = Vec::new();
    for tool in wanted {
        if !present(tool.command) && !out.iter().any(|t| t.package == tool.package) {
            out.push(tool);
        }
    }
    out
}

/// The exact commands that install `tools` and start an engine, for a person to run where
/// chaosbed may not do it itself.
pub fn manual_commands(machine: &Machine, tools: &[&Tool], start_engine: bool) -> String {
    let packages: Vec<&str> = tools.iter().map(|t| t.package).collect();
    let sudo = if machine.root { "" } else { "sudo " };
    let mut lines = Vec::new();
    if machine.apt {
        if !packages.is_empty() {
            lines.push(format!("{sudo}apt-get update"));
            lines.push(format!(
                "{sudo}apt-get install -y --no-install-recommends {}",
                packages.join(" ")
            ));
        }
        if start_engine {
            lines.push(format!(
                "{sudo}systemctl start docker || {sudo}sh -c 'nohup dockerd >/tmp/dockerd.log 2>&1 &'"
            ));
        }
    } else {
        if !packages.is_empty() {
            lines.push(format!(
                "install with your package manager: {} (what provides: {})",
                packages.join(" "),
                tools
                    .iter()
                    .map(|t| t.command)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if start_engine {
            lines.push(
                "start a Docker engine (Docker Desktop, `sudo systemctl start docker`, or \
                 `sudo dockerd &`), or point DOCKER_HOST at one"
                    .to_owned(),
            );
        }
    }
    lines
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOKWORM: &str =
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n";
    const MINT: &str = "NAME=\"Linux Mint\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\n";
    const FEDORA: &str = "NAME=\"Fedora Linux\"\nID=fedora\nPRETTY_NAME=\"Fedora Linux 40\"\n";

    fn machine(root: bool, apt: bool) -> Machine {
        Machine {
            root,
            apt,
            name: "test".into(),
        }
    }

    #[test]
    fn debian_and_its_derivatives_use_apt() {
        assert!(is_debian_like(BOOKWORM));
        assert!(is_debian_like(MINT));
        assert!(!is_debian_like(FEDORA));
        assert!(!is_debian_like(""));
    }

    #[test]
    fn pretty_name_is_read_or_unknown() {
        assert_eq!(pretty_name(BOOKWORM), "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(pretty_name(MINT), "an unknown system");
    }

    #[test]
    fn only_root_on_apt_installs() {
        assert!(machine(true, true).can_install());
        assert!(!machine(false, true).can_install());
        assert!(!machine(true, false).can_install());
    }

    #[test]
    fn missing_keeps_order_and_skips_present_tools() {
        let present = |binary: &str| binary == "mvn";
        let found = missing(&[&DOCKERD, &MAVEN, &MMDEBSTRAP, &DOCKERD], present);
        assert_eq!(found, vec![&DOCKERD, &MMDEBSTRAP]);
    }

    #[test]
    fn manual_commands_name_apt_packages_and_the_engine() {
        let text = manual_commands(&machine(false, true), &[&DOCKERD, &MAVEN], true);
        assert!(text.contains("sudo apt-get install -y --no-install-recommends docker.io maven"));
        assert!(text.contains("dockerd"));
        let root = manual_commands(&machine(true, true), &[&MMDEBSTRAP], false);
        assert!(root.contains("    apt-get install -y --no-install-recommends mmdebstrap"));
        assert!(!root.contains("dockerd"));
    }

    #[test]
    fn manual_commands_elsewhere_name_the_tools() {
        let text = manual_commands(&machine(true, false), &[&DOCKERD], true);
        assert!(text.contains("docker.io"));
        assert!(text.contains("DOCKER_HOST"));
        assert!(!text.contains("apt-get"));
    }
}
