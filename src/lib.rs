//! chaosbed: stand up real clusters in Docker, run a workload, inject faults, judge the history.
pub mod backend;
pub mod checker;
pub mod compose;
pub mod diagnose;
pub mod history;
pub mod image;
pub mod nemesis;
pub mod proxy;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod system;
pub mod workload;
