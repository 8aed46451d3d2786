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
            delivery: "delivered".into(),
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
    assert_eq!(resolved.delivery, "delivered");
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
            delivery: "x".into(),
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
