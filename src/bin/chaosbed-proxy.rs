//! `chaosbed-proxy`: the transparent TCP proxy chaosbed copies into a node's nemesis helper
//! (see the chaosbed-proxy crate); a binary of this package so that every build that makes
//! `chaosbed` makes it too.

fn main() -> std::process::ExitCode {
    chaosbed_proxy::cli::main()
}
