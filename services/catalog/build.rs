//! `sqlx::migrate!` embeds the files under `migrations/` at compile time, and
//! cargo does not watch them on its own: without this, a changed or added
//! migration would leave a stale build that never applies it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
