//! chaosbed: stand up real clusters in Docker, run a workload, inject faults, judge the history.
pub mod api;
pub mod backend;
pub mod checker;
pub mod compose;
pub mod diagnose;
pub mod history;
pub mod host;
pub mod image;
pub mod nemesis;
pub mod provision;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod signal;
pub mod system;
pub mod version;
pub mod workload;

/// Makes jemalloc the allocator of the binary whose root calls it (`chaosbed`, `xtask` and the
/// Docker tests do): the Pulsar producer allocates several small objects per message, and
/// `cargo xtask bench pulsar` measured glibc's malloc and free at a quarter of the producer
/// thread's time.
#[macro_export]
macro_rules! use_jemalloc {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::Jemalloc = $crate::Jemalloc;
    };
}

#[doc(hidden)]
pub use tikv_jemallocator::Jemalloc;
