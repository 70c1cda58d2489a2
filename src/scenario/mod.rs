//! Scenario files: TOML parsed into typed, validated structs. Pure data, no I/O beyond reading the file.

mod error;
mod model;
mod parse;
mod units;
mod validate;

pub use error::ScenarioError;
pub use model::{
    CheckSpec, FaultKind, FaultSpec, Scenario, SubscriptionKind, SystemKind, SystemSpec, Target,
    Tier, Topology, WorkloadKind, WorkloadSpec,
};
pub use parse::{load, parse};
pub use units::{ByteSize, Dur};
pub use validate::systems;
