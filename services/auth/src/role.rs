//! Roles and the access a method asks for.

use std::fmt;
use std::str::FromStr;

/// What a caller may do.
///
/// `Viewer < Operator < Admin` each include the one before. `Component`
/// stands apart: only a component may call `CoordinationService`, and a
/// component may read what a viewer reads (schedulers and executors page
/// through configurations and jobs) but never changes anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Reads: lists, gets, status, alerts, previews.
    Viewer,
    /// Also runs backups, verifies, prunes, triggers, pauses and cancels.
    Operator,
    /// Also changes configurations, restores, uploads, downloads and manages tokens.
    Admin,
    /// A scheduler or an executor.
    Component,
}

impl Role {
    /// Every role, for listings and tests.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Admin, Role::Component];

    /// The lowercase name used in flags, files and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Component => "component",
        }
    }

    /// Whether a caller with this role may call a method that needs `access`.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Public | Access::Authenticated => true,
            Access::Viewer => true,
            Access::Operator => matches!(self, Role::Operator | Role::Admin),
            Access::Admin => self == Role::Admin,
            Access::Component => self == Role::Component,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}, expected viewer, operator, admin or component")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            "component" => Ok(Role::Component),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// What a method asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// No credential: health and reflection only.
    Public,
    /// Any valid credential, whatever its role.
    Authenticated,
    /// Viewer, operator, admin or component.
    Viewer,
    /// Operator or admin.
    Operator,
    /// Admin only.
    Admin,
    /// Component only.
    Component,
}

impl Access {
    /// The name used in the docs table.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Authenticated => "any",
            Access::Viewer => "viewer",
            Access::Operator => "operator",
            Access::Admin => "admin",
            Access::Component => "component",
        }
    }
}

/// An authenticated caller: a token's name or a certificate's mapped name, and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Token name, or `cert:<subject>` for a mapped client certificate.
    pub name: String,
    /// What the caller may do.
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn admin_is_not_a_component() {
        assert!(!Role::Admin.allows(Access::Component));
        assert!(Role::Component.allows(Access::Component));
        assert!(!Role::Component.allows(Access::Operator));
        assert!(Role::Component.allows(Access::Viewer));
        assert!(!Role::Viewer.allows(Access::Operator));
        assert!(Role::Admin.allows(Access::Operator));
        assert!(!Role::Operator.allows(Access::Admin));
    }
}
