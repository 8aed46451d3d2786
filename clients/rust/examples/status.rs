//! Prints the overall verdict, the risk and the recommendations of the status report.
//!
//! ```text
//! VIGIL_TOKEN_FILE=vigil-data/admin.token \
//!   cargo run -p vigil-client --example status -- http://127.0.0.1:50051
//! ```

use vigil_client::VigilClient;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| vigil_client::DEFAULT_ENDPOINT.to_owned());
    let client = VigilClient::builder()
        .endpoint(endpoint)
        .credentials_from_env()?
        .connect()
        .await?;
    let report = match client.status_report(None).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("status: {e} ({})", vigil_client::code_name(e.code()));
            std::process::exit(1);
        }
    };
    println!("verdict: {:?} - {}", report.verdict(), report.headline);
    println!("risk: {:?}", report.risk());
    for reason in &report.risk_reasons {
        println!("  - {reason}");
    }
    for rec in &report.recommendations {
        println!("[{}] {}: {}", rec.priority, rec.title, rec.detail);
    }
    Ok(())
}
