//! What a server binary is: its version and build, for `GetServerInfo` and
//! `vigil version`.
//!
//! The commit comes from `VIGIL_BUILD_COMMIT` at compile time (the Docker
//! image and CI set it); a local `cargo build` says `dev`.

/// The package version, such as `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `COMMIT PROFILE ARCH-OS`, such as `3f2a9c1d7e01 release x86_64-linux`.
pub fn build() -> String {
    let commit = option_env!("VIGIL_BUILD_COMMIT").unwrap_or("dev");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "{commit} {profile} {}-{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}
