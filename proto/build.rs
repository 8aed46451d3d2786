//! Compiles the Vigil protos with protox (no system protoc) and generates prost
//! messages plus tonic stubs. Client and server stubs sit behind features.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "vigil/catalog/v1/configuration.proto",
    "vigil/catalog/v1/job.proto",
    "vigil/catalog/v1/job_event.proto",
    "vigil/catalog/v1/artifact.proto",
    "vigil/catalog/v1/alert.proto",
    "vigil/catalog/v1/schedule_state.proto",
    "vigil/catalog/v1/catalog_service.proto",
    "vigil/catalog/v1/coordination_service.proto",
    "vigil/catalog/v1/access_service.proto",
    "vigil/scheduler/v1/scheduler_service.proto",
    "vigil/executor/v1/executor_service.proto",
    "vigil/status/v1/status_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.join("vigil").display());
    println!("cargo:rerun-if-changed={}", root.join("google").display());

    let mut compiler = protox::Compiler::new([&root])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTOS)?;
    let fds = compiler.file_descriptor_set();
    // `file_descriptor_set_path` writes nothing on the compile_fds path, so
    // the encoded set for reflection is written here. It is encoded by
    // protox rather than from `fds`: prost's descriptor types drop custom
    // options such as `google.api.field_behavior`.
    fs::write(
        out_dir.join("vigil_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    // google.rpc error details (BadRequest, ...), vendored from tonic-types,
    // for reflection only: grpcurl then decodes the details of an error.
    let details = protox::compile(["google/rpc/error_details.proto"], [&root])?;
    fs::write(
        out_dir.join("error_details_descriptor.bin"),
        details.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .client_mod_attribute(".", "#[cfg(feature = \"client\")]")
        .server_mod_attribute(".", "#[cfg(feature = \"server\")]")
        .compile_fds(fds)?;
    Ok(())
}
