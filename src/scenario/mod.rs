//! scenario (being built).
