use std::process::ExitCode;

fn main() -> ExitCode {
    imi::run()
}
