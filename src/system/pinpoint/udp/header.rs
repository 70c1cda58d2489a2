//! Pinpoint's packet header, written before every Thrift object an agent sends (UDP datagrams,
//! and the payload of TCP requests): the signature byte 0xEF, a version byte, and the type code
//! of the Thrift struct that follows as a big-endian short. Version 0x10 ends there (what the
//! 2.x agents' DefaultTBaseLocator writes); version 0x20 adds a header-data map: a short count,
//! then each key and value as a short length and UTF-8 bytes (at most 64 entries, strings of 1 to
//! 1024 characters). The collector reads either.

use anyhow::{bail, ensure};

/// The first byte of every header.
pub const SIGNATURE: u8 = 0xef;
/// The header without data (HeaderV1): signature, version, type.
pub const VERSION_1: u8 = 0x10;
/// The header with a data map after the type (HeaderV2).
pub const VERSION_2: u8 = 0x20;
/// Entries a version-2 header may carry.
pub const MAX_ENTRIES: usize = 64;
/// Characters one key or value of a version-2 header may have.
pub const MAX_STRING: usize = 1024;

/// Type codes of the Thrift structs (DefaultTBaseLocator of Pinpoint 2.5).
pub mod types {
    pub const NETWORK_CHECK: i16 = 10;
    pub const SPAN: i16 = 40;
    pub const AGENT_INFO: i16 = 50;
    pub const AGENT_STAT: i16 = 55;
    pub const AGENT_STAT_BATCH: i16 = 56;
    pub const SPAN_CHUNK: i16 = 70;
    pub const SPAN_EVENT: i16 = 80;
    pub const SQL_METADATA: i16 = 300;
    pub const API_METADATA: i16 = 310;
    pub const RESULT: i16 = 320;
    pub const STRING_METADATA: i16 = 330;
}

/// A version-1 header for `type_code`.
pub fn v1(type_code: i16) -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    out.extend_from_slice(&[SIGNATURE, VERSION_1]);
    out.extend_from_slice(&type_code.to_be_bytes());
    out
}

/// A version-2 header for `type_code` carrying `data`.
pub fn v2(type_code: i16, data: &[(&str, &str)]) -> anyhow::Result<Vec<u8>> {
    ensure!(
        data.len() < MAX_ENTRIES,
        "a header carries fewer than {MAX_ENTRIES} entries, not {}",
        data.len()
    );
    let mut out = Vec::with_capacity(6);
    out.extend_from_slice(&[SIGNATURE, VERSION_2]);
    out.extend_from_slice(&type_code.to_be_bytes());
    out.extend_from_slice(&(data.len() as i16).to_be_bytes());
    for text in data.iter().flat_map(|(k, v)| [*k, *v]) {
        let chars = text.chars().count();
        ensure!(
            (1..=MAX_STRING).contains(&chars),
            "header string {text:?} has {chars} characters (1 to {MAX_STRING})"
        );
        out.extend_from_slice(&(text.len() as i16).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    Ok(out)
}

/// The type code of a header at the start of `bytes`, and where its body starts.
pub fn parse(bytes: &[u8]) -> anyhow::Result<(i16, usize)> {
    ensure!(
        bytes.len() >= 4,
        "a header has 4 bytes at least, not {}",
        bytes.len()
    );
    ensure!(
        bytes[0] == SIGNATURE,
        "header signature 0x{:02x}, not 0x{SIGNATURE:02x}",
        bytes[0]
    );
    let type_code = i16::from_be_bytes([bytes[2], bytes[3]]);
    match bytes[1] {
        VERSION_1 => Ok((type_code, 4)),
        VERSION_2 => {
            let mut at = 4;
            let short = |at: &mut usize| -> anyhow::Result<usize> {
                let b = bytes
                    .get(*at..*at + 2)
                    .ok_or_else(|| anyhow::anyhow!("header data cut short at byte {}", *at))?;
                *at += 2;
                Ok(i16::from_be_bytes([b[0], b[1]]).max(0) as usize)
            };
            let entries = short(&mut at)?;
            for _ in 0..entries * 2 {
                at += short(&mut at)?;
            }
            ensure!(at <= bytes.len(), "header data runs past the packet");
            Ok((type_code, at))
        }
        other => bail!("header version 0x{other:02x} (known: 0x10, 0x20)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_is_four_bytes() {
        assert_eq!(v1(types::SPAN), [0xef, 0x10, 0x00, 40]);
        assert_eq!(v1(types::STRING_METADATA), [0xef, 0x10, 0x01, 0x4a]);
        assert_eq!(parse(&[0xef, 0x10, 0, 56, 9]).unwrap(), (56, 4));
    }

    #[test]
    fn version_2_carries_its_map() {
        let h = v2(types::SPAN, &[("k", "vv")]).unwrap();
        assert_eq!(h, [0xef, 0x20, 0, 40, 0, 1, 0, 1, b'k', 0, 2, b'v', b'v']);
        assert_eq!(parse(&h).unwrap(), (40, h.len()));
        assert_eq!(v2(types::SPAN, &[]).unwrap(), [0xef, 0x20, 0, 40, 0, 0]);
        assert!(v2(types::SPAN, &[("", "x")]).is_err());
        assert!(parse(&[0xee, 0x10, 0, 40]).is_err());
        assert!(parse(&[0xef, 0x30, 0, 40]).is_err());
    }
}
