//! MariaDB/MySQL: `mariadb-dump --single-transaction` (a consistent,
//! uncompressed SQL dump) streamed from its stdout; restore through the
//! `mariadb` client into a schema created when missing and replaced only
//! on `overwrite`.

use std::process::Command;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::EngineCtx;
use super::child::{DumpReader, RestoreWriter, Spawn, Tool, run_capture};
use super::definer::DefinerFilter;
use super::postgres::Dump;
use super::probe::MyTools;
use super::tables::TableCounter;
use crate::dburl::MyUrl;
use crate::error::{Error, Result};

fn command(tool: &std::path::Path, url: &MyUrl) -> Command {
    let mut c = Command::new(tool);
    // No option file may slip another password or host in.
    c.arg("--no-defaults")
        .args(url.args())
        .env_remove("MYSQL_PWD");
    c
}

fn spawn<'a>(
    name: &'a str,
    c: Command,
    ctx: &'a EngineCtx,
    stdin: bool,
    stdout: bool,
) -> Spawn<'a> {
    Spawn {
        name,
        command: c,
        secret_env: ctx.password.as_ref().map(|p| ("MYSQL_PWD", p)),
        hidden_env: &ctx.hidden_env,
        stdin,
        stdout,
        cancel: ctx.cancel.clone(),
        timeout: ctx.timeout,
    }
}

/// Starts `mariadb-dump` of the schema of `url`.
pub fn dump(tools: &MyTools, url: &MyUrl, ctx: &EngineCtx) -> Result<Dump> {
    let mut c = command(&tools.dump, url);
    c.args([
        "--single-transaction",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--skip-dump-date",
        "--default-character-set=utf8mb4",
    ])
    .arg("--")
    .arg(&url.database);
    let (tool, _, out) = Tool::spawn(spawn("mariadb-dump", c, ctx, false, true))?;
    let out = out.ok_or_else(|| Error::Internal("mariadb-dump without stdout".into()))?;
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

/// A string literal that no schema name can break out of.
fn literal(s: &str) -> String {
    format!("CONVERT(X'{}' USING utf8mb4)", hex::encode(s.as_bytes()))
}

/// An identifier, backquoted.
fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

fn query(tools: &MyTools, url: &MyUrl, sql: &str, ctx: &EngineCtx) -> Result<String> {
    let mut c = command(&tools.client, url);
    c.args(["--batch", "--skip-column-names"]);
    run_capture(spawn("mariadb", c, ctx, true, true), sql.as_bytes())
}

fn parse_count(out: &str) -> Result<u64> {
    out.trim()
        .parse()
        .map_err(|_| Error::engine("mariadb", format!("unexpected answer {:?}", out.trim())))
}

/// Base tables in the schema of `url`.
pub fn count_tables(tools: &MyTools, url: &MyUrl, ctx: &EngineCtx) -> Result<u64> {
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {} AND table_type = 'BASE TABLE';\n",
        literal(&url.database)
    );
    parse_count(&query(tools, url, &sql, ctx)?)
}

/// Makes the target schema ready: created when missing; when it holds
/// tables or views, refused without `overwrite` and dropped and created with it.
pub fn prepare_target(
    tools: &MyTools,
    url: &MyUrl,
    overwrite: bool,
    ctx: &EngineCtx,
) -> Result<()> {
    let name = literal(&url.database);
    let exists = parse_count(&query(
        tools,
        url,
        &format!("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = {name};\n"),
        ctx,
    )?)?;
    if exists > 0 {
        let objects = parse_count(&query(
            tools,
            url,
            &format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {name};\n"
            ),
            ctx,
        )?)?;
        if objects == 0 {
            return Ok(());
        }
        if !overwrite {
            return Err(Error::FailedPrecondition(format!(
                "database_url: schema {:?} is not empty ({objects} tables and views); set overwrite to replace it",
                url.database
            )));
        }
        tracing::info!(schema = %url.database, "dropping the restore target schema (overwrite)");
        query(
            tools,
            url,
            &format!("DROP DATABASE {};\n", ident(&url.database)),
            ctx,
        )?;
    }
    query(
        tools,
        url,
        &format!(
            "CREATE DATABASE {} CHARACTER SET utf8mb4;\n",
            ident(&url.database)
        ),
        ctx,
    )?;
    Ok(())
}

/// Starts the client reading a dump on stdin into the schema of `url`;
/// `DEFINER` clauses are dropped on the way (see [`super::definer`]).
pub fn restore(
    tools: &MyTools,
    url: &MyUrl,
    ctx: &EngineCtx,
) -> Result<DefinerFilter<RestoreWriter>> {
    let mut c = command(&tools.client, url);
    c.args(["--batch", "--default-character-set=utf8mb4"])
        .arg(format!("--database={}", url.database));
    let (tool, input, _) = Tool::spawn(spawn("mariadb", c, ctx, true, false))?;
    let input = input.ok_or_else(|| Error::Internal("mariadb without stdin".into()))?;
    Ok(DefinerFilter::new(RestoreWriter::new(
        tool,
        input,
        ctx.cancel.clone(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_out_of_quotes() {
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(
            literal("x'; DROP"),
            format!("CONVERT(X'{}' USING utf8mb4)", hex::encode("x'; DROP"))
        );
    }
}
