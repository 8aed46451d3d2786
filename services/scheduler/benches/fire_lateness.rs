//! Placeholder until the lateness benchmark lands.
fn main() {}
