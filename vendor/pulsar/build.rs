extern crate prost_build;

fn main() {
    #[cfg(feature = "protobuf-src")]
    std::env::set_var("PROTOC", protobuf_src::protoc());

    // chaosbed patch: every command inside BaseCommand is boxed, so that a BaseCommand is a few
    // hundred bytes instead of 4.4 KB: it is moved by value several times per message.
    let proto = std::fs::read_to_string("./PulsarApi.proto").unwrap();
    let mut config = prost_build::Config::new();
    // chaosbed patch: the protoc shipped inside protoc-bin-vendored, never the host's (nor
    // `PROTOC`), so the crate builds on a machine with only Rust and a C compiler.
    #[cfg(not(feature = "protobuf-src"))]
    config.protoc_executable(
        protoc_bin_vendored::protoc_bin_path().expect("protoc-bin-vendored has no protoc for this platform"),
    );
    for field in base_command_fields(&proto) {
        config.boxed(format!(".pulsar.proto.BaseCommand.{field}"));
    }
    config
        .compile_protos(&["./PulsarApi.proto"], &["./"])
        .unwrap();
}

/// The names of BaseCommand's fields whose type is a message (`CommandXxx`).
fn base_command_fields(proto: &str) -> Vec<String> {
    proto
        .split("message BaseCommand {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["optional", kind, name, ..] if kind.starts_with("Command") => {
                    Some(name.to_string())
                }
                _ => None,
            }
        })
        .collect()
}
