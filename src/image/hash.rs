//! Content hashes for image tags: every context file, the parent's tag and the build args.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::context::ContextFile;

/// Bump when the pipeline changes what it puts into an image without any context file
/// changing (tar layout, build options), so every tag moves.
const PIPELINE_REVISION: &str = "chaosbed-image-pipeline/1";

/// Hex characters of the digest that go into a tag.
pub const TAG_HASH_LEN: usize = 12;

/// Incremental, length-prefixed hashing so that no two different inputs feed the same bytes.
pub struct ContentHasher(Sha256);

impl ContentHasher {
    pub fn new(image: &str) -> Self {
        let mut hasher = Self(Sha256::new());
        hasher.field("pipeline", PIPELINE_REVISION.as_bytes());
        hasher.field("image", image.as_bytes());
        hasher
    }

    pub fn field(&mut self, key: &str, value: &[u8]) {
        for part in [key.as_bytes(), value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
    }

    pub fn file(&mut self, path: &str, executable: bool, contents: &[u8]) {
        self.field("file", path.as_bytes());
        self.field("exec", if executable { b"1" } else { b"0" });
        self.field("contents", contents);
    }

    /// Full hex digest.
    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Digest of a build context: files (sorted by path), the parent's tag and the build args.
pub fn context_digest(
    image: &str,
    files: &[ContextFile],
    contents: impl Fn(&ContextFile) -> std::io::Result<Vec<u8>>,
    parent_tag: Option<&str>,
    build_args: &BTreeMap<String, String>,
) -> std::io::Result<String> {
    let mut hasher = ContentHasher::new(image);
    hasher.field("parent", parent_tag.unwrap_or("").as_bytes());
    for (key, value) in build_args {
        hasher.field("arg", key.as_bytes());
        hasher.field("value", value.as_bytes());
    }
    let mut sorted: Vec<&ContextFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for file in sorted {
        hasher.file(&file.path, file.executable, &contents(file)?);
    }
    Ok(hasher.finish())
}

/// The tag-sized prefix of a digest.
pub fn short(digest: &str) -> &str {
    &digest[..TAG_HASH_LEN.min(digest.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file(path: &str, executable: bool) -> ContextFile {
        ContextFile {
            path: path.to_owned(),
            source: PathBuf::from(path),
            executable,
        }
    }

    fn digest(files: &[(&str, bool, &str)], parent: Option<&str>, args: &[(&str, &str)]) -> String {
        let list: Vec<ContextFile> = files.iter().map(|(p, x, _)| file(p, *x)).collect();
        let args = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        context_digest(
            "img",
            &list,
            |f| {
                let (_, _, body) = files.iter().find(|(p, _, _)| *p == f.path).unwrap();
                Ok(body.as_bytes().to_vec())
            },
            parent,
            &args,
        )
        .unwrap()
    }

    const BASE: &[(&str, bool, &str)] = &[
        ("Dockerfile", false, "FROM x\n"),
        ("docker-entrypoint.sh", true, "#!/bin/sh\n"),
    ];

    #[test]
    fn digest_is_stable_and_independent_of_listing_order() {
        let a = digest(BASE, Some("p:1"), &[("PARENT", "p:1")]);
        let reversed: Vec<_> = BASE.iter().rev().copied().collect();
        assert_eq!(a, digest(&reversed, Some("p:1"), &[("PARENT", "p:1")]));
        assert_eq!(a.len(), 64);
        assert_eq!(short(&a).len(), TAG_HASH_LEN);
        // Pinned: a change here moves every tag, so make it on purpose (PIPELINE_REVISION).
        assert_eq!(short(&a), "6c097159e831");
    }

    #[test]
    fn digest_is_sensitive_to_content_names_modes_parent_and_args() {
        let a = digest(BASE, Some("p:1"), &[("PARENT", "p:1")]);
        let changed_body = [BASE[0], ("docker-entrypoint.sh", true, "#!/bin/bash\n")];
        let renamed = [BASE[0], ("entrypoint.sh", true, "#!/bin/sh\n")];
        let not_exec = [BASE[0], ("docker-entrypoint.sh", false, "#!/bin/sh\n")];
        let extra = [BASE[0], BASE[1], ("lib.txt", false, "")];
        for other in [
            digest(&changed_body, Some("p:1"), &[("PARENT", "p:1")]),
            digest(&renamed, Some("p:1"), &[("PARENT", "p:1")]),
            digest(&not_exec, Some("p:1"), &[("PARENT", "p:1")]),
            digest(&extra, Some("p:1"), &[("PARENT", "p:1")]),
            digest(BASE, Some("p:2"), &[("PARENT", "p:1")]),
            digest(BASE, Some("p:1"), &[("PARENT", "p:2")]),
            digest(BASE, None, &[("PARENT", "p:1")]),
        ] {
            assert_ne!(a, other);
        }
    }

    #[test]
    fn fields_are_length_prefixed() {
        let mut one = ContentHasher::new("x");
        one.field("ab", b"c");
        let mut two = ContentHasher::new("x");
        two.field("a", b"bc");
        assert_ne!(one.finish(), two.finish());
    }
}
