//! The committed generated code (`crates/grpc/src/generated/`) is what the committed
//! `api/proto/symbiont/v1/matching.proto` compiles to: regenerated here with a pure-Rust protobuf
//! compiler (protox) and tonic's prost generator, and compared. `UPDATE_PROTO=1` rewrites the
//! committed files instead (ADR 0025: no protoc, no build script, no network at build time).

use std::path::{Path, PathBuf};

use prost::Message;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn generated_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated")
}

/// Compiles the proto as the committed files were made: the Rust module (messages, the server
/// trait, a transport-neutral client) and the encoded descriptor set the reflection service serves.
fn regenerate() -> (String, Vec<u8>) {
    let descriptors = protox::compile(
        ["symbiont/v1/matching.proto"],
        [workspace_root().join("api/proto")],
    )
    .expect("api/proto/symbiont/v1/matching.proto compiles");
    let out = tempfile::tempdir().expect("a temporary directory");
    tonic_prost_build::configure()
        .build_transport(false)
        .out_dir(out.path())
        .compile_fds(descriptors.clone())
        .expect("the Rust code is generated");
    let code = std::fs::read_to_string(out.path().join("symbiont.v1.rs"))
        .expect("the generated module is written");
    (code, descriptors.encode_to_vec())
}

#[test]
fn the_committed_generated_code_matches_the_proto() {
    let (code, descriptor) = regenerate();
    let code_path = generated_dir().join("symbiont.v1.rs");
    let descriptor_path = generated_dir().join("symbiont.v1.descriptor.bin");
    if std::env::var("UPDATE_PROTO").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(generated_dir()).expect("the generated directory");
        std::fs::write(&code_path, &code).expect("the generated module is written");
        std::fs::write(&descriptor_path, &descriptor).expect("the descriptor set is written");
        return;
    }
    let committed_code = std::fs::read_to_string(&code_path).unwrap_or_default();
    let committed_descriptor = std::fs::read(&descriptor_path).unwrap_or_default();
    assert!(
        committed_code == code && committed_descriptor == descriptor,
        "crates/grpc/src/generated/ is stale: the proto changed; run \
         `UPDATE_PROTO=1 cargo test -p symbiont-grpc --test grpc proto_staleness` and commit the result"
    );
}
