//! nemesis (being built).
