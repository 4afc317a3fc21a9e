//! simkeep's entry point: parse the command line, start logging, run, map the outcome to an
//! exit code. Nothing else lives here.

use clap::Parser;

fn main() {
    let cli = simkeep::cli::Cli::parse();
    simkeep::cli::init_logging(&cli);
    let code = match simkeep::cli::run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("simkeep: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
