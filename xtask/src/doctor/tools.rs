//! The doctor's tool lines: each host tool found or missing, what it is for and the Debian
//! package that provides it. A missing tool is only worth a warning when it is needed now.

use chaosbed::host::tools::{Need, TOOLS, find};

use super::report::{Line, Status};

/// A line per tool. `engine_answers`: dockerd and iptables matter only without one;
/// `images_to_build`: mmdebstrap and mvn matter only when some image is missing (None: unknown).
pub fn lines(engine_answers: bool, images_to_build: Option<usize>) -> Vec<Line> {
    TOOLS
        .iter()
        .map(|tool| {
            let name = tool.command;
            match find(name) {
                Some(path) => Line::ok(
                    name,
                    format!("{} ({}): {}", path.display(), tool.package, tool.purpose),
                ),
                None => {
                    let detail = format!(
                        "not found (`apt-get install {}`): {}",
                        tool.package, tool.purpose
                    );
                    let not_now = match tool.need {
                        Need::Build => None,
                        Need::Engine => {
                            engine_answers.then_some("not needed while an engine answers")
                        }
                        Need::Images => (images_to_build == Some(0))
                            .then_some("not needed while every image is built"),
                        Need::Optional => Some("optional"),
                    };
                    if let Some(why) = not_now {
                        Line::quiet(Status::Missing, name, format!("{detail} ({why})"))
                    } else {
                        Line::warning(
                            Status::Missing,
                            name,
                            detail,
                            &format!("{name} missing (apt-get install {})", tool.package),
                        )
                    }
                }
            }
        })
        .collect()
}
