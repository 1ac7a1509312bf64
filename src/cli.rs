//! The command-line interface (clap derive). `main.rs` parses it and dispatches.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Streaming news enrichment: topic tags and sentiment for articles on Kafka.
#[derive(Debug, Parser)]
#[command(name = "news-enricher", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML). Default: config/default.toml if it exists, else built-in
    /// defaults. NEWS_ENRICHER_<SECTION>__<KEY> environment variables override it.
    #[arg(long, short, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the worker: consume, enrich, produce, until SIGTERM/SIGINT.
    Run,
    /// Run the real pipeline on the embedded broker with bundled sample articles and print the
    /// enriched records, a line per dead letter (where its input was, and why) and a summary.
    Demo,
    /// Enrich JSON Lines raw articles from files (or stdin) to JSON Lines on stdout, no Kafka.
    /// Blank lines (only spaces, tabs, CRs) are skipped and not counted. Exit status 0 when every
    /// line was good, 2 when some were not (each reported on stderr as file:line: reason), 64
    /// when an input file cannot be opened or the configuration is invalid, 1 when stdout cannot
    /// be written (0 when its reader closed it, as in `... | head`).
    Enrich {
        /// Input files; stdin when none (or `-`).
        files: Vec<PathBuf>,
    },
    /// Explain the tagging of JSON Lines raw articles (files or stdin), for editing the
    /// taxonomy: for each article, every tag with evidence, its score against its threshold,
    /// whether it is assigned, the evidence, and the exclusions that vetoed some. Exit status as
    /// for `enrich`.
    Explain {
        /// Input files; stdin when none (or `-`).
        files: Vec<PathBuf>,
    },
    /// Validate the configuration and print the effective settings, secrets redacted.
    CheckConfig,
}
