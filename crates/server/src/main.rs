//! `symbiont`: serve the API, migrate the store, import and export data.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use symbiont_server::config::{Config, LogFormat, Overrides};
use symbiont_server::{export, import, serve};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "symbiont",
    version,
    about = "Finds resource exchanges between businesses"
)]
struct Cli {
    /// TOML configuration file (also SYMBIONT_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory of the embedded database (also SYMBIONT_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on (also SYMBIONT_BIND), e.g. 127.0.0.1:8080.
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Load the demo region into an empty store first.
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Import businesses, sites and flows from a JSON, NDJSON, CSV or GeoJSON file.
    Import {
        file: PathBuf,
        /// Import the valid rows and report the invalid ones instead of importing nothing.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Export everything as rows (the import format) to a file or stdout.
    Export {
        /// Output file; its extension picks the format unless --format is given. Default: stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// json, csv or geojson (default json).
        #[arg(long)]
        format: Option<String>,
    },
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.log.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(true).init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let bind = match &cli.command {
        Command::Serve { bind, .. } => *bind,
        _ => None,
    };
    let config = Config::load(
        cli.config.as_deref(),
        &Overrides {
            bind,
            data_dir: cli.data_dir.clone(),
        },
    )?;
    init_logging(&config);
    match cli.command {
        Command::Serve { demo, .. } => serve::serve(config, demo).await,
        Command::Migrate => {
            let store = serve::open_store(&config).await?;
            store.close().await;
            eprintln!(
                "database in {} is up to date",
                config.store.data_dir.display()
            );
            Ok(())
        }
        Command::Import { file, skip_invalid } => {
            let taxonomy = serve::load_taxonomy(&config)?;
            let store = serve::open_store(&config).await?;
            let options = import::ImportOptions {
                skip_invalid,
                progress: std::io::stderr().is_terminal(),
            };
            let report = import::import_file(store.as_ref(), &taxonomy, &file, options).await;
            store.close().await;
            let report = report?;
            for skipped in &report.skipped {
                eprintln!("skipped {skipped}");
            }
            eprintln!(
                "imported {} businesses, {} sites, {} flows from {}",
                report.businesses,
                report.sites,
                report.flows,
                file.display()
            );
            Ok(())
        }
        Command::Export { output, format } => {
            let store = serve::open_store(&config).await?;
            let format = match (&format, &output) {
                (Some(f), _) => f.parse()?,
                (None, Some(path)) => export::ExportFormat::from_path(path)?,
                (None, None) => export::ExportFormat::Json,
            };
            let mut sink: Box<dyn std::io::Write + Send> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let report = export::export(store.as_ref(), sink.as_mut(), format).await;
            sink.flush()?;
            store.close().await;
            let report = report?;
            eprintln!("exported {report}");
            Ok(())
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One clear line: the error with its causes.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
