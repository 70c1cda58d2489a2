//! Units a scenario file writes as strings: durations ("10s", "1m30s") and byte sizes ("1GiB").

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a human string: `500ms`, `10s`, `2m`, `1m 30s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(text.trim()).map(Dur).map_err(|e| {
            format!("`{text}` is not a duration ({e}); write e.g. \"500ms\", \"10s\", \"2m\" or \"1m 30s\"")
        })
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// A size in bytes written as `512MiB`, `1GiB`, `1g`, `256m` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        for (unit, size) in UNITS {
            if self.0 >= size && self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let bad = || {
            format!(
                "`{text}` is not a size; write e.g. \"512MiB\", \"1GiB\" (units: B, KiB, MiB, GiB, k, m, g)"
            )
        };
        let number: u64 = number.parse().map_err(|_| bad())?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            _ => return Err(bad()),
        };
        number.checked_mul(multiplier).map(ByteSize).ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("500ms", 500)]
    #[case("10s", 10_000)]
    #[case("1m 30s", 90_000)]
    fn durations_parse(#[case] text: &str, #[case] millis: u64) {
        assert_eq!(
            text.parse::<Dur>().unwrap().0,
            Duration::from_millis(millis)
        );
    }

    #[test]
    fn a_bad_duration_says_how_to_write_one() {
        let err = "10 sex".parse::<Dur>().unwrap_err();
        assert!(err.contains("\"10s\""), "{err}");
    }

    #[rstest]
    #[case("1GiB", 1 << 30)]
    #[case("512MiB", 512 << 20)]
    #[case("256m", 256 << 20)]
    #[case("1024", 1024)]
    fn sizes_parse(#[case] text: &str, #[case] bytes: u64) {
        assert_eq!(text.parse::<ByteSize>().unwrap().0, bytes);
    }

    #[test]
    fn sizes_print_in_the_largest_whole_unit() {
        assert_eq!(ByteSize(1 << 30).to_string(), "1GiB");
        assert_eq!(ByteSize(1536 << 20).to_string(), "1536MiB");
    }

    #[test]
    fn a_bad_size_is_refused() {
        assert!("1 TB".parse::<ByteSize>().is_err());
        assert!("lots".parse::<ByteSize>().is_err());
    }
}
