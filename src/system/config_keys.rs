//! Config keys whose type chaosbed knows, and the check of a scenario's `config` values against
//! them at validation: `tickTime = "fast"` is refused at its line, not passed through to a node
//! that then fails to start. Each system lists its own keys (`CONFIG_KEYS` in its module); a key
//! no system lists is passed through unchecked, as before.

/// What a known key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// A whole number of at least `min` (a count, or a time in the unit the key says).
    Whole { min: i64 },
    /// `true` or `false`.
    Flag,
    /// A number from 0 to 1.
    Fraction,
    /// A TCP or UDP port, 1 to 65535.
    Port,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// A key whose value chaosbed checks.
#[derive(Debug, Clone, Copy)]
pub struct KnownKey {
    pub key: &'static str,
    pub takes: Takes,
    /// What the value means, e.g. "milliseconds per tick".
    pub meaning: &'static str,
}

/// Shorthand for the systems' tables.
pub const fn whole(key: &'static str, min: i64, meaning: &'static str) -> KnownKey {
    KnownKey {
        key,
        takes: Takes::Whole { min },
        meaning,
    }
}

pub const fn flag(key: &'static str, meaning: &'static str) -> KnownKey {
    KnownKey {
        key,
        takes: Takes::Flag,
        meaning,
    }
}

pub const fn fraction(key: &'static str, meaning: &'static str) -> KnownKey {
    KnownKey {
        key,
        takes: Takes::Fraction,
        meaning,
    }
}

pub const fn port(key: &'static str, meaning: &'static str) -> KnownKey {
    KnownKey {
        key,
        takes: Takes::Port,
        meaning,
    }
}

pub const fn one_of(
    key: &'static str,
    words: &'static [&'static str],
    meaning: &'static str,
) -> KnownKey {
    KnownKey {
        key,
        takes: Takes::OneOf(words),
        meaning,
    }
}

/// Why `value` is not what `known` takes, and an example of what it takes; `None` when it is.
pub fn refuse(known: &KnownKey, value: &toml::Value) -> Option<(String, String)> {
    let text = match value {
        toml::Value::String(s) => Some(s.trim().to_string()),
        _ => None,
    };
    let ok = match known.takes {
        Takes::Whole { min } => whole_number(value).is_some_and(|n| n >= min),
        Takes::Port => whole_number(value).is_some_and(|n| (1..=65535).contains(&n)),
        Takes::Flag => match value {
            toml::Value::Boolean(_) => true,
            _ => text
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false")),
        },
        Takes::Fraction => number(value).is_some_and(|f| (0.0..=1.0).contains(&f)),
        Takes::OneOf(words) => text.as_deref().is_some_and(|t| words.contains(&t)),
    };
    if ok {
        return None;
    }
    let (wants, example) = match known.takes {
        Takes::Whole { min } => (
            format!("a whole number of at least {min}"),
            format!("{} = {}", known.key, min.max(1) * 10),
        ),
        Takes::Port => (
            "a port from 1 to 65535".to_string(),
            format!("{} = 8080", known.key),
        ),
        Takes::Flag => ("true or false".to_string(), format!("{} = true", known.key)),
        Takes::Fraction => (
            "a number from 0 to 1".to_string(),
            format!("{} = 0.95", known.key),
        ),
        Takes::OneOf(words) => (
            format!("one of {}", words.join(", ")),
            format!("{} = \"{}\"", known.key, words[0]),
        ),
    };
    Some((
        format!(
            "`{} = {value}`: {} takes {wants} ({})",
            known.key, known.key, known.meaning
        ),
        format!("for example {example}"),
    ))
}

/// A whole number written as one, or as a string of one (`tickTime = "100"`).
pub fn whole_number(value: &toml::Value) -> Option<i64> {
    match value {
        toml::Value::Integer(i) => Some(*i),
        toml::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number written as one, or as a string of one (`diskUsageThreshold = "0.9"`).
pub fn number(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: KnownKey = whole("tickTime", 1, "milliseconds per tick");

    #[test]
    fn a_word_where_a_number_belongs_is_refused_with_an_example() {
        let (message, help) = refuse(&TICK, &toml::Value::String("fast".into())).unwrap();
        assert_eq!(
            message,
            "`tickTime = \"fast\"`: tickTime takes a whole number of at least 1 (milliseconds per tick)"
        );
        assert_eq!(help, "for example tickTime = 10");
        assert!(refuse(&TICK, &toml::Value::Integer(0)).is_some());
        assert!(refuse(&TICK, &toml::Value::Float(1.5)).is_some());
    }

    #[test]
    fn numbers_and_flags_are_taken_as_numbers_or_as_their_text() {
        assert!(refuse(&TICK, &toml::Value::Integer(100)).is_none());
        assert!(refuse(&TICK, &toml::Value::String(" 100 ".into())).is_none());
        let sync = flag("journalSyncData", "fsync each entry");
        assert!(refuse(&sync, &toml::Value::Boolean(false)).is_none());
        assert!(refuse(&sync, &toml::Value::String("TRUE".into())).is_none());
        assert!(refuse(&sync, &toml::Value::String("yes".into())).is_some());
        let threshold = KnownKey {
            key: "diskUsageThreshold",
            takes: Takes::Fraction,
            meaning: "",
        };
        assert!(refuse(&threshold, &toml::Value::Float(0.95)).is_none());
        assert!(refuse(&threshold, &toml::Value::Integer(95)).is_some());
        let port = KnownKey {
            key: "brokerServicePort",
            takes: Takes::Port,
            meaning: "",
        };
        assert!(refuse(&port, &toml::Value::Integer(70000)).is_some());
        let storage = KnownKey {
            key: "SW_STORAGE",
            takes: Takes::OneOf(&["postgresql", "h2"]),
            meaning: "",
        };
        assert!(refuse(&storage, &toml::Value::String("h2".into())).is_none());
        let (message, _) = refuse(&storage, &toml::Value::String("mongo".into())).unwrap();
        assert!(message.contains("one of postgresql, h2"), "{message}");
    }
}
