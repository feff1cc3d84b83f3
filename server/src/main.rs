use clap::Parser;
use lectern_core::config::LogFormat;
use server::cli::{self, Cli, Command};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The PDF renderer child: no config, no logging set-up, no async runtime (its memory limit
    // is its own, and threads it does not need would only use it up).
    if let Some(Command::RenderSlides(args)) = &cli.command {
        return server::slides::render_child(args);
    }
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(err) => {
            eprintln!("lectern: cannot start: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    let config = match cli.load_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("lectern: {err}");
            return ExitCode::FAILURE;
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.filter));
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => subscriber.json().init(),
        LogFormat::Text => subscriber.init(),
    }
    match cli::run(cli, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lectern: {err}");
            ExitCode::FAILURE
        }
    }
}
