use super::*;
use clap::Parser;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    flags: ConfigFlags,
}

fn flags(args: &[&str]) -> ConfigFlags {
    Wrap::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
        .unwrap()
        .flags
}

#[test]
fn each_flag_is_one_mask_path() {
    let (c, mask) = flags(&[
        "--cron",
        "0 3 * * *",
        "--keep-daily",
        "-1",
        "--path",
        "/srv/a",
        "--disabled",
    ])
    .to_update()
    .unwrap();
    assert_eq!(
        mask,
        [
            "enabled",
            "schedule.cron",
            "source.paths",
            "retention.keep_daily"
        ]
    );
    assert!(!c.enabled());
    assert_eq!(
        c.retention.unwrap().keep_daily,
        -1,
        "negative numbers reach the server, which names the field"
    );
}

#[test]
fn create_applies_defaults_and_drops_untouched_parts() {
    let c = flags(&[
        "--kind",
        "FULL",
        "--cron",
        "0 2 * * *",
        "--timezone",
        "Europe/Berlin",
    ])
    .to_create("nightly")
    .unwrap();
    assert_eq!(c.name, "nightly");
    assert_eq!(c.purpose(), Purpose::Production);
    assert!(c.enabled());
    let s = c.schedule.unwrap();
    assert_eq!(s.catch_up(), CatchUpPolicy::Once);
    assert_eq!(s.overlap(), OverlapPolicy::Skip);
    assert!(c.source.is_none() && c.retention.is_none());

    let on_demand = flags(&["--kind", "export"]).to_create("adhoc").unwrap();
    assert!(on_demand.schedule.is_none());
}

#[test]
fn schedule_flags_without_a_recurrence_are_refused() {
    let err = flags(&["--kind", "full", "--timezone", "UTC"])
        .to_create("x")
        .unwrap_err();
    assert!(err.to_string().starts_with("--cron: "));
}

#[test]
fn passwords_in_urls_are_refused() {
    let err = flags(&["--db-url", "postgres://u:secret@h/db"])
        .to_update()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("--db-url: must not contain a password")
    );
    assert!(!err.to_string().contains("secret@"));
}
