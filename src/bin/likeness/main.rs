//! The `likeness` binary: the CLI over the library's engine (index, similar, duplicates,
//! trash, eval, bench) and the desktop app (`likeness app`, the default).

mod bench;
mod cli;
mod eval;

fn main() -> std::process::ExitCode {
    cli::main()
}
