fn main() -> std::process::ExitCode {
    mixflow::cli::main()
}
