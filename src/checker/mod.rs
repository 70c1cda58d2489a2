//! checker (being built).
