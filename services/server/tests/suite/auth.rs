//! Authentication on a real `vigild`: every method of every service, read
//! from the descriptor set, called without a credential, with each role and
//! with a revoked token; the bootstrap files and their modes; the audit
//! trail of refused and accepted calls.

use crate::support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use prost::Message as _;
use support::{command, grpc, start, vigild};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use vigil_auth::{Access, AuthChannel, ClientCredentials, Role, Token};
use vigil_proto::catalog::v1 as pb;
use vigil_proto::catalog::v1::access_service_client::AccessServiceClient;

fn start_vigild(scratch: &Path, data_dir: &Path) -> support::Server {
    let mut cmd = command(vigild(), scratch);
    cmd.args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir);
    start(cmd, scratch).unwrap_or_else(|e| panic!("vigild: {e:?}"))
}

/// Every `/package.Service/Method` of the Vigil services, with whether the
/// client streams (such calls get one empty message).
fn every_method() -> Vec<(String, bool, bool)> {
    let set = prost_types::FileDescriptorSet::decode(vigil_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut methods = Vec::new();
    for file in set.file {
        let package = file.package().to_owned();
        for service in &file.service {
            for method in &service.method {
                methods.push((
                    format!("/{package}.{}/{}", service.name(), method.name()),
                    method.client_streaming(),
                    method.server_streaming(),
                ));
            }
        }
    }
    assert!(
        methods.len() > 50,
        "the descriptor set lists {} methods",
        methods.len()
    );
    methods
}

/// Calls `path` with an empty request; the status code it ends with (OK
/// when a stream starts).
async fn call(channel: &AuthChannel, path: &str, client_stream: bool, server_stream: bool) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = PathAndQuery::from_str(path).unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let request = || {
        let mut r = tonic::Request::new(());
        r.set_timeout(Duration::from_secs(10));
        r
    };
    let result = match (client_stream, server_stream) {
        (false, false) => grpc.unary(request(), path, codec).await.map(|_| ()),
        (false, true) => grpc
            .server_streaming(request(), path, codec)
            .await
            .map(|_| ()),
        (true, false) => {
            let stream = tonic::Request::new(tokio_stream::iter([()]));
            grpc.client_streaming(stream, path, codec).await.map(|_| ())
        }
        (true, true) => {
            let stream = tonic::Request::new(tokio_stream::iter([()]));
            grpc.streaming(stream, path, codec).await.map(|_| ())
        }
    };
    match result {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

fn with_token(channel: &tonic::transport::Channel, token: &str) -> AuthChannel {
    ClientCredentials {
        token: Some(Token::new(token)),
        ..Default::default()
    }
    .wrap(channel.clone())
}

async fn create_token(admin: &AuthChannel, name: &str, role: pb::Role) -> String {
    AccessServiceClient::new(admin.clone())
        .create_token(pb::CreateTokenRequest {
            name: name.to_owned(),
            role: role as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

#[tokio::test(flavor = "multi_thread")]
async fn every_method_checks_the_credential_and_the_role() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let server = start_vigild(scratch.path(), &data_dir);
    let raw = server.channel().await;
    let admin = server.admin_channel(&data_dir).await;
    let mut callers: Vec<(Role, AuthChannel)> = vec![
        (Role::Admin, admin.clone()),
        (
            Role::Component,
            server.channel_as(&data_dir, "component.token").await,
        ),
    ];
    for (name, role, proto) in [
        ("matrix-viewer", Role::Viewer, pb::Role::Viewer),
        ("matrix-operator", Role::Operator, pb::Role::Operator),
    ] {
        callers.push((
            role,
            with_token(&raw, &create_token(&admin, name, proto).await),
        ));
    }
    let revoked = create_token(&admin, "matrix-revoked", pb::Role::Admin).await;
    AccessServiceClient::new(admin.clone())
        .revoke_token(pb::RevokeTokenRequest {
            name: "matrix-revoked".into(),
        })
        .await
        .unwrap();
    let anonymous = ClientCredentials::default().wrap(raw.clone());
    let revoked = with_token(&raw, &revoked);
    let garbage = with_token(&raw, "vigil_not-a-real-token");

    for (path, client_stream, server_stream) in every_method() {
        let method = path.trim_start_matches('/');
        assert!(
            vigil_auth::methods::METHODS
                .iter()
                .any(|(m, _)| *m == method),
            "{method} is missing from the method table"
        );
        let access = vigil_auth::access_for(&path);
        assert_ne!(access, Access::Public, "{method} must not be public");
        for (who, channel) in [
            ("nobody", &anonymous),
            ("revoked", &revoked),
            ("garbage", &garbage),
        ] {
            let code = call(channel, &path, client_stream, server_stream).await;
            assert_eq!(code, Code::Unauthenticated, "{method} called by {who}");
        }
        for (role, channel) in &callers {
            let code = call(channel, &path, client_stream, server_stream).await;
            if role.allows(access) {
                assert!(
                    !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
                    "{method} refused {role} with {code:?}"
                );
            } else {
                assert_eq!(code, Code::PermissionDenied, "{method} called by {role}");
            }
        }
    }
    // Health and reflection stay open.
    assert_eq!(grpc::health(&raw, "").await.unwrap(), 1);
    assert!(!grpc::list_v1(&raw).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_writes_owner_only_token_files_once() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let first = {
        let server = start_vigild(scratch.path(), &data_dir);
        for file in ["admin.token", "component.token", "catalog.db"] {
            let mode = std::fs::metadata(data_dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file} has mode {mode:o}");
        }
        let admin = std::fs::read_to_string(data_dir.join("admin.token")).unwrap();
        assert!(vigil_auth::token::well_formed(admin.trim()), "{admin:?}");
        assert!(
            !server.stderr().contains(admin.trim()),
            "the token must never be logged"
        );
        let me = AccessServiceClient::new(server.admin_channel(&data_dir).await)
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (me.name.as_str(), me.role),
            ("admin", pb::Role::Admin as i32)
        );
        admin
    };
    // A restart finds tokens in the catalog and leaves the files alone.
    let server = start_vigild(scratch.path(), &data_dir);
    assert_eq!(
        std::fs::read_to_string(data_dir.join("admin.token")).unwrap(),
        first
    );
    let tokens = AccessServiceClient::new(server.admin_channel(&data_dir).await)
        .list_tokens(pb::ListTokensRequest {})
        .await
        .unwrap()
        .into_inner()
        .tokens;
    let names: Vec<&str> = tokens.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["admin", "component"]);
    assert!(tokens[0].last_use_time.is_some(), "last use is recorded");
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_and_refusals_are_audited_without_secrets() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let server = start_vigild(scratch.path(), &data_dir);
    let admin = server.admin_channel(&data_dir).await;
    let viewer_token = create_token(&admin, "auditee", pb::Role::Viewer).await;
    let viewer = with_token(&server.channel().await, &viewer_token);
    let mut as_viewer = pb::catalog_service_client::CatalogServiceClient::new(viewer.clone());
    as_viewer
        .list_configurations(pb::ListConfigurationsRequest::default())
        .await
        .unwrap();
    let denied = as_viewer
        .delete_configuration(pb::DeleteConfigurationRequest {
            name: "anything".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    AccessServiceClient::new(admin.clone())
        .revoke_token(pb::RevokeTokenRequest {
            name: "auditee".into(),
        })
        .await
        .unwrap();
    let after = as_viewer
        .list_configurations(pb::ListConfigurationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        after.code(),
        Code::Unauthenticated,
        "revocation is immediate"
    );

    let mut access = AccessServiceClient::new(admin);
    let events = loop {
        let events = access
            .list_audit_events(pb::ListAuditEventsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .events;
        if events.iter().any(|e| e.method.ends_with("RevokeToken")) {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let denied = events
        .iter()
        .find(|e| e.method.ends_with("DeleteConfiguration"))
        .expect("the refused delete is audited");
    assert_eq!(
        (denied.caller.as_str(), denied.outcome.as_str()),
        ("auditee", "PERMISSION_DENIED")
    );
    let created = events
        .iter()
        .find(|e| e.method.ends_with("CreateToken"))
        .expect("the token creation is audited");
    assert_eq!(created.target, "token auditee");
    assert_eq!(created.role, pb::Role::Admin as i32);
    assert!(
        !events
            .iter()
            .any(|e| e.method.ends_with("ListConfigurations")),
        "reads are not audited"
    );
    let text = format!("{events:?}");
    assert!(!text.contains(&viewer_token), "no token in the audit trail");
}
