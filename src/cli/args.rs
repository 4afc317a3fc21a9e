//! Command-line definitions (clap derive). Only definitions: the work is in `run` and the
//! command-group files beside it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Where `--config` points when it is not given (OpenWrt keeps config under /etc).
pub const DEFAULT_CONFIG: &str = "/etc/simkeep/config.toml";

/// simkeep keeps a prepaid SIM in an LTE/5G router alive: it watches the modem and the data
/// left on the SIM, records history, and tops up before the data runs out.
#[derive(Debug, Parser)]
#[command(name = "simkeep", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Config file (TOML).
    #[arg(
        long,
        short = 'c',
        global = true,
        default_value = DEFAULT_CONFIG,
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// Talk to the modem at this serial port directly (overrides modem.port; no config needed).
    #[arg(long, short = 'p', global = true, value_name = "PATH")]
    pub port: Option<PathBuf>,

    /// Directory for UUCP lock files (overrides modem.lock_dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,

    /// More log output (-v debug, -vv trace).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only warnings and errors in the log.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum SmsCmd {
    /// Send a message (split into parts when long; UCS2 when it needs to be).
    Send {
        /// Phone number (+8190…) or the carrier's short code.
        number: String,
        /// The text.
        text: String,
        /// What was sent, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List messages (newest first).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one message.
    Read {
        /// Message id (store) or modem index (with --port).
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Delete one message.
    Delete {
        /// Message id (store) or modem index (with --port).
        id: i64,
        /// What was deleted, as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TopupCmd {
    /// Top up now (within the budget caps), through the running agent.
    Now {
        /// Use this flow (its name in [[topup.flow]]) instead of the first that fits.
        #[arg(long)]
        flow: Option<String>,
        /// Decide and say what would be bought; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// What the policy would do now, and why.
    Plan,
    /// Past top-up attempts (from the running agent, or the store when it is not running).
    History {
        /// Machine-readable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Resume automatic top-ups after an unconfirmed attempt paused them (check the account
    /// first), or after `pause`.
    Resume,
    /// Switch top-ups off until `resume` (recorded in the store: a restart stays paused).
    Pause,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCmd {
    /// Send a test message on every [[notify]] channel (or the one named) and print what each
    /// answered. Exit status 1 if any failed.
    Test {
        /// A channel's name (default: all).
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the config file (secrets hidden) and the defaults in effect for keys it leaves out.
    Show,
    /// Print one key's value as the file writes it, or its default (and say so).
    Get {
        /// Dotted key, e.g. modem.poll_interval, http.listen, topup.enabled.
        key: String,
    },
    /// Set one key, keeping the file's comments; refused (file untouched) unless the result is
    /// valid. The running agent reloads it.
    Set {
        /// Dotted key, e.g. modem.poll_interval.
        key: String,
        /// The value: "5s" for a duration, true/false, a number, or text.
        value: String,
    },
    /// Remove one key (back to its default), keeping the rest of the file as it is.
    Unset {
        /// Dotted key, e.g. modem.poll_interval.
        key: String,
    },
    /// Check the config file and exit (0 when it is valid); the same as check-config.
    Validate,
    /// Write a commented example with every key to the config path.
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the agent: poll the modem every modem.poll_interval and log what changes.
    Run,
    /// Start a simulated modem and the agent together: see simkeep work with no hardware.
    #[cfg(feature = "sim")]
    Demo {
        /// Which modem to simulate (generic, quectel-ec25, quectel-rm520n, huawei-e3372,
        /// simcom-sim7600, sierra-em7455, fibocom-l850).
        #[arg(long, default_value = "quectel-ec25")]
        personality: String,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
        /// HTTP address of the demo agent (default: http.listen of --config, else 127.0.0.1:8787).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Send one raw AT command and print the reply lines. Exit status 3 on ERROR/+CME ERROR,
    /// 4 when the modem cannot be reached or does not answer. While the agent runs this goes
    /// through it, which needs `http.allow_raw_at = true`.
    At {
        /// The command, e.g. 'AT+CSQ'.
        command: String,
        /// Seconds to wait for the answer (default: what the command usually needs).
        #[arg(long)]
        timeout: Option<u64>,
        /// The reply lines as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decode a pasted AT reply line, SMS PDU or USSD text with the agent's own parsers and
    /// print the typed result as JSON. Touches no port.
    Decode {
        #[command(subcommand)]
        what: DecodeCmd,
    },
    /// One screen from the running agent: link, SIM, operator, signal, data left, cycle,
    /// top-ups and what needs attention. Exit status 1 when no agent answers on http.listen.
    Status {
        /// The agent's status document (JSON) instead of the screen.
        #[arg(long)]
        json: bool,
    },
    /// Show modem identity, SIM and network registration.
    Info {
        /// Machine-readable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show signal: RSSI, RSRP, RSRQ, SINR, band, cell (and the NR leg on 5G NSA).
    Signal {
        /// Machine-readable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send and read SMS. With --port: the modem's own storage; without: the messages the
    /// daemon received and stored.
    Sms {
        #[command(subcommand)]
        cmd: SmsCmd,
    },
    /// Run a USSD code (e.g. '*100#') and print the network's answer. For a menu give the
    /// choices with --reply; on the port itself (no agent running, or --port) a menu with no
    /// --reply left reads the next choice from stdin (empty line cancels). A menu cancelled or
    /// left unanswered exits 1.
    Ussd {
        /// The code: digits, '*', '#' and '+' only.
        code: String,
        /// Menu choices to send in order (repeatable): --reply 1 --reply 2.
        #[arg(long = "reply", value_name = "CHOICE")]
        replies: Vec<String>,
        /// The whole dialogue (answers and how it ended) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Data used and left in this billing cycle, where the figure comes from, and when it runs
    /// out (from the running daemon, or from the store when it is not running).
    Usage {
        /// Machine-readable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Recorded usage or signal samples.
    History {
        /// What to show.
        #[arg(value_enum)]
        kind: crate::cli::history::Kind,
        /// How far back, e.g. 1h, 7d.
        #[arg(long, default_value = "1d", value_parser = parse_since)]
        since: std::time::Duration,
        /// JSON instead of CSV.
        #[arg(long, conflicts_with_all = ["csv", "format"])]
        json: bool,
        /// CSV (the default).
        #[arg(long, conflicts_with = "format")]
        csv: bool,
        /// Old spelling of --json / --csv, kept for scripts.
        #[arg(long, value_enum, hide = true)]
        format: Option<crate::cli::history::Format>,
    },
    /// Automatic top-ups: buy now, see what the policy would do, the history, resume after a pause.
    Topup {
        #[command(subcommand)]
        cmd: TopupCmd,
    },
    /// Notifications ([[notify]]): send a test message.
    Notify {
        #[command(subcommand)]
        cmd: NotifyCmd,
    },
    /// Check the config file and exit (0 when it is valid).
    CheckConfig,
    /// Read and change the config file: show, get, set, unset, validate, init.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Run a simulated modem on a pseudo-terminal and print its path. Reads control lines from
    /// the terminal (in the foreground) or --control: `set rsrp=-95`, `hang 10`, `unplug 3`,
    /// `reboot`, `urc +CMTI: "ME",1`, `garbage`. Ctrl-C or SIGTERM stops it and removes --link.
    #[cfg(feature = "sim")]
    Sim {
        /// Keep a symlink to the current pty here (it follows the pty across `unplug`).
        #[arg(long, value_name = "PATH")]
        link: Option<PathBuf>,
        /// Which modem to simulate.
        #[arg(long, default_value = "generic")]
        personality: String,
        /// Initial radio values, e.g. --set rsrp=-95 --set band=3.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Answer SIM commands with +CME ERROR: 14 (SIM busy) for this many seconds after start.
        #[arg(long, default_value_t = 0)]
        sim_busy: u64,
        /// Emit the modem's unsolicited noise (Huawei ^RSSI…) every this many seconds.
        #[arg(long)]
        noise: Option<u64>,
        /// Create a FIFO here and read control lines from it (for scripts and `simkeep sim &`):
        /// echo 'set rsrp=-95' > PATH.
        #[arg(long, value_name = "PATH")]
        control: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DecodeCmd {
    /// Reply lines of one AT command, e.g. '+CEREG: 2,1,"1F00","79D903",7' (several lines for
    /// multi-line replies such as 5G NSA +QENG).
    At {
        #[arg(required = true, value_name = "LINE")]
        lines: Vec<String>,
    },
    /// An SMS PDU in hex as +CMGR/+CMGL/+CMT print it (SMSC address first).
    Pdu { hex: String },
    /// A +CUSD text: UCS2 hex, packed GSM-7 hex, or plain text.
    Ussd {
        text: String,
        /// The <dcs> the modem gave (15 GSM-7, 72 UCS2, …); a hint only.
        #[arg(long)]
        dcs: Option<u8>,
    },
}

fn parse_since(s: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(s)
}
