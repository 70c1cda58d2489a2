//! The nemesis: faults as data, pure planners (schedule, target resolution), and an executor that
//! asks the backend to apply and heal them, recording each with evidence that it took effect.

pub mod effects;
mod execute;
pub mod grudge;
pub mod random;
pub mod replay;
mod schedule;
pub mod shrink;
mod target;
mod upgrade;

pub use effects::NodeInfo;
pub use execute::{Nemesis, expected_status};
pub use schedule::{Action, Event, plan};
pub use target::{Observed, TargetContext, resolve};
pub use upgrade::{ROLL_POLL, RejoinProbe, Upgrades, roll_order};
