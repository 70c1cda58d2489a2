//! The JVM memory flags a node was given (`-Xmx`, `-Xms`, `-XX:MaxDirectMemorySize`), and sizes
//! written for a person.

/// One size flag: its text as written (e.g. `-Xmx2g`) and its value in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Flag {
    pub text: String,
    pub bytes: u64,
}

/// The memory flags found in a JVM options string; the JVM takes the last of each, and so do we.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct JvmMemory {
    pub max_heap: Option<Flag>,
    pub initial_heap: Option<Flag>,
    pub max_direct: Option<Flag>,
}

const DIRECT: &str = "-XX:MaxDirectMemorySize=";

impl JvmMemory {
    /// Reads `-Xmx`, `-Xms` and `-XX:MaxDirectMemorySize=` from whitespace-separated flags
    /// (quotes around a flag are ignored); anything else is skipped.
    pub fn parse(flags: &str) -> Self {
        let mut memory = Self::default();
        for token in flags.split_whitespace() {
            let token = token.trim_matches(|c| c == '"' || c == '\'');
            let (slot, size) = if let Some(size) = token.strip_prefix("-Xmx") {
                (&mut memory.max_heap, size)
            } else if let Some(size) = token.strip_prefix("-Xms") {
                (&mut memory.initial_heap, size)
            } else if let Some(size) = token.strip_prefix(DIRECT) {
                (&mut memory.max_direct, size)
            } else {
                continue;
            };
            if let Some(bytes) = parse_size(size) {
                *slot = Some(Flag {
                    text: token.to_string(),
                    bytes,
                });
            }
        }
        memory
    }

    /// The heap the JVM may grow to: `-Xmx`, else `-Xms`.
    pub fn heap(&self) -> Option<&Flag> {
        self.max_heap.as_ref().or(self.initial_heap.as_ref())
    }

    /// Heap plus direct memory, as far as configured; `None` when neither is.
    pub fn total(&self) -> Option<u64> {
        match (self.heap(), &self.max_direct) {
            (None, None) => None,
            (heap, direct) => Some(
                heap.map_or(0, |f| f.bytes)
                    .saturating_add(direct.as_ref().map_or(0, |f| f.bytes)),
            ),
        }
    }

    /// What the flags size: `heap and direct memory`, `heap` or `direct memory`.
    pub fn what(&self) -> &'static str {
        match (self.heap().is_some(), self.max_direct.is_some()) {
            (true, true) => "heap and direct memory",
            (false, true) => "direct memory",
            _ => "heap",
        }
    }

    /// The flags and their sum: `-Xmx2g + MaxDirectMemorySize=4g = 6 GiB`, or `-Xmx2g = 2 GiB`.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(heap) = self.heap() {
            parts.push(heap.text.clone());
        }
        if let Some(direct) = &self.max_direct {
            parts.push(direct.text.trim_start_matches("-XX:").to_string());
        }
        let total = self.total()?;
        Some(format!("{} = {}", parts.join(" + "), format_bytes(total)))
    }
}

/// A JVM size: digits with an optional unit k, m, g or t (either case); no unit means bytes.
pub(super) fn parse_size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let shift = match unit {
        "" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        "t" | "T" => 40,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

/// Bytes for a person: `6 GiB`, `1.5 GiB`, `768 MiB`, `64 KiB`, `512 B`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            let tenths = (bytes as f64 / size as f64 * 10.0).round() as u64;
            return if tenths % 10 == 0 {
                format!("{} {unit}", tenths / 10)
            } else {
                format!("{}.{} {unit}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;

    #[rstest]
    #[case("2g", Some(2 * GIB))]
    #[case("512M", Some(512 * MIB))]
    #[case("1024k", Some(MIB))]
    #[case("1048576", Some(MIB))]
    #[case("2gb", None)]
    #[case("", None)]
    fn sizes(#[case] text: &str, #[case] bytes: Option<u64>) {
        assert_eq!(parse_size(text), bytes);
    }

    #[test]
    fn pulsar_default_flags_sum_heap_and_direct_memory() {
        let memory =
            JvmMemory::parse("\"-Xms2g -Xmx2g -XX:MaxDirectMemorySize=4g\" -XX:+UseG1GC -Dfoo=bar");
        assert_eq!(memory.heap().map(|f| f.bytes), Some(2 * GIB));
        assert_eq!(memory.total(), Some(6 * GIB));
        assert_eq!(memory.what(), "heap and direct memory");
        assert_eq!(
            memory.describe().as_deref(),
            Some("-Xmx2g + MaxDirectMemorySize=4g = 6 GiB")
        );
    }

    #[test]
    fn the_last_flag_wins_and_xms_stands_in_for_a_missing_xmx() {
        let memory = JvmMemory::parse("-Xms256m -Xms768m");
        assert_eq!(memory.describe().as_deref(), Some("-Xms768m = 768 MiB"));
        assert_eq!(memory.what(), "heap");
        assert_eq!(JvmMemory::parse("-XX:+UseG1GC").describe(), None);
    }

    #[rstest]
    #[case(GIB, "1 GiB")]
    #[case(3 * GIB / 2, "1.5 GiB")]
    #[case(768 * MIB, "768 MiB")]
    #[case(100, "100 B")]
    fn byte_formatting(#[case] bytes: u64, #[case] text: &str) {
        assert_eq!(format_bytes(bytes), text);
    }
}
