//! The `tokengate` binary. Everything is in [`tokengate::cli::main`]: code generic over
//! the logging and runtime types is then compiled once, with the library, and not again
//! in this crate at the end of every release build.

#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    tokengate::cli::main()
}
