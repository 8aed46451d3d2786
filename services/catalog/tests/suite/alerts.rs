//! Alerts and component heartbeats.

use tonic::Code;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

fn alert(key: &str, message: &str) -> Alert {
    Alert {
        kind: AlertKind::ScheduleDown as i32,
        severity: AlertSeverity::Critical as i32,
        configuration: "daily".into(),
        message: message.into(),
        dedup_key: key.into(),
        ..Default::default()
    }
}

both_backends!(alerts_dedup_while_open);
async fn alerts_dedup_while_open(options: CatalogOptions) {
    let mut h = start(options).await;
    let first = h
        .coord
        .raise_alert(RaiseAlertRequest {
            alert: Some(alert("down:daily", "never fired")),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(first.opened);
    let again = h
        .coord
        .raise_alert(RaiseAlertRequest {
            alert: Some(alert("down:daily", "still never fired")),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.opened);
    let a = again.alert.unwrap();
    assert_eq!(a.id, first.alert.unwrap().id);
    assert_eq!(a.occurrences, 2);
    assert_eq!(a.message, "still never fired");
    h.coord
        .set_alert_delivery(SetAlertDeliveryRequest {
            id: a.id.clone(),
            state: AlertDelivery::Delivered as i32,
            ..Default::default()
        })
        .await
        .unwrap();

    let resolved = h
        .coord
        .resolve_alert(ResolveAlertRequest {
            dedup_key: "down:daily".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let resolved = resolved.alert.unwrap();
    assert_eq!(resolved.state, AlertState::Resolved as i32);
    assert_eq!(resolved.delivery_state(), AlertDelivery::Delivered);
    assert!(
        h.coord
            .resolve_alert(ResolveAlertRequest {
                dedup_key: "down:daily".into()
            })
            .await
            .unwrap()
            .into_inner()
            .alert
            .is_none()
    );

    // After resolution the same key opens a new alert.
    let reopened = h
        .coord
        .raise_alert(RaiseAlertRequest {
            alert: Some(alert("down:daily", "down again")),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reopened.opened);
    assert_ne!(reopened.alert.unwrap().id, a.id);

    let open = h
        .catalog
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(open.len(), 1);
    let all = h
        .catalog
        .list_alerts(ListAlertsRequest {
            include_resolved: true,
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.alerts.len(), 1);
    assert!(!all.next_page_token.is_empty());

    let err = h
        .coord
        .raise_alert(RaiseAlertRequest {
            alert: Some(alert("", "x")),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "alert.dedup_key");
    let err = h
        .coord
        .set_alert_delivery(SetAlertDeliveryRequest {
            id: "nope".into(),
            state: AlertDelivery::Failed as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = h
        .catalog
        .list_alerts(ListAlertsRequest {
            page_token: "zz".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "page_token");
}

both_backends!(the_delivery_state_is_an_enum_with_a_redacted_detail);
#[allow(deprecated)] // checks the v1 text fields as well
async fn the_delivery_state_is_an_enum_with_a_redacted_detail(options: CatalogOptions) {
    let mut h = start(options).await;
    let a = h
        .coord
        .raise_alert(RaiseAlertRequest {
            alert: Some(alert("down:weekly", "never fired")),
        })
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    assert_eq!(a.delivery_state(), AlertDelivery::Unspecified);
    assert_eq!(a.delivery, "");
    let stored = |h: &mut Harness| {
        let mut catalog = h.catalog.clone();
        async move {
            catalog
                .list_alerts(ListAlertsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .alerts
                .into_iter()
                .find(|x| x.dedup_key == "down:weekly")
                .unwrap()
        }
    };

    h.coord
        .set_alert_delivery(SetAlertDeliveryRequest {
            id: a.id.clone(),
            state: AlertDelivery::Retrying as i32,
            detail:
                "webhook 1: error sending request for url (https://hooks.example/x?token=s3cret)"
                    .into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let got = stored(&mut h).await;
    assert_eq!(got.delivery_state(), AlertDelivery::Retrying);
    assert!(got.delivery_detail.starts_with("webhook 1: "), "{got:?}");
    assert!(!got.delivery_detail.contains("s3cret"), "{got:?}");
    assert_eq!(got.delivery, format!("retrying: {}", got.delivery_detail));

    // A scheduler older than the enum sends the v1 text.
    h.coord
        .set_alert_delivery(SetAlertDeliveryRequest {
            id: a.id.clone(),
            delivery: "failed: webhook 1: HTTP 500 after 5 attempts".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let got = stored(&mut h).await;
    assert_eq!(got.delivery_state(), AlertDelivery::Failed);
    assert_eq!(got.delivery_detail, "webhook 1: HTTP 500 after 5 attempts");

    let err = h
        .coord
        .set_alert_delivery(SetAlertDeliveryRequest {
            id: a.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "state");
    let err = h
        .coord
        .set_alert_delivery(SetAlertDeliveryRequest {
            id: a.id.clone(),
            state: AlertDelivery::Failed as i32,
            detail: "x".repeat(1025),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "detail");
}

both_backends!(migration_0011_converts_the_delivery_text);
/// Alerts stored before migration 0011 keep their delivery state: the text
/// becomes the enum and the detail.
async fn migration_0011_converts_the_delivery_text(options: CatalogOptions) {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let (url, migrator) = match &options.database_url {
        Some(url) => (url.clone(), sqlx::migrate!("migrations/postgres")),
        None => {
            std::fs::create_dir_all(&options.data_dir).unwrap();
            (
                format!(
                    "sqlite://{}?mode=rwc",
                    options.data_dir.join("catalog.db").display()
                ),
                sqlx::migrate!("migrations/sqlite"),
            )
        }
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    migrator.run_to(10, &mut conn).await.unwrap();
    let old = [
        ("a1", "delivered"),
        ("a2", "retrying: webhook 1: HTTP 503 (attempt 1 of 5)"),
        (
            "a3",
            "partly delivered: webhook 2: timed out after 5 attempts",
        ),
        ("a4", "failed: webhook 1: HTTP 404 (not retried)"),
        ("a5", ""),
    ];
    for (i, (id, delivery)) in old.iter().enumerate() {
        let sql = format!(
            "INSERT INTO alerts (id, kind, severity, configuration, message, state, dedup_key, \
             open_time, last_seen_time, resolve_time, occurrences, delivery) \
             VALUES ('{id}', 2, 2, 'daily', 'm', 2, 'k{i}', {i}, {i}, {i}, 1, '{delivery}')"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();

    let mut h = start(options).await;
    let alerts = h
        .catalog
        .list_alerts(ListAlertsRequest {
            include_resolved: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let got = |id: &str| {
        let a = alerts.iter().find(|a| a.id == id).unwrap();
        (a.delivery_state(), a.delivery_detail.as_str())
    };
    assert_eq!(got("a1"), (AlertDelivery::Delivered, ""));
    assert_eq!(
        got("a2"),
        (
            AlertDelivery::Retrying,
            "webhook 1: HTTP 503 (attempt 1 of 5)"
        )
    );
    assert_eq!(
        got("a3"),
        (
            AlertDelivery::PartlyDelivered,
            "webhook 2: timed out after 5 attempts"
        )
    );
    assert_eq!(
        got("a4"),
        (AlertDelivery::Failed, "webhook 1: HTTP 404 (not retried)")
    );
    assert_eq!(got("a5"), (AlertDelivery::Unspecified, ""));
}

both_backends!(components_are_alive_while_they_beat);
async fn components_are_alive_while_they_beat(options: CatalogOptions) {
    let (options, clock) = manual(options);
    let mut h = start(options).await;
    let me = Component {
        id: "executor-1".into(),
        kind: ComponentKind::Executor as i32,
        capabilities: vec!["backup:full".into()],
        version: "0.1.0".into(),
        ..Default::default()
    };
    let stored = h
        .coord
        .report_heartbeat(ReportHeartbeatRequest {
            component: Some(me.clone()),
        })
        .await
        .unwrap()
        .into_inner()
        .component
        .unwrap();
    assert!(stored.alive);
    assert_eq!(
        stored.heartbeat_time,
        Some(ts(t0())),
        "stamped with the catalog's clock"
    );
    clock.advance(chrono::Duration::seconds(31));
    let listed = h
        .coord
        .list_components(ListComponentsRequest {
            kind: ComponentKind::Executor as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .components;
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].alive, "31 s without a heartbeat is dead");
    h.coord
        .report_heartbeat(ReportHeartbeatRequest {
            component: Some(me),
        })
        .await
        .unwrap();
    let listed = h
        .coord
        .list_components(ListComponentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .components;
    assert!(listed.iter().any(|c| c.id == "executor-1" && c.alive));
    let err = h
        .coord
        .report_heartbeat(ReportHeartbeatRequest {
            component: Some(Component {
                id: "x".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "component.kind");
}
