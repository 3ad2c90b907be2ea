fn main() -> std::process::ExitCode {
    likeness::cli::main()
}
