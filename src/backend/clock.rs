//! Where clock skew lives in a node: libfaketime and one offset file per node on a volume of the
//! run, mounted read-only into every node at the same path, and the environment that preloads
//! it. Pure: the backend mounts it, the nemesis writes the offsets from outside the node.

/// Where the clock volume is mounted, in the nodes and in the clock keeper that writes it.
pub const MOUNT: &str = "/opt/chaosbed/faketime";
/// libfaketime on the clock volume, copied there from chaosbed's nemesis image.
pub const LIBRARY: &str = "/opt/chaosbed/faketime/libfaketime.so.1";
/// The folder of the per-node offset files.
pub const OFFSETS: &str = "/opt/chaosbed/faketime/clock";

/// The file holding `node`'s clock offset (`+0`, `+3600`, `-600`), which libfaketime in the
/// node re-reads at most once a second.
pub fn offset_file(node: &str) -> String {
    format!("{OFFSETS}/{node}")
}

/// The environment that makes every process of `node` preload libfaketime with the offset in
/// its file. `image_preload` is the image's own LD_PRELOAD, kept after libfaketime unless it
/// already preloads a libfaketime (chaosbed's older images did), which would fake twice.
///
/// Monotonic clocks stay true, so timers and timeouts keep working.
/// FAKETIME_FORCE_MONOTONIC_FIX=0 matters: with libfaketime's default every JVM timed wait
/// went through its monotonic fix-up, and a 1 ms Thread.sleep took 16 ms (measured: 200
/// sleeps 3.3 s instead of 0.22 s; idle ZooKeepers at 45% CPU in system time).
pub fn env(node: &str, image_preload: Option<&str>) -> Vec<(String, String)> {
    let preload = match image_preload.map(str::trim) {
        Some(own) if !own.is_empty() && !own.contains("libfaketime") => {
            format!("{LIBRARY}:{own}")
        }
        _ => LIBRARY.to_string(),
    };
    [
        ("LD_PRELOAD", preload),
        ("FAKETIME_TIMESTAMP_FILE", offset_file(node)),
        ("FAKETIME_CACHE_DURATION", "1".to_string()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
        ("FAKETIME_FORCE_MONOTONIC_FIX", "0".to_string()),
        // No semaphore shared with child processes: one made by a root entrypoint is
        // unreadable to the user it drops to (the official ZooKeeper image's gosu), and
        // libfaketime then stops the process.
        ("FAKETIME_DISABLE_SHM", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The environment of a throwaway process that must see the clock `offset_secs` away without
/// an offset file: whether the preload takes effect in an image at all.
pub fn probe_env(offset_secs: i64) -> Vec<(String, String)> {
    let mut env = env("probe", None);
    env.retain(|(k, _)| k != "FAKETIME_TIMESTAMP_FILE");
    env.push(("FAKETIME".to_string(), format!("{offset_secs:+}")));
    env
}

/// `spec_env` with the clock's variables added, where the node's own spec does not set them.
pub fn merged_env(
    node: &str,
    spec_env: &[(String, String)],
    image_env: &[String],
) -> Vec<(String, String)> {
    let image_preload = image_env
        .iter()
        .find_map(|entry| entry.strip_prefix("LD_PRELOAD="));
    let mut merged = spec_env.to_vec();
    for (key, value) in env(node, image_preload) {
        if !merged.iter().any(|(k, _)| *k == key) {
            merged.push((key, value));
        }
    }
    merged
}

/// The keeper's script that puts a zero offset in place for `node` unless it has one (a node
/// created again by an upgrade keeps the offset a running fault gave it).
pub fn zero_unless_set(node: &str) -> String {
    let file = offset_file(node);
    format!("mkdir -p {OFFSETS} && {{ test -s {file} || echo +0 > {file}; }} && chmod 644 {file}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_node_preloads_the_library_from_the_volume_with_its_own_offset_file() {
        let env = env("zk-2", None);
        assert_eq!(value(&env, "LD_PRELOAD"), Some(LIBRARY));
        assert_eq!(
            value(&env, "FAKETIME_TIMESTAMP_FILE"),
            Some("/opt/chaosbed/faketime/clock/zk-2")
        );
        assert_eq!(value(&env, "FAKETIME_DONT_FAKE_MONOTONIC"), Some("1"));
    }

    #[test]
    fn an_image_preload_is_kept_but_a_second_libfaketime_is_not() {
        let own = env("n", Some("/usr/lib/libjemalloc.so.2"));
        assert_eq!(
            value(&own, "LD_PRELOAD"),
            Some("/opt/chaosbed/faketime/libfaketime.so.1:/usr/lib/libjemalloc.so.2")
        );
        let old = env(
            "n",
            Some("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
        );
        assert_eq!(value(&old, "LD_PRELOAD"), Some(LIBRARY));
    }

    #[test]
    fn the_spec_wins_over_the_clock_and_the_image_preload_is_read() {
        let spec = vec![("FAKETIME_CACHE_DURATION".to_string(), "5".to_string())];
        let image = vec!["PATH=/usr/bin".to_string(), "LD_PRELOAD=/x.so".to_string()];
        let merged = merged_env("zk-1", &spec, &image);
        assert_eq!(value(&merged, "FAKETIME_CACHE_DURATION"), Some("5"));
        assert_eq!(
            value(&merged, "LD_PRELOAD"),
            Some(&*format!("{LIBRARY}:/x.so"))
        );
        assert_eq!(
            merged
                .iter()
                .filter(|(k, _)| k == "FAKETIME_CACHE_DURATION")
                .count(),
            1
        );
    }

    #[test]
    fn a_probe_reads_its_offset_from_the_environment() {
        let env = probe_env(86_400);
        assert_eq!(value(&env, "FAKETIME"), Some("+86400"));
        assert_eq!(value(&env, "FAKETIME_TIMESTAMP_FILE"), None);
    }

    #[test]
    fn a_zero_offset_never_overwrites_a_running_fault() {
        let script = zero_unless_set("zk-1");
        assert!(script.contains("test -s /opt/chaosbed/faketime/clock/zk-1 ||"));
    }
}
