//! The worked example of the book's "Prove your own layer" as a command line: the suite of
//! `tests/your_own.rs` behind the engine's runner, exactly as a user's crate would ship it.
//!
//! `cargo run --release --example your_own -- --budget full` prints the report;
//! `-- --budget ci --seeds 0..100` runs the seed meter; `-- --help` lists the rest.

// ANCHOR: main
#[path = "../tests/your_own.rs"]
mod your_own;

fn main() -> std::process::ExitCode {
    dnn_proofs::claims::runner::main(your_own::suite())
}
// ANCHOR_END: main
