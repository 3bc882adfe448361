//! `switchboard export`: the stored conversations a search selects, written as JSON or CSV
//! straight from the database (the hub need not run), a page at a time, with a progress bar.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use http::transcripts::{self, Format, Search};
use indicatif::{ProgressBar, ProgressStyle};

use crate::server::DEFAULT_DATABASE_URL;

/// Without a terminal, a progress line every this many conversations.
const LINE_EVERY: u64 = 10_000;

/// Runs the export; progress and the summary go to stderr.
pub fn run(database_url: Option<String>, format: &str, output: Option<&Path>, search: Search) -> Result<(), String> {
    let format: Format = format.parse()?;
    let filter = search.filter().map_err(|e| format!("--{}: {}", e.field, e.message))?;
    let database_url = database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::with_capacity(
            256 * 1024,
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let store = store::open(&database_url).await.map_err(|e| e.to_string())?;
        let total = store.count_conversations(&filter).await.map_err(|e| e.to_string())?;
        let terminal = std::io::stderr().is_terminal();
        let bar = if terminal {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} conversations ({per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let started = Instant::now();
        let mut failed: Option<std::io::Error> = None;
        let written = {
            let out = &mut out;
            let failed = &mut failed;
            let bar = &bar;
            let reported = &mut 0u64;
            transcripts::export(
                &store,
                filter,
                format,
                |_| true,
                move |bytes: Vec<u8>, done: u64| {
                    let ok = match out.write_all(&bytes) {
                        Ok(()) => true,
                        Err(e) => {
                            *failed = Some(e);
                            false
                        }
                    };
                    bar.set_position(done);
                    if !terminal && done > *reported && done.is_multiple_of(LINE_EVERY) {
                        *reported = done;
                        eprintln!(
                            "exported {done}/{total} conversations ({:.0} %)",
                            done as f64 * 100.0 / total.max(1) as f64
                        );
                    }
                    std::future::ready(ok)
                },
            )
            .await
        };
        store.close().await;
        let written = written.map_err(|e| e.to_string())?;
        if let Some(e) = failed {
            return Err(format!("cannot write the export: {e}"));
        }
        out.flush().map_err(|e| format!("cannot write the export: {e}"))?;
        bar.finish_and_clear();
        let elapsed = started.elapsed().as_secs_f64();
        eprintln!(
            "exported {written} conversations in {elapsed:.1} s ({:.0}/s)",
            written as f64 / elapsed.max(1e-9)
        );
        Ok(())
    })
}
