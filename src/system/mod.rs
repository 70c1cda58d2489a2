//! system (being built).
