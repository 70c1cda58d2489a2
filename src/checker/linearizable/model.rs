//! The register's sequential specification: what a read, a write and a compare-and-set do to one
//! key's value.

/// A register value, interned per key (`history::KeyHistory::values` maps it back to JSON).
/// [`NULL`] is the absent znode, every key's initial state.
pub type Value = u32;

/// The initial state of every key: nothing written yet (a read returns JSON null).
pub const NULL: Value = 0;

/// One operation on one key, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A read that returned this value.
    Read(Value),
    /// A write of this value.
    Write(Value),
    /// Set the register to `new` if it holds `expect`.
    Cas { expect: Value, new: Value },
}

impl Action {
    /// The register's state after this operation took effect in `state`, or `None` when it
    /// could not have taken effect there (a read of another value, a CAS whose expectation does
    /// not hold: an acknowledged CAS applied, so the register held `expect`).
    #[inline]
    pub fn step(self, state: Value) -> Option<Value> {
        match self {
            Action::Read(v) => (v == state).then_some(state),
            Action::Write(v) => Some(v),
            Action::Cas { expect, new } => (expect == state).then_some(new),
        }
    }

    /// The value this operation needs the register to hold (what it observes): a read's value,
    /// a CAS's expectation; none for a write.
    pub fn observes(self) -> Option<Value> {
        match self {
            Action::Read(v) => Some(v),
            Action::Cas { expect, .. } => Some(expect),
            Action::Write(_) => None,
        }
    }

    /// The value the register holds after this operation, when it changes it.
    pub fn writes(self) -> Option<Value> {
        match self {
            Action::Read(_) => None,
            Action::Write(v) | Action::Cas { new: v, .. } => Some(v),
        }
    }

    pub fn is_read(self) -> bool {
        matches!(self, Action::Read(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_the_state_writes_replace_it_cas_needs_its_expectation() {
        assert_eq!(Action::Read(NULL).step(NULL), Some(NULL));
        assert_eq!(Action::Read(3).step(NULL), None);
        assert_eq!(Action::Write(3).step(7), Some(3));
        assert_eq!(Action::Cas { expect: 7, new: 9 }.step(7), Some(9));
        assert_eq!(Action::Cas { expect: 7, new: 9 }.step(NULL), None);
        assert_eq!(Action::Cas { expect: 7, new: 9 }.observes(), Some(7));
        assert_eq!(Action::Write(2).observes(), None);
        assert_eq!(Action::Cas { expect: 7, new: 9 }.writes(), Some(9));
    }
}
