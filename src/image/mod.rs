//! image (being built).
