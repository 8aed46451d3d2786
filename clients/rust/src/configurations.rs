//! Backup configurations: create, read, list, update, delete, enable,
//! disable and the declarative apply.

use futures::stream::BoxStream;
use vigil_proto::catalog::v1::{
    ApplyConfigurationsRequest, ApplyResult, BackupConfiguration, CreateConfigurationRequest,
    DeleteConfigurationRequest, DisableConfigurationRequest, EnableConfigurationRequest,
    GetConfigurationRequest, ListConfigurationsRequest, UpdateConfigurationRequest,
};

use crate::client::{Shape, VigilClient};
use crate::error::{Error, Result};
use crate::pagination::paginate;
use crate::retry::Idempotency::{Idempotent, NonIdempotent};

/// The update-mask path that replaces every mutable field (AIP-134 `*`).
pub const REPLACE_ALL: &str = "*";

fn required(c: Option<BackupConfiguration>) -> Result<BackupConfiguration> {
    c.ok_or_else(|| Error::Protocol("configuration missing from the response".to_owned()))
}

impl VigilClient {
    /// Registers a new configuration; ALREADY_EXISTS if the name is taken.
    pub async fn create_configuration(
        &self,
        configuration: BackupConfiguration,
    ) -> Result<BackupConfiguration> {
        let req = CreateConfigurationRequest {
            configuration: Some(configuration),
        };
        let resp = self
            .call(
                &self.catalog,
                "CreateConfiguration",
                NonIdempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.create_configuration(r).await },
            )
            .await?;
        required(resp.configuration)
    }

    /// Returns one configuration by name.
    pub async fn get_configuration(&self, name: &str) -> Result<BackupConfiguration> {
        let req = GetConfigurationRequest {
            name: name.to_owned(),
        };
        let resp = self
            .call(
                &self.catalog,
                "GetConfiguration",
                Idempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.get_configuration(r).await },
            )
            .await?;
        required(resp.configuration)
    }

    /// Streams every configuration matching `filter` (its page fields are
    /// managed here), fetching pages as they are consumed.
    pub fn list_configurations(
        &self,
        filter: ListConfigurationsRequest,
    ) -> BoxStream<'static, Result<BackupConfiguration>> {
        let client = self.clone();
        paginate(move |token| {
            let client = client.clone();
            let req = ListConfigurationsRequest {
                page_token: token,
                ..filter.clone()
            };
            async move {
                let resp = client
                    .call(
                        &client.catalog,
                        "ListConfigurations",
                        Idempotent,
                        Shape::Unary,
                        req,
                        |mut c, r| async move { c.list_configurations(r).await },
                    )
                    .await?;
                Ok((resp.configurations, resp.next_page_token))
            }
        })
    }

    /// Changes the fields named in `update_mask` (AIP-134). An empty mask
    /// means the fields set in `configuration` (present messages, non-default
    /// scalars, `enabled` when `Some`); `vec![REPLACE_ALL.into()]` replaces
    /// every mutable field. To clear a field, name it in the mask and leave it
    /// unset. A non-empty etag on `configuration` must match the stored one,
    /// or the call fails with ABORTED ([`Error::is_conflict`]): read again and
    /// retry.
    pub async fn update_configuration(
        &self,
        configuration: BackupConfiguration,
        update_mask: Vec<String>,
    ) -> Result<BackupConfiguration> {
        let req = UpdateConfigurationRequest {
            configuration: Some(configuration),
            update_mask: Some(prost_types::FieldMask { paths: update_mask }),
        };
        let resp = self
            .call(
                &self.catalog,
                "UpdateConfiguration",
                NonIdempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.update_configuration(r).await },
            )
            .await?;
        required(resp.configuration)
    }

    /// Removes a configuration; a non-empty `etag` must match the stored one.
    pub async fn delete_configuration(&self, name: &str, etag: &str) -> Result<()> {
        let req = DeleteConfigurationRequest {
            name: name.to_owned(),
            etag: etag.to_owned(),
        };
        self.call(
            &self.catalog,
            "DeleteConfiguration",
            NonIdempotent,
            Shape::Unary,
            req,
            |mut c, r| async move { c.delete_configuration(r).await },
        )
        .await?;
        Ok(())
    }

    /// Enables a configuration, arming its schedule.
    pub async fn enable_configuration(&self, name: &str) -> Result<BackupConfiguration> {
        let req = EnableConfigurationRequest {
            name: name.to_owned(),
        };
        let resp = self
            .call(
                &self.catalog,
                "EnableConfiguration",
                NonIdempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.enable_configuration(r).await },
            )
            .await?;
        required(resp.configuration)
    }

    /// Disables a configuration, disarming its schedule.
    pub async fn disable_configuration(&self, name: &str) -> Result<BackupConfiguration> {
        let req = DisableConfigurationRequest {
            name: name.to_owned(),
        };
        let resp = self
            .call(
                &self.catalog,
                "DisableConfiguration",
                NonIdempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.disable_configuration(r).await },
            )
            .await?;
        required(resp.configuration)
    }

    /// Creates or updates every configuration given, atomically, and returns
    /// one result per configuration in request order. Idempotent, so it is
    /// retried on transient failures.
    pub async fn apply_configurations(
        &self,
        configurations: Vec<BackupConfiguration>,
        dry_run: bool,
    ) -> Result<Vec<ApplyResult>> {
        let req = ApplyConfigurationsRequest {
            configurations,
            dry_run,
        };
        let resp = self
            .call(
                &self.catalog,
                "ApplyConfigurations",
                Idempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.apply_configurations(r).await },
            )
            .await?;
        Ok(resp.results)
    }
}
