//! What each CLI command does: logging set-up, the dispatch from parsed arguments to the command
//! group that runs it, and the one-shot modem connection.

use std::time::Duration;

use crate::agent::engine_config;
use crate::at::{self, AtClient, AtError, Command};
use crate::cli::args::DecodeCmd;
use crate::cli::{Cli, Cmd, SmsCmd};
use crate::config::Config;
use crate::error::{AppError, ExitKind};

/// Sets up logging to stderr. Under procd stderr goes to logd, which stamps the time itself.
pub fn init_logging(cli: &Cli) {
    use std::io::IsTerminal;
    // One-shot commands print their result and one error line; the daemon logs its story.
    let long_running = match &cli.command {
        Cmd::Run => true,
        #[cfg(feature = "sim")]
        Cmd::Demo { .. } | Cmd::Sim { .. } => true,
        _ => false,
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => tracing::Level::WARN,
        (false, 0) if !long_running => tracing::Level::ERROR,
        (false, 0) => tracing::Level::INFO,
        (false, 1) => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.without_time().init();
    }
}

/// Runs one CLI command to completion.
pub fn run(cli: Cli) -> Result<(), AppError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            AppError::new(
                ExitKind::Failure,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    rt.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<(), AppError> {
    match &cli.command {
        Cmd::Run => {
            let cfg = load_config(&cli)?;
            crate::agent::run_with_reload(cfg, || load_config(&cli)).await
        }
        Cmd::CheckConfig => crate::cli::config::validate(&cli.config),
        Cmd::Config { cmd } => crate::cli::config::config(&cli.config, cmd).await,
        Cmd::Status { json } => crate::cli::status::status(&load_config(&cli)?, *json).await,
        Cmd::Sms { cmd } => sms(&cli, cmd).await,
        Cmd::Topup { cmd } => crate::cli::topup::topup(&load_config(&cli)?, cmd).await,
        Cmd::Notify {
            cmd: crate::cli::args::NotifyCmd::Test { name },
        } => crate::cli::notify::test(&load_config(&cli)?, name.as_deref(), || connect(&cli)).await,
        Cmd::Ussd {
            code,
            replies,
            json,
        } => {
            // Check the code before touching the agent or the port.
            crate::cli::ussd::check(code, replies)?;
            if let Some(cfg) = agent_config(&cli)? {
                if let Some(r) = crate::cli::ussd::ussd_via_agent(&cfg, code, replies, *json).await
                {
                    return r;
                }
            }
            let at = connect(&cli).await?;
            crate::cli::ussd::ussd(&at, code, replies, None, *json).await
        }
        Cmd::Usage { json } => crate::cli::history::usage(&load_config(&cli)?, *json).await,
        Cmd::History {
            kind,
            since,
            json,
            csv: _,
            format,
        } => {
            use crate::cli::history::Format;
            let format = match (json, format) {
                (true, _) => Format::Json,
                (false, Some(f)) => *f,
                (false, None) => Format::Csv,
            };
            crate::cli::history::history(&load_config(&cli)?, *kind, *since, format).await
        }
        Cmd::At {
            command,
            timeout,
            json,
        } => cmd_at(&cli, command, *timeout, *json).await,
        Cmd::Decode { what } => match what {
            DecodeCmd::At { lines } => crate::cli::decode::decode_at(lines),
            DecodeCmd::Pdu { hex } => crate::cli::decode::decode_pdu(hex),
            DecodeCmd::Ussd { text, dcs } => crate::cli::decode::decode_ussd(text, *dcs),
        },
        Cmd::Info { json } => {
            if let Some(cfg) = agent_config(&cli)? {
                if let Some(r) = crate::cli::report::info_from_agent(&cfg, *json).await {
                    return r;
                }
            }
            crate::cli::report::info(&connect(&cli).await?, &config_or_defaults(&cli)?, *json).await
        }
        Cmd::Signal { json } => {
            if let Some(cfg) = agent_config(&cli)? {
                if let Some(r) = crate::cli::report::signal_from_agent(&cfg, *json).await {
                    return r;
                }
            }
            crate::cli::report::signal(&connect(&cli).await?, &config_or_defaults(&cli)?, *json)
                .await
        }
        #[cfg(feature = "sim")]
        Cmd::Sim {
            link,
            personality,
            set,
            sim_busy,
            noise,
            control,
        } => {
            crate::cli::demo::sim(
                link.clone(),
                personality,
                set,
                *sim_busy,
                *noise,
                control.clone(),
            )
            .await
        }
        #[cfg(feature = "sim")]
        Cmd::Demo {
            personality,
            seconds,
            listen,
        } => {
            // Only a config the user named: the demo's own story is the point otherwise.
            let named = cli.config != std::path::Path::new("/etc/simkeep/config.toml");
            let config = named.then_some(cli.config.as_path());
            crate::cli::demo::demo(personality, *seconds, config, *listen).await
        }
    }
}

async fn sms(cli: &Cli, cmd: &SmsCmd) -> Result<(), AppError> {
    use crate::cli::sms as s;
    let index = |id: i64| {
        u32::try_from(id).map_err(|_| {
            AppError::new(
                ExitKind::Config,
                format!("{id} is not a modem message index"),
            )
        })
    };
    match cmd {
        SmsCmd::Send { number, text, json } => {
            crate::agent::ops::check_sms(number, text)
                .map_err(|e| AppError::new(ExitKind::Config, e.message))?;
            if let Some(cfg) = agent_config(cli)? {
                if let Some(r) = s::sms_send_via_agent(&cfg, number, text, *json).await {
                    return r;
                }
            }
            s::sms_send(&connect(cli).await?, number, text, *json).await
        }
        SmsCmd::List { json } if cli.port.is_some() => {
            s::sms_list_modem(&connect(cli).await?, *json).await
        }
        SmsCmd::Read { id, json } if cli.port.is_some() => {
            s::sms_read_modem(&connect(cli).await?, index(*id)?, *json).await
        }
        SmsCmd::Delete { id, json } if cli.port.is_some() => {
            s::sms_delete_modem(&connect(cli).await?, index(*id)?, *json).await
        }
        SmsCmd::List { json } => s::sms_list(&load_config(cli)?, *json).await,
        SmsCmd::Read { id, json } => s::sms_read(&load_config(cli)?, *id, *json).await,
        SmsCmd::Delete { id, json } => s::sms_delete(&load_config(cli)?, *id, *json).await,
    }
}

/// The config to find the running agent by, for commands that go through it when one runs:
/// `None` with `--port` (the user named the port: go to it directly, as before the agent had an
/// API), else the config file, which must load.
fn agent_config(cli: &Cli) -> Result<Option<Config>, AppError> {
    if cli.port.is_some() {
        return Ok(None);
    }
    load_config(cli).map(Some)
}

/// The config for the daemon: the file, with command-line overrides.
fn load_config(cli: &Cli) -> Result<Config, AppError> {
    let mut cfg = Config::load(&cli.config)?;
    apply_overrides(cli, &mut cfg);
    Ok(cfg)
}

/// For one-shot commands: with `--port` the file is optional; without it, the file must load.
fn config_or_defaults(cli: &Cli) -> Result<Config, AppError> {
    let mut cfg = match (&cli.port, cli.config.exists()) {
        (Some(port), false) => Config::for_port(port)?,
        _ => Config::load(&cli.config)?,
    };
    apply_overrides(cli, &mut cfg);
    Ok(cfg)
}

fn apply_overrides(cli: &Cli, cfg: &mut Config) {
    if let Some(p) = &cli.port {
        cfg.modem.port = p.clone();
    }
    if let Some(d) = &cli.lock_dir {
        cfg.modem.lock_dir = d.clone();
    }
}

/// Starts an engine for a one-shot command and waits for the first connection.
pub async fn connect(cli: &Cli) -> Result<AtClient, AppError> {
    connect_with(cli, true).await
}

/// `setup: false` skips `ATE0`/`AT+CMEE=1` (see `EngineConfig::setup`).
async fn connect_with(cli: &Cli, setup: bool) -> Result<AtClient, AppError> {
    let cfg = config_or_defaults(cli)?;
    let mut e = engine_config(&cfg);
    e.setup = setup;
    let (client, _task) = at::spawn(e);
    client.connect_once(Duration::from_secs(15)).await?;
    Ok(client)
}

/// `simkeep at`: through the running agent (`POST /api/v1/at`, which needs
/// `http.allow_raw_at = true`), or on the port when no agent answers. The same lines either way.
async fn cmd_at(cli: &Cli, line: &str, timeout: Option<u64>, json: bool) -> Result<(), AppError> {
    // Validate before touching the agent or the port: a bad line is the user's mistake.
    let cmd = Command::new(line).map_err(AtError::from)?;
    // The same range as the API's (1 s to 3 min: AT+COPS=? needs up to 180 s), so a typo
    // cannot hold the port for hours.
    let cmd = match timeout {
        Some(t) => crate::agent::ops::check_at(line, Some(Duration::from_secs(t)))
            .map_err(|e| AppError::new(ExitKind::Config, format!("--timeout: {}", e.message)))?,
        None => cmd,
    };
    let print = |lines: &[String]| {
        if json {
            println!("{}", serde_json::json!({ "command": line, "lines": lines }));
            return;
        }
        for l in lines {
            println!("{l}");
        }
        println!("OK");
    };
    if let Some(cfg) = agent_config(cli)? {
        let body = serde_json::json!({ "command": line, "timeout": timeout });
        if let Some(r) =
            crate::api::client::daemon_op(&cfg, "POST", "/api/v1/at", Some(&body)).await
        {
            let v = r?;
            let lines: Vec<String> = v["lines"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            print(&lines);
            return Ok(());
        }
    }
    // Only the user's line goes out: a one-shot command is as quick as a tool that sends one.
    let at = connect_with(cli, false).await?;
    let resp = at.send(cmd).await?;
    print(&resp.lines);
    Ok(())
}
