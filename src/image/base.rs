//! The base layer: a Debian minbase rootfs made by mmdebstrap from the host's own apt
//! sources (no mirror argument), imported into Docker as `chaosbed/base:<codename>-<hash>`.

use std::process::Stdio;

use anyhow::{Context as _, Result, anyhow, bail};
use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt as _;
use indicatif::ProgressBar;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::build::{IMAGE_LABEL, exists};
use super::context::{Scratch, Tail};

/// The mmdebstrap variant; part of the base tag's hash.
pub const VARIANT: &str = "minbase";

/// `VERSION_CODENAME` of an os-release file.
pub fn parse_codename(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.trim().strip_prefix("VERSION_CODENAME=")?;
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// The host's Debian codename, from /etc/os-release.
pub fn host_codename() -> Result<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .context("reading /etc/os-release for the Debian codename of the base image")?;
    parse_codename(&text).ok_or_else(|| {
        anyhow!(
            "/etc/os-release has no VERSION_CODENAME; the base image is made with mmdebstrap \
             from the host's apt sources, so the host must be Debian (or derived)"
        )
    })
}

/// The mmdebstrap arguments before the output path; hashed into the base tag.
pub fn mmdebstrap_args(codename: &str) -> Vec<String> {
    vec![format!("--variant={VARIANT}"), codename.to_owned()]
}

/// Make the rootfs with mmdebstrap and import it as `tag`.
pub async fn build_rootfs(
    docker: &Docker,
    image: &str,
    codename: &str,
    tag: &str,
    bar: &ProgressBar,
) -> Result<()> {
    let scratch = Scratch::new("base")?;
    let tarball = scratch.path().join(format!("{codename}.tar"));
    bar.set_message(format!("mmdebstrap --variant={VARIANT} {codename}"));
    let mut child = tokio::process::Command::new("mmdebstrap")
        .args(mmdebstrap_args(codename))
        .arg(&tarball)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context(
            "image base: starting mmdebstrap; install it (apt-get install mmdebstrap) on a \
             Debian host whose apt sources reach a Debian mirror",
        )?;
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut tail = Tail::new(25);
    while let Some(line) = lines.next_line().await? {
        bar.set_message(format!("mmdebstrap: {line}"));
        tail.push(line);
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!(
            "image base: mmdebstrap --variant={VARIANT} {codename} failed ({status}); it uses \
             the host's apt sources (/etc/apt/sources.list*), so check `apt-get update` works \
             on the host, and that it runs as root or with user namespaces.\nlast output:\n{}",
            tail.joined()
        );
    }

    bar.set_message(format!("importing {tag}"));
    let (repo, version) = tag
        .rsplit_once(':')
        .with_context(|| format!("tag {tag} has no ':'"))?;
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(repo)
        .tag(version)
        .message("chaosbed base: mmdebstrap rootfs")
        .changes(vec![
            format!("LABEL {IMAGE_LABEL}={image}"),
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            "ENV LANG=C.UTF-8".to_owned(),
            "CMD [\"bash\"]".to_owned(),
        ])
        .build();
    let file = tokio::fs::File::open(&tarball)
        .await
        .with_context(|| format!("opening {}", tarball.display()))?;
    let body = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 1 << 20];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        Ok(Some((bytes::Bytes::from(buf), file)))
    });
    let mut import = docker.create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    while let Some(item) = import.next().await {
        item.map_err(|err| {
            anyhow!(
                "image base: importing the rootfs {} as {tag} failed: {err}",
                tarball.display()
            )
        })?;
    }
    if !exists(docker, tag).await? {
        bail!("image base: the import finished but {tag} does not exist");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codename_is_read_from_os_release() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(parse_codename(text).as_deref(), Some("bookworm"));
        assert_eq!(
            parse_codename("VERSION_CODENAME=\"trixie\"\n").as_deref(),
            Some("trixie")
        );
        assert_eq!(parse_codename("ID=debian\nVERSION_CODENAME=\n"), None);
    }
}
