//! A bookie's upgrade rejoin condition: after its restart on another image it answers `is_ready`
//! and the cluster's metadata lists it writable again (under the same id: the same address and
//! data volume, so the same cookie).

use std::net::Ipv4Addr;
use std::time::Duration;

use super::{Registered, bookie_id, is_ready, list_bookies};

const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// A bookie back in its cluster after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejoined {
    /// Its id, `ip:3181`.
    pub id: String,
    /// The writable bookies the metadata lists at that moment.
    pub writable: Vec<String>,
}

/// Whether the bookie at `address` has rejoined, from its `is_ready` answer and the registered
/// bookies; `Err` says what is still missing.
pub fn judge_rejoin(
    node: &str,
    address: Ipv4Addr,
    ready: Result<bool, String>,
    registered: Result<Registered, String>,
) -> Result<Rejoined, String> {
    match ready {
        Ok(true) => {}
        Ok(false) => return Err(format!("{node} ({address}) answers but is not ready")),
        Err(e) => return Err(format!("{node} ({address}) is_ready: {e}")),
    }
    let registered = registered.map_err(|e| format!("{node}: {e}"))?;
    let id = bookie_id(address);
    if registered.writable.contains(&id) {
        return Ok(Rejoined {
            id,
            writable: registered.writable,
        });
    }
    if registered.read_only.contains(&id) {
        return Err(format!("{node} ({id}) is registered read-only"));
    }
    Err(format!(
        "{node} ({id}) is not registered (writable: {})",
        registered.writable.join(", ")
    ))
}

/// Asks the restarted bookie `node` (of `nodes`) whether it is ready and registered writable.
pub async fn rejoined(nodes: &[(String, Ipv4Addr)], node: &str) -> Result<Rejoined, String> {
    let Some((_, address)) = nodes.iter().find(|(n, _)| n == node) else {
        return Err(format!("{node} is not a bookie of this run"));
    };
    let ready = is_ready(*address, ASK_TIMEOUT)
        .await
        .map_err(|e| format!("{e:#}"));
    let registered = if matches!(ready, Ok(true)) {
        list_bookies(*address, ASK_TIMEOUT)
            .await
            .map_err(|e| format!("{e:#}"))
    } else {
        Ok(Registered::default())
    };
    judge_rejoin(node, *address, ready, registered)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn registered(writable: &[&str], read_only: &[&str]) -> Result<Registered, String> {
        Ok(Registered {
            writable: writable.iter().map(|s| s.to_string()).collect(),
            read_only: read_only.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn a_ready_bookie_registered_writable_has_rejoined() {
        let r = judge_rejoin(
            "bookie-2",
            ADDRESS,
            Ok(true),
            registered(&["10.0.0.1:3181", "10.0.0.2:3181"], &[]),
        )
        .unwrap();
        assert_eq!(r.id, "10.0.0.2:3181");
        assert_eq!(r.writable.len(), 2);
    }

    #[test]
    fn not_ready_read_only_or_unregistered_has_not() {
        let not_ready = judge_rejoin("bookie-2", ADDRESS, Ok(false), registered(&[], &[]));
        assert!(not_ready.unwrap_err().contains("not ready"));
        let down = judge_rejoin(
            "bookie-2",
            ADDRESS,
            Err("connection refused".into()),
            registered(&[], &[]),
        );
        assert!(down.unwrap_err().contains("connection refused"));
        let read_only = judge_rejoin(
            "bookie-2",
            ADDRESS,
            Ok(true),
            registered(&["10.0.0.1:3181"], &["10.0.0.2:3181"]),
        );
        assert!(read_only.unwrap_err().contains("read-only"));
        let missing = judge_rejoin(
            "bookie-2",
            ADDRESS,
            Ok(true),
            registered(&["10.0.0.1:3181"], &[]),
        );
        assert!(missing.unwrap_err().contains("not registered"));
    }
}
