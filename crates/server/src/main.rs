//! `symbiont`: serve the API, migrate the store, import and export data.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

// The opt-in allocator (`--features mimalloc`); the system allocator otherwise.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use symbiont_server::config::{Config, Overrides};
use symbiont_server::dataset::{export, generate, import};
use symbiont_server::{serve, telemetry};

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
    /// Write a generated region (the same for the same seed) as NDJSON rows for `import`.
    Generate {
        /// How many businesses (about five flows each).
        #[arg(long, default_value_t = 10_000)]
        businesses: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output file (NDJSON). Default: stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The matcher benchmark on real exchanges: loads each park file (with the demo region moved
    /// to it as distractors) into a fresh instance and ranks every documented exchange's supplier
    /// among its receiving need's proposals; prints recall@1/@5 and MRR as Markdown.
    Eval {
        /// Park files, or a directory of them.
        #[arg(default_value = "benchmarks/parks")]
        parks: Vec<PathBuf>,
        /// Fail (exit 1) when recall@5 over all encoded exchanges is below this.
        #[arg(long)]
        min_recall_at_5: Option<f64>,
    },
    /// Check the configuration against the store: the event bus the reference architecture
    /// recommends for the number of businesses (under 100 Redis Streams, 100 to 1,000 NATS
    /// JetStream, over 1,000 Kafka), the configured bus and graph.
    Doctor,
    /// Manage accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
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

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user, e.g. the first platform admin: `symbiont admin create-user --email a@b.example --admin`.
    CreateUser {
        #[arg(long)]
        email: String,
        /// The password (at least 10 characters); read from the first line of stdin when omitted.
        #[arg(long, env = "SYMBIONT_NEW_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make the user a platform administrator.
        #[arg(long)]
        admin: bool,
    },
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let bind = match &cli.command {
        Command::Serve { bind, .. } => *bind,
        _ => None,
    };
    Config::load(
        cli.config.as_deref(),
        &Overrides {
            bind,
            data_dir: cli.data_dir.clone(),
        },
    )
}

async fn run(cli: Cli, config: Config, workers: (usize, &'static str)) -> anyhow::Result<()> {
    // Logs, the flight recorder and (when OTEL_* asks for them) exported traces.
    let telemetry = telemetry::init(&config)?;
    if matches!(cli.command, Command::Serve { .. }) {
        tracing::info!(
            workers = workers.0,
            from = workers.1,
            "async worker threads"
        );
    }
    let result = match cli.command {
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
        Command::Generate {
            businesses,
            seed,
            output,
        } => {
            let taxonomy = serve::load_taxonomy(&config)?;
            let mut sink: Box<dyn std::io::Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let report = generate::write_region(sink.as_mut(), &taxonomy, seed, businesses)?;
            eprintln!(
                "generated {} businesses, {} sites, {} flows (seed {seed})",
                report.businesses, report.sites, report.flows
            );
            Ok(())
        }
        Command::Eval {
            parks,
            min_recall_at_5,
        } => {
            let taxonomy = std::sync::Arc::new(serve::load_taxonomy(&config)?);
            evaluate_parks(&parks, taxonomy, min_recall_at_5).await
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    email,
                    password,
                    admin,
                },
        } => {
            let password = match password {
                Some(password) => password,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let store = serve::open_store(&config).await?;
            let created =
                symbiont_server::user_admin::create_user(store.as_ref(), &email, &password, admin)
                    .await;
            store.close().await;
            let user = created?;
            eprintln!(
                "created {} {} ({})",
                if user.is_admin { "admin" } else { "user" },
                user.email,
                user.id
            );
            Ok(())
        }
        Command::Doctor => {
            let store = serve::open_store(&config).await?;
            let counts = store.counts().await;
            store.close().await;
            let counts = counts?;
            print!(
                "{}",
                symbiont_server::doctor::report(
                    counts.businesses,
                    &config.bus.url,
                    &config.graph.url
                )
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
    };
    // Spans still queued are exported before the process ends.
    telemetry.shutdown().await;
    result
}

async fn evaluate_parks(
    paths: &[PathBuf],
    taxonomy: std::sync::Arc<symbiont_core::Taxonomy>,
    min_recall_at_5: Option<f64>,
) -> anyhow::Result<()> {
    use symbiont_server::dataset::exchange_benchmark::{self as bench, Park, Scores};
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(bench::park_files(path)?);
        } else {
            files.push(path.clone());
        }
    }
    let mut results = Vec::new();
    for file in &files {
        let park = Park::read(file)?;
        results.push(bench::evaluate(&park, taxonomy.clone()).await?);
    }
    println!("{}", bench::report(&results));
    let all = Scores::of(results.iter().flat_map(|r| &r.exchanges));
    if let Some(floor) = min_recall_at_5 {
        if all.recall_at_5 < floor {
            anyhow::bail!(
                "recall@5 {:.3} is below the committed floor {floor:.3}",
                all.recall_at_5
            );
        }
        eprintln!("recall@5 {:.3} meets the floor {floor:.3}", all.recall_at_5);
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    // Before any thread exists (ADR 0029).
    symbiont_server::memory_release::configure_allocator();
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let workers = symbiont_server::workers::worker_threads(config.server.worker_threads);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.0)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, config, workers)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One clear line: the error with its causes.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
