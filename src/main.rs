//! simkeep's entry point: parse the command line, start logging, run, map the outcome to an
//! exit code. Nothing else lives here.

use clap::Parser;

fn main() {
    // `simkeep --port P at LINE`, the one-shot scripts call in a loop, skips building clap's
    // command tree (see cli::quick); everything else is parsed by clap.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli =
        simkeep::cli::quick::quick_at(&argv).unwrap_or_else(|| simkeep::cli::Cli::parse_from(argv));
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
