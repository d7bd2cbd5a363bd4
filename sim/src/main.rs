//! `mixmailer-sim <scenario>`: see `mixmailer-sim help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match mixmailer_sim::scenarios::main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mixmailer-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
