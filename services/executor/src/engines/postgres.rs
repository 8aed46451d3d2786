//! PostgreSQL: `pg_dump` in plain format (uncompressed, so dumps deduplicate)
//! streamed from its stdout; restore through `psql` in one transaction into
//! a database that is created when missing and replaced only on `overwrite`.

use std::process::Command;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::EngineCtx;
use super::child::{DumpReader, RestoreWriter, Spawn, Tool, run_capture};
use super::probe::PgTools;
use super::tables::TableCounter;
use crate::dburl::PgUrl;
use crate::error::{Error, Result};

/// A dump in progress.
#[derive(Debug)]
pub struct Dump {
    /// The dump's bytes.
    pub reader: DumpReader,
    /// Tables seen so far in the dump.
    pub tables: Arc<AtomicU64>,
    /// The tool's error, if it failed.
    pub failure: Arc<Mutex<Option<Error>>>,
}

fn command(tool: &std::path::Path) -> Command {
    let mut c = Command::new(tool);
    c.env("PGAPPNAME", "vigil-executor")
        .env("PGCONNECT_TIMEOUT", "15")
        .env_remove("PGPASSWORD");
    c
}

/// Starts `pg_dump` of `url`.
pub fn dump(tools: &PgTools, url: &PgUrl, ctx: &EngineCtx) -> Result<Dump> {
    let mut c = command(&tools.pg_dump);
    c.args([
        "--format=plain",
        "--no-owner",
        "--no-privileges",
        "--no-password",
        "--encoding=UTF8",
    ])
    .arg(format!("--dbname={}", url.uri()));
    let (tool, _, out) = Tool::spawn(Spawn {
        name: "pg_dump",
        command: c,
        secret_env: ctx.password.as_ref().map(|p| ("PGPASSWORD", p)),
        hidden_env: &ctx.hidden_env,
        stdin: false,
        stdout: true,
        cancel: ctx.cancel.clone(),
        timeout: ctx.timeout,
    })?;
    let out = out.ok_or_else(|| Error::Internal("pg_dump without stdout".into()))?;
    let tables = Arc::new(AtomicU64::new(0));
    let failure = Arc::new(Mutex::new(None));
    let mut counter = TableCounter::new(tables.clone());
    let reader = DumpReader::new(tool, out, failure.clone()).inspect(move |b| counter.feed(b));
    Ok(Dump {
        reader,
        tables,
        failure,
    })
}

/// Runs a psql script against `uri` with `vars` set; returns the output.
fn psql(
    tools: &PgTools,
    uri: &str,
    vars: &[(&str, &str)],
    script: &str,
    ctx: &EngineCtx,
) -> Result<String> {
    let mut c = command(&tools.psql);
    c.args([
        "--no-psqlrc",
        "--no-password",
        "--quiet",
        "--tuples-only",
        "--no-align",
        "--set=ON_ERROR_STOP=1",
    ]);
    for (k, v) in vars {
        c.arg(format!("--set={k}={v}"));
    }
    c.arg(format!("--dbname={uri}")).arg("--file=-");
    run_capture(
        Spawn {
            name: "psql",
            command: c,
            secret_env: ctx.password.as_ref().map(|p| ("PGPASSWORD", p)),
            hidden_env: &ctx.hidden_env,
            stdin: true,
            stdout: true,
            cancel: ctx.cancel.clone(),
            timeout: ctx.timeout,
        },
        script.as_bytes(),
    )
}

fn parse_count(tool: &str, out: &str) -> Result<u64> {
    out.trim()
        .parse()
        .map_err(|_| Error::engine(tool, format!("unexpected answer {:?}", out.trim())))
}

const COUNT_TABLES: &str = "SELECT count(*) FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%';\n";

const COUNT_RELATIONS: &str = "SELECT count(*) FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%';\n";

/// Tables (plain and partitioned) in user schemas of `url`.
pub fn count_tables(tools: &PgTools, url: &PgUrl, ctx: &EngineCtx) -> Result<u64> {
    parse_count("psql", &psql(tools, &url.uri(), &[], COUNT_TABLES, ctx)?)
}

/// Makes the target database ready: created when missing; when it holds
/// anything, refused without `overwrite` and dropped and created with it.
pub fn prepare_target(
    tools: &PgTools,
    url: &PgUrl,
    overwrite: bool,
    ctx: &EngineCtx,
) -> Result<()> {
    let admin = url.uri_for("postgres");
    let vars = [("db", url.database.as_str())];
    let exists = psql(
        tools,
        &admin,
        &vars,
        "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = :'db';\n",
        ctx,
    )?;
    if parse_count("psql", &exists)? > 0 {
        let relations = parse_count("psql", &psql(tools, &url.uri(), &[], COUNT_RELATIONS, ctx)?)?;
        if relations == 0 {
            return Ok(());
        }
        if !overwrite {
            return Err(Error::FailedPrecondition(format!(
                "database_url: database {:?} is not empty ({relations} relations); set overwrite to replace it",
                url.database
            )));
        }
        tracing::info!(database = %url.database, "dropping the restore target database (overwrite)");
        psql(
            tools,
            &admin,
            &vars,
            "DROP DATABASE :\"db\" WITH (FORCE);\n",
            ctx,
        )?;
    }
    psql(tools, &admin, &vars, "CREATE DATABASE :\"db\";\n", ctx)?;
    Ok(())
}

/// Starts `psql` reading a plain dump on stdin, in one transaction.
pub fn restore(tools: &PgTools, url: &PgUrl, ctx: &EngineCtx) -> Result<RestoreWriter> {
    let mut c = command(&tools.psql);
    c.args([
        "--no-psqlrc",
        "--no-password",
        "--quiet",
        "--single-transaction",
        "--set=ON_ERROR_STOP=1",
    ])
    .arg(format!("--dbname={}", url.uri()))
    .arg("--file=-");
    let (tool, input, _) = Tool::spawn(Spawn {
        name: "psql",
        command: c,
        secret_env: ctx.password.as_ref().map(|p| ("PGPASSWORD", p)),
        hidden_env: &ctx.hidden_env,
        stdin: true,
        stdout: false,
        cancel: ctx.cancel.clone(),
        timeout: ctx.timeout,
    })?;
    let input = input.ok_or_else(|| Error::Internal("psql without stdin".into()))?;
    Ok(RestoreWriter::new(tool, input, ctx.cancel.clone()))
}
