//! backend (being built).
