//! The command line: `lectern [--config FILE] [serve | migrate | create-admin ...]`.

use clap::{Parser, Subcommand};
use lectern_core::accounts::{self, AccountError, Registration};
use lectern_core::config::{Config, ConfigError};
use lectern_core::store::{Store, StoreError};
use lectern_core::{AppState, now_ms};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "lectern", version, about = "Lectern: live classes in the browser")]
pub struct Cli {
    /// Config file (TOML). Default: ./lectern.toml if it exists. See lectern.sample.toml.
    #[arg(long, short, env = "LECTERN_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Lectern (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an admin account. The password is read from standard input.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// The name others see; defaults to the username.
        #[arg(long)]
        display_name: Option<String>,
        /// IANA time zone, such as Europe/Berlin.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// Fill an empty install with demo people and a week of classes (one starting now), print
    /// their logins, then serve.
    Demo {
        /// Time zone of the demo people and classes.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// Only fill the database; do not serve.
        #[arg(long)]
        no_serve: bool,
    },
    /// Render a PDF's pages for the server (it runs this itself, in a child process).
    #[command(hide = true)]
    RenderSlides(crate::slides::RenderSlidesArgs),
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    #[error("{0}")]
    Account(String),
    #[error(transparent)]
    Demo(#[from] lectern_core::demo::DemoError),
    #[error("the PDF was not rendered (see above)")]
    RenderSlides,
    #[error("cannot read the password from standard input: {0}")]
    Stdin(std::io::Error),
}

impl From<AccountError> for CliError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(errors) => CliError::Account(
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("\n"),
            ),
            other => CliError::Account(other.to_string()),
        }
    }
}

impl Cli {
    /// The config file to read: the one named, else `./lectern.toml` when present.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let default = PathBuf::from("lectern.toml");
            default.exists().then_some(default)
        })
    }

    pub fn load_config(&self) -> Result<Config, ConfigError> {
        Config::load(self.config_file().as_deref())
    }
}

pub async fn run(cli: Cli, config: Config) -> Result<(), CliError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Ok(crate::serve::serve(config).await?),
        Command::Migrate => {
            let store = Store::open(&config.database).await?;
            store.close().await;
            println!("The database at {} is up to date.", lectern_core::store::redact_url(&config.database.url));
            Ok(())
        }
        Command::Demo { time_zone, no_serve } => {
            let state = AppState::open(config.clone()).await?;
            let logins = lectern_core::demo::fill(&state, &time_zone, now_ms()).await;
            state.store.close().await;
            let logins = logins?;
            let url = config.server.public_url.clone().unwrap_or_else(|| format!("http://{}", config.server.bind));
            println!("Demo ready at {url}. Every demo account's password is: {}", logins.password);
            println!("  admin:    {}", logins.admin);
            println!("  teacher:  {}", logins.teacher);
            println!("  students: {}", logins.students.join(", "));
            println!("Classes: {}", logins.classes.join("; "));
            if no_serve { Ok(()) } else { Ok(crate::serve::serve(config).await?) }
        }
        // Handled in main before any runtime starts; here for completeness.
        Command::RenderSlides(args) => {
            let status = crate::slides::render_child(&args);
            if status == std::process::ExitCode::SUCCESS { Ok(()) } else { Err(CliError::RenderSlides) }
        }
        Command::CreateAdmin { username, email, display_name, time_zone } => {
            let password = read_password().map_err(CliError::Stdin)?;
            let state = AppState::open(config).await?;
            let form = Registration {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                email,
                password,
                time_zone,
            };
            let user = accounts::create_admin(&state, &form, now_ms()).await;
            state.store.close().await;
            let user = user?;
            println!("Created admin {} <{}>.", user.username, user.email);
            Ok(())
        }
    }
}

/// One line from standard input, with a prompt when a person is typing.
fn read_password() -> std::io::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for the new admin: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
