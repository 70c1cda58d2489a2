//! What the host offers chaosbed, probed cheaply and judged by pure functions: the kernel
//! features faults rely on (`kernel`), free disk where Docker and target/ keep their files
//! (`disk`), how much of it a scenario needs (`need`), and the tools on PATH (`tools`).
//! `cargo xtask doctor` reports all of it; the runner refuses a run that does not fit on disk.

pub mod disk;
pub mod kernel;
pub mod need;
pub mod tools;
