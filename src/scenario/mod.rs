//! Scenario files: TOML parsed into typed, validated structs. Pure data, no I/O beyond reading the file.

mod error;
mod fault;
mod model;
mod parse;
mod random;
mod units;
mod validate;
mod validate_params;

pub use error::ScenarioError;
pub use fault::{
    ClockMode, DEFAULT_REJOIN, Direction, FaultKind, FaultParams, FaultSpec, Offset,
    PartitionShape, Protocol, UpgradeOrder,
};
pub use model::{
    Check, CheckSpec, Expect, ReadMode, ReadModel, Scenario, SubscriptionKind, SystemKind,
    SystemSpec, Target, Tier, Topology, WorkloadKind, WorkloadSpec,
};
pub use parse::{load, parse};
pub use random::{RANDOM_KINDS, RandomSpec};
pub use units::{ByteSize, Dur};
pub use validate::systems;
