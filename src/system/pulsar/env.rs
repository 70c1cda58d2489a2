//! The Pulsar image's environment contract (apachepulsar/pulsar, which the chaosbed image keeps):
//! `PULSAR_PREFIX_<key>` sets or adds any key of the config file a role reads, and `PULSAR_MEM` /
//! `BOOKIE_MEM` hold the JVM's memory flags. Bookies run from the same image, so the bookkeeper
//! module speaks it too.

use std::collections::BTreeMap;

/// Prefix of a variable that sets (or adds) a config key, in the official image too.
pub const PREFIX: &str = "PULSAR_PREFIX_";

/// A scenario's config value as a config file writes it: strings as they are, arrays joined by
/// commas (list-valued keys such as `superUserRoles`), everything else in TOML's spelling.
pub fn conf_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(conf_value).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// chaosbed's settings for a role, overridden key by key by the scenario's `config`.
pub fn merged(
    settings: BTreeMap<String, String>,
    overrides: &BTreeMap<String, toml::Value>,
) -> BTreeMap<String, String> {
    let mut merged = settings;
    for (key, value) in overrides {
        merged.insert(key.clone(), conf_value(value));
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
    fn values_are_written_as_a_config_file_would() {
        assert_eq!(
            conf_value(&toml::Value::String("zk:a:2181".into())),
            "zk:a:2181"
        );
        assert_eq!(conf_value(&toml::Value::Integer(3)), "3");
        assert_eq!(conf_value(&toml::Value::Boolean(false)), "false");
        assert_eq!(conf_value(&toml::Value::Float(0.99)), "0.99");
        let roles = toml::Value::Array(vec!["admin".into(), "proxy".into()]);
        assert_eq!(conf_value(&roles), "admin,proxy");
    }

    #[test]
    fn the_scenario_overrides_chaosbed_settings() {
        let settings = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        let overrides = BTreeMap::from([
            ("b".to_string(), toml::Value::Integer(20)),
            ("c".to_string(), toml::Value::String("x".into())),
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
