//! `cargo xtask doctor`: whether this host can run chaosbed's scenarios — the Docker engine,
//! free disk, images, kernel features, tools — one line per item with ok / warn / missing /
//! unknown, then a verdict; exit 1 when something stops a scenario from running. The probing
//! is `chaosbed::host`'s; this module only asks and reports.

mod disk;
mod engine;
mod kernel;
mod report;
mod tools;

use std::process::ExitCode;

pub async fn run() -> anyhow::Result<ExitCode> {
    let (engine, engine_line) = engine::probe().await;
    let mut lines = vec![engine_line];
    let (image_lines, images_to_build) = engine::image_lines(&engine);
    lines.extend(image_lines);
    lines.extend(disk::lines(&engine));
    lines.extend(kernel::lines(engine.kernel.as_deref()));
    lines.extend(tools::lines(engine.docker.is_some(), images_to_build));
    print!("{}", report::render(&lines));
    let (verdict, code) = report::verdict(&lines);
    // The verdict wraps too, its continuation indented under its text.
    let indent = "doctor: ".len();
    let wrapped = report::wrap(&verdict, report::WIDTH - indent);
    println!("{}", wrapped.join(&format!("\n{:indent$}", "")));
    Ok(code)
}
