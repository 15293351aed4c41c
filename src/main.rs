fn main() -> std::process::ExitCode {
    smstrail::cli::main()
}
