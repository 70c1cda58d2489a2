//! The Pulsar image's environment contract (apachepulsar/pulsar, which the chaosbed image keeps):
//! `PULSAR_PREFIX_<key>` sets or adds any key of the config file a role reads, and `PULSAR_MEM` /
//! `BOOKIE_MEM` hold the JVM's memory flags. Bookies run from the same image, so the bookkeeper
//! module speaks it too.

use std::collections::BTreeMap;

/// Prefix of a variable that sets (or adds) a config key, in the official image too.
pub const PREFIX: &str = "PULSAR_PREFIX_";

/// chaosbed's settings for a role, overridden key by key by the scenario's `config`.
pub fn merged(
    settings: BTreeMap<String, String>,
    overrides: &BTreeMap<String, toml::Spanned<toml::Value>>,
) -> BTreeMap<String, String> {
    let mut merged = settings;
    for (key, value) in overrides {
        merged.insert(key.clone(), crate::system::config_text(value.get_ref()));
    }
    merged
}

/// Every key as `PULSAR_PREFIX_<key>=value`, in key order.
pub fn config_env(config: &BTreeMap<String, String>) -> Vec<(String, String)> {
    config
        .iter()
        .map(|(key, value)| (format!("{PREFIX}{key}"), value.clone()))
        .collect()
}

/// `var=<heap flags>`: the scenario's `heap` when set, else chaosbed's `default`. An empty `heap`
/// passes nothing, so the image's own default applies (2 GiB heaps in the official image).
pub fn memory_env(var: &str, heap: Option<&str>, default: &str) -> Option<(String, String)> {
    match heap.map(str::trim) {
        Some("") => None,
        Some(flags) => Some((var.to_string(), flags.to_string())),
        None => Some((var.to_string(), default.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_overrides_chaosbed_settings() {
        let settings = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        let overrides = BTreeMap::from([
            (
                "b".to_string(),
                toml::Spanned::new(0..0, toml::Value::Integer(20)),
            ),
            ("c".to_string(), toml::Spanned::new(0..0, "x".into())),
        ]);
        let env = config_env(&merged(settings, &overrides));
        assert_eq!(
            env,
            [
                ("PULSAR_PREFIX_a".to_string(), "1".to_string()),
                ("PULSAR_PREFIX_b".to_string(), "20".to_string()),
                ("PULSAR_PREFIX_c".to_string(), "x".to_string()),
            ]
        );
    }

    #[test]
    fn an_empty_heap_leaves_the_image_default() {
        assert_eq!(memory_env("PULSAR_MEM", Some(" "), "-Xmx1m"), None);
        assert_eq!(
            memory_env("PULSAR_MEM", None, "-Xmx1m"),
            Some(("PULSAR_MEM".into(), "-Xmx1m".into()))
        );
        assert_eq!(
            memory_env("BOOKIE_MEM", Some("-Xmx2g"), "-Xmx1m"),
            Some(("BOOKIE_MEM".into(), "-Xmx2g".into()))
        );
    }
}
