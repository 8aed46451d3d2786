//! The Vigil v1 protobuf API: generated messages, tonic client and server
//! stubs (behind the `client` and `server` features), and the encoded file
//! descriptor set that servers register for reflection.
//!
//! Packages follow the proto layout: `vigil.catalog.v1`, `vigil.scheduler.v1`,
//! `vigil.executor.v1` and `vigil.status.v1`.
#![forbid(unsafe_code)]
#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// Generated code for `vigil.catalog.v1`.
pub mod catalog {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("vigil.catalog.v1");
    }
}

/// Generated code for `vigil.scheduler.v1`.
pub mod scheduler {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("vigil.scheduler.v1");
    }
}

/// Generated code for `vigil.executor.v1`.
pub mod executor {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("vigil.executor.v1");
    }
}

/// Generated code for `vigil.status.v1`.
pub mod status {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("vigil.status.v1");
    }
}

/// Encoded `FileDescriptorSet` of every Vigil proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/vigil_descriptor.bin"));

/// Encoded `FileDescriptorSet` of `google/rpc/error_details.proto`, for server
/// reflection, so that grpcurl decodes `google.rpc.BadRequest` details.
pub const ERROR_DETAILS_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/error_details_descriptor.bin"));

pub mod capabilities;
mod convert;
pub use convert::*;

/// Largest request message the services decode (16 MiB). Above tonic's 4 MiB
/// default so that an oversized field reaches validation and is refused with
/// INVALID_ARGUMENT naming it, rather than OUT_OF_RANGE from the transport.
pub const MAX_REQUEST_BYTES: usize = 16 << 20;
