//! Errors that are not the server's validation: missing services, no server,
//! bad global flags.

use crate::support;

use support::{Env, vigil_at};

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_is_not_served_is_named() {
    // The test catalog serves only the catalog and coordination services.
    let env = Env::start().await;
    let run = env.vigil(&["schedules", "list"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("the scheduler service is not available at"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("UNIMPLEMENTED"), "{}", run.stderr);

    let status = env.vigil(&["status"]).await;
    assert_eq!(status.code, 1);
    assert!(
        status
            .stderr
            .contains("the status service is not available"),
        "{}",
        status.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_server_is_a_clear_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let run = vigil_at(&endpoint, &["config", "list"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("cannot connect to {endpoint}")),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_global_flags_are_bad_input() {
    let run = vigil_at("not-a-url", &["config", "list"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("error: endpoint: "), "{}", run.stderr);

    let run = vigil_at(
        "http://127.0.0.1:1",
        &["--timeout", "soon", "config", "list"],
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");

    let run = vigil_at("http://127.0.0.1:1", &["config", "frobnicate"]).await;
    assert_eq!(run.code, 2, "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn local_input_errors_come_before_any_connection() {
    // Nothing listens here; the file error must still be reported as bad input.
    let run = vigil_at(
        "http://127.0.0.1:1",
        &["config", "apply", "-f", "/nonexistent/seed.yaml"],
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .starts_with("error: file: cannot read /nonexistent/seed.yaml"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn help_documents_exit_codes_and_json() {
    let run = vigil_at("http://127.0.0.1:1", &["--help"]).await;
    let help = run.ok();
    assert!(
        help.contains("Exit codes:") && help.contains("PARTIALLY_WORKING"),
        "{help}"
    );
}
