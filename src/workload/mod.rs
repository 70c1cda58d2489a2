//! Clients that act on a cluster and record every operation in the history.

pub mod client_lines;
pub mod container;
mod deadline;
pub mod pulsar;
pub mod traces;
pub mod zk_cas;
pub mod zk_register;

pub use deadline::Deadline;
