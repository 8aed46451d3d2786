//! Token revocation across catalog replicas. Each replica trusts a checked
//! token for `TOKEN_TTL` (2 s) before reading the tokens table again, so a
//! token revoked through one replica is refused by every other one within
//! that time; the bound is 5 s.

use std::time::{Duration, Instant};

use tonic::Code;
use vigil_auth::{Role, token};
use vigil_catalog::{Catalog, CatalogOptions};
use vigil_server_common::auth::Authenticator as _;

/// The bound a revocation must meet on every replica.
const REVOCATION_BOUND: Duration = Duration::from_secs(5);

both_backends!(a_revoked_token_is_refused_by_every_replica_within_five_seconds);
async fn a_revoked_token_is_refused_by_every_replica_within_five_seconds(options: CatalogOptions) {
    // Two replicas over one database, as two catalog processes would be.
    let first = Catalog::open(options.clone()).await.unwrap();
    let second = Catalog::open(options).await.unwrap();
    let secret = token::generate();
    first
        .store()
        .insert_token("nightly-bot", Role::Operator, &token::hash(&secret))
        .await
        .unwrap();
    let on_second = second.authenticator();
    let caller = on_second
        .authenticate(&secret)
        .await
        .expect("the other replica accepts the new token");
    assert_eq!(
        (caller.name.as_str(), caller.role),
        ("nightly-bot", Role::Operator)
    );
    // The second replica now trusts the token from its cache.
    assert!(on_second.authenticate(&secret).await.is_ok());

    first.store().revoke_token("nightly-bot").await.unwrap();
    let revoked = Instant::now();
    let refusal = loop {
        match on_second.authenticate(&secret).await {
            Err(status) => break status,
            Ok(_) => {
                assert!(
                    revoked.elapsed() < REVOCATION_BOUND,
                    "the other replica still accepts a token revoked {:?} ago",
                    revoked.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(refusal.code(), Code::Unauthenticated, "{refusal:?}");
    assert!(
        !refusal.message().contains(&secret),
        "the refusal does not echo the token: {refusal:?}"
    );
    // The replica that revoked it refuses it too, and keeps refusing.
    let on_first = first.authenticator();
    assert_eq!(
        on_first.authenticate(&secret).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        on_second.authenticate(&secret).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}
