//! Build contexts: listing an image's files, staging Maven jars, and packing the tar for docker.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, Result, bail};
use futures_util::StreamExt as _;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::catalogue::ImageSpec;

/// One file of a build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Path inside the context, `/`-separated.
    pub path: String,
    /// Where it is read from.
    pub source: PathBuf,
    pub executable: bool,
}

/// The images' fixtures dir: `$CHAOSBED_FIXTURES` if set, else `fixtures/images` of this crate.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("CHAOSBED_FIXTURES") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images"),
    }
}

/// Every file of `spec`'s context (recursively) plus its shared files, sorted by path.
pub fn list(spec: &ImageSpec, fixtures: &Path) -> Result<Vec<ContextFile>> {
    let Some(context) = spec.context else {
        return Ok(Vec::new());
    };
    let root = fixtures.join(context);
    let missing = || {
        anyhow::anyhow!(
            "image {}: no Dockerfile in {} or its shared files; set CHAOSBED_FIXTURES to the \
             fixtures/images dir of a chaosbed checkout",
            spec.name,
            root.display()
        )
    };
    if !root.is_dir() {
        return Err(missing());
    }
    let mut files = Vec::new();
    walk(&root, &root, &mut files)
        .with_context(|| format!("image {}: listing {}", spec.name, root.display()))?;
    for shared in spec.shared {
        let source = fixtures.join(shared);
        let name = source
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("image {}: shared file {shared} has no name", spec.name))?
            .to_owned();
        if files.iter().any(|f| f.path == name) {
            bail!(
                "image {}: shared file {shared} would overwrite {name} in {}",
                spec.name,
                root.display()
            );
        }
        let executable = is_executable(&source).with_context(|| {
            format!(
                "image {}: reading shared file {}",
                spec.name,
                source.display()
            )
        })?;
        files.push(ContextFile {
            path: name,
            source,
            executable,
        });
    }
    if let Some(pom) = spec.pom
        && let Some(file) = files.iter_mut().find(|f| f.path == "pom.xml")
    {
        file.source = PathBuf::from(pom);
    }
    // The Dockerfile may be the context's own or shared by several contexts.
    if !files.iter().any(|f| f.path == "Dockerfile") {
        return Err(missing());
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Every file under `root`, a build context of its own (a Dockerfile at its top), sorted.
pub fn list_dir(root: &Path) -> Result<Vec<ContextFile>> {
    let mut files = Vec::new();
    walk(root, root, &mut files).with_context(|| format!("listing {}", root.display()))?;
    if !files.iter().any(|f| f.path == "Dockerfile") {
        bail!("{} holds no Dockerfile to build", root.display());
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<ContextFile>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() || kind.is_symlink() {
            let rel = path
                .strip_prefix(root)
                .expect("walked path is under its root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(ContextFile {
                path: rel,
                executable: is_executable(&path)?,
                source: path,
            });
        }
    }
    Ok(())
}

/// Scripts are executable even from a checkout that lost the mode bit.
fn is_executable(path: &Path) -> std::io::Result<bool> {
    let script = path.extension().is_some_and(|e| e == "sh");
    Ok(script || has_exec_bit(path)?)
}

#[cfg(unix)]
fn has_exec_bit(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn has_exec_bit(path: &Path) -> std::io::Result<bool> {
    std::fs::metadata(path).map(|_| false)
}

/// A scratch dir removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(label: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "chaosbed-{label}-{}-{nanos:09}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating scratch dir {}", dir.display()))?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Resolve the context's pom.xml on the host into `<scratch>/lib` and list the jars as
/// context files under `lib/`. The pom is the lockfile: it names exact versions. `name` is the
/// image's, `release` what it holds (`zookeeper 3.8.4`), for the errors.
pub async fn stage_maven(
    name: &str,
    release: &str,
    files: &[ContextFile],
    scratch: &Scratch,
    on_line: impl FnMut(&str),
) -> Result<Vec<ContextFile>> {
    let pom = files
        .iter()
        .find(|f| f.path == "pom.xml")
        .with_context(|| format!("image {name} needs Maven staging but has no pom.xml"))?;
    // Run Maven on a copy so the fixtures dir never gets a target/ or lib/.
    let work = scratch.path().join("maven");
    std::fs::create_dir_all(&work)?;
    std::fs::copy(&pom.source, work.join("pom.xml"))
        .with_context(|| format!("copying {} to {}", pom.source.display(), work.display()))?;
    let lib = scratch.path().join("lib");
    let mut command = tokio::process::Command::new("mvn");
    command
        .args(["-q", "-B", "-Dstyle.color=never", "-f"])
        .arg(work.join("pom.xml"))
        .arg("dependency:copy-dependencies")
        .arg(format!("-DoutputDirectory={}", lib.display()));
    let (status, tail) = run_streaming(command, on_line).await.with_context(|| {
        format!("image {name}: starting mvn to resolve its jars; install Maven (apt-get install maven) and a JDK")
    })?;
    if !status.success() {
        let missing = super::maven::missing_artifacts(&tail.joined());
        if !missing.is_empty() {
            bail!(
                "image {name}: Maven Central, as this host reaches it, lacks {} of {release}: {}; \
                 pick another release (the release's own artifacts are all needed)",
                if missing.len() == 1 {
                    "an artifact"
                } else {
                    "artifacts"
                },
                missing.join(", ")
            );
        }
        bail!(
            "image {name}: mvn dependency:copy-dependencies failed ({status}) for {}; check that \
             Maven Central is reachable and that the pom's pinned versions exist there.\n\
             last output:\n{}",
            pom.source.display(),
            tail.joined()
        );
    }
    staged(name, &lib, "lib", "mvn resolved no jars", &pom.source)
}

/// Download the context's requirements.txt on the host (`pip download`) into `<scratch>/wheels`
/// and list them as context files under `wheels/`, for a `pip install --no-index` in the build:
/// the host reaches PyPI, a build container may not.
pub async fn stage_pip(
    name: &str,
    files: &[ContextFile],
    scratch: &Scratch,
    on_line: impl FnMut(&str),
) -> Result<Vec<ContextFile>> {
    let requirements = files
        .iter()
        .find(|f| f.path == "requirements.txt")
        .with_context(|| format!("image {name} needs pip staging but has no requirements.txt"))?;
    let wheels = scratch.path().join("wheels");
    let mut command = tokio::process::Command::new("python3");
    command
        .args([
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "-q",
            "-r",
        ])
        .arg(&requirements.source)
        .arg("-d")
        .arg(&wheels);
    let (status, tail) = run_streaming(command, on_line).await.with_context(|| {
        format!("image {name}: starting `python3 -m pip download`; install python3-pip")
    })?;
    if !status.success() {
        bail!(
            "image {name}: pip download -r {} failed ({status}); check that PyPI is reachable \
             and that the pinned versions exist there.\nlast output:\n{}",
            requirements.source.display(),
            tail.joined()
        );
    }
    staged(
        name,
        &wheels,
        "wheels",
        "pip downloaded nothing",
        &requirements.source,
    )
}

/// A host tool run with its output lines passed on as they come; its status and last lines.
async fn run_streaming(
    mut command: tokio::process::Command,
    mut on_line: impl FnMut(&str),
) -> Result<(std::process::ExitStatus, Tail)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut tail = Tail::new(30);
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    let stderr = BufReader::new(child.stderr.take().expect("piped"));
    let mut lines = std::pin::pin!(futures_util::stream::select(
        stream_lines(stdout),
        stream_lines(stderr),
    ));
    while let Some(line) = lines.next().await {
        on_line(&line);
        tail.push(line);
    }
    Ok((child.wait().await?, tail))
}

