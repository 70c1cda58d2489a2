//! What a run leaves behind: the run directory, results.json, junit.xml, report.html (`html`)
//! and the console table; `suite`: what a whole suite leaves.

mod console;
pub mod html;
mod junit;
mod results;
mod rundir;
pub mod suite;

pub use console::{render_table, verdict_line};
pub use junit::junit_xml;
pub use results::{FaultRecord, NodeRecord, PhaseClock, PhaseTime, Results};
pub use rundir::RunDir;
