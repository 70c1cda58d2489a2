//! `cargo xtask images`: builds every local image.

use std::process::ExitCode;

use indicatif::MultiProgress;

pub async fn run() -> anyhow::Result<ExitCode> {
    let docker = chaosbed::provision::engine().await?;
    let progress = MultiProgress::new();
    let tags = chaosbed::image::ensure_all(&docker, &progress).await?;
    for tag in tags {
        println!("{tag}");
    }
    Ok(ExitCode::SUCCESS)
}