/// The files a host tool left in `dir`, as context files under `prefix/`.
fn staged(
    name: &str,
    dir: &Path,
    prefix: &str,
    empty: &str,
    from: &Path,
) -> Result<Vec<ContextFile>> {
    let mut found = Vec::new();
    if dir.is_dir() {
        walk(dir, dir, &mut found)?;
    }
    if found.is_empty() {
        bail!("image {name}: {empty} from {}", from.display());
    }
    for file in &mut found {
        file.path = format!("{prefix}/{}", file.path);
        file.executable = false;
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn stream_lines<R: tokio::io::AsyncBufRead + Unpin + Send + 'static>(
    reader: R,
) -> impl futures_util::Stream<Item = String> + Send {
    futures_util::stream::unfold(reader.lines(), |mut lines| async move {
        match lines.next_line().await {
            Ok(Some(line)) => Some((line, lines)),
            _ => None,
        }
    })
}

/// A deterministic tar of the files (fixed mtime and owner; mode from the exec bit).
pub fn pack(files: &[ContextFile]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let body = std::fs::read(&file.source)
            .with_context(|| format!("reading {}", file.source.display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(if file.executable { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, &file.path, body.as_slice())
            .with_context(|| format!("adding {} to the build context tar", file.path))?;
    }
    Ok(builder.into_inner()?)
}

/// The last lines of some output, for error messages.
pub struct Tail {
    lines: std::collections::VecDeque<String>,
    keep: usize,
}

impl Tail {
    pub fn new(keep: usize) -> Self {
        Self {
            lines: std::collections::VecDeque::with_capacity(keep),
            keep,
        }
    }

    pub fn push(&mut self, line: impl AsRef<str>) {
        if self.lines.len() == self.keep {
            self.lines.pop_front();
        }
        self.lines.push_back(strip_ansi(line.as_ref()));
    }

    pub fn joined(&self) -> String {
        if self.lines.is_empty() {
            return "  (no output)".to_owned();
        }
        self.lines
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Drop terminal colour sequences (`ESC [ ... letter`) from a line of tool output.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::catalogue::{Kind, Role};

    fn spec(context: &'static str, shared: &'static [&'static str]) -> ImageSpec {
        ImageSpec {
            name: "t",
            system: "t",
            version: "1",
            repository: "chaosbed/t",
            kind: Kind::Dockerfile,
            role: Role::System,
            context: Some(context),
            shared,
            parent: None,
            maven: false,
            release: None,
            pom: None,
        }
    }

    #[test]
    fn lists_nested_and_shared_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("img/conf")).unwrap();
        std::fs::create_dir_all(dir.path().join("common")).unwrap();
        std::fs::write(dir.path().join("img/Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(dir.path().join("img/conf/a.xml"), "<a/>").unwrap();
        std::fs::write(dir.path().join("common/run.sh"), "#!/bin/sh\n").unwrap();
        let files = list(&spec("img", &["common/run.sh"]), dir.path()).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["Dockerfile", "conf/a.xml", "run.sh"]);
    }

    #[test]
    fn missing_dockerfile_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let err = list(&spec("nope", &[]), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no Dockerfile") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn packed_tar_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("img")).unwrap();
        std::fs::write(dir.path().join("img/Dockerfile"), "FROM x\n").unwrap();
        let files = list(&spec("img", &[]), dir.path()).unwrap();
        let a = pack(&files).unwrap();
        let b = pack(&files).unwrap();
        assert_eq!(a, b);
        let mut archive = tar::Archive::new(a.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile"]);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut tail = Tail::new(2);
        for line in ["a", "b", "c"] {
            tail.push(line);
        }
        assert_eq!(tail.joined(), "  b\n  c");
    }

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[91mE: no such package\u{1b}[0m"),
            "E: no such package"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
