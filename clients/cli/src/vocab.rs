//! The words users type for enum values, in YAML and in flags, and the
//! proto value each one means. Matching is case-insensitive, so `FULL` and
//! `full` are the same kind.

use serde::de::{Deserialize, Deserializer, Error as _};
use vigil_proto::catalog::v1::{
    BackupKind, CatchUpPolicy, DatabaseEngine, Frequency, JobState, OverlapPolicy, Purpose, Weekday,
};

macro_rules! words {
    (
        $(#[$doc:meta])*
        $name:ident => $proto:ident, $what:literal {
            $($variant:ident => [$($word:literal),+]),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum $name { $($variant),+ }

        impl $name {
            /// The canonical words, one per value, for "expected one of" messages.
            pub(crate) fn expected() -> String {
                [$([$($word),+][0]),+].join(", ")
            }

            /// Parses a word, ignoring case.
            pub(crate) fn parse(text: &str) -> Option<Self> {
                let lower = text.trim().to_ascii_lowercase();
                $(if [$($word),+].contains(&lower.as_str()) { return Some(Self::$variant); })+
                None
            }

            /// The proto value.
            pub(crate) fn proto(self) -> $proto {
                match self { $(Self::$variant => $proto::$variant),+ }
            }

            /// Parses a flag value, for clap.
            pub(crate) fn parse_flag(text: &str) -> Result<Self, String> {
                Self::parse(text).ok_or_else(|| format!("unknown {} {text:?}, expected one of: {}", $what, Self::expected()))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    D::Error::custom(format!("unknown {} {text:?}, expected one of: {}", $what, Self::expected()))
                })
            }
        }
    };
}

words! {
    /// Backup kinds: FULL, DATABASE, EXPORT.
    Kind => BackupKind, "kind" {
        Full => ["full"],
        Database => ["database", "db"],
        Export => ["export"],
    }
}

words! {
    /// Why a configuration exists.
    PurposeWord => Purpose, "purpose" {
        Production => ["production", "prod"],
        Test => ["test"],
        Temporary => ["temporary", "temp"],
    }
}

words! {
    /// Database engines.
    Engine => DatabaseEngine, "engine" {
        Postgres => ["postgres", "postgresql"],
        Mysql => ["mysql", "mariadb"],
        Sqlite => ["sqlite", "sqlite3"],
    }
}

words! {
    /// Catch-up policies.
    CatchUp => CatchUpPolicy, "catch_up policy" {
        Skip => ["skip"],
        Once => ["once"],
        All => ["all"],
    }
}

words! {
    /// Overlap policies.
    Overlap => OverlapPolicy, "overlap policy" {
        Skip => ["skip"],
        Queue => ["queue"],
        Allow => ["allow"],
    }
}

words! {
    /// Preset frequencies.
    FrequencyWord => Frequency, "frequency" {
        Hourly => ["hourly"],
        Daily => ["daily"],
        Weekly => ["weekly"],
        Monthly => ["monthly"],
    }
}

words! {
    /// Days of the week.
    Day => Weekday, "day of the week" {
        Monday => ["monday", "mon"],
        Tuesday => ["tuesday", "tue"],
        Wednesday => ["wednesday", "wed"],
        Thursday => ["thursday", "thu"],
        Friday => ["friday", "fri"],
        Saturday => ["saturday", "sat"],
        Sunday => ["sunday", "sun"],
    }
}

words! {
    /// Job states, for filters.
    StateWord => JobState, "job state" {
        Queued => ["queued"],
        Running => ["running"],
        Completed => ["completed"],
        Failed => ["failed"],
        Cancelled => ["cancelled", "canceled"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_map_to_proto_values_ignoring_case() {
        assert_eq!(Kind::parse("FULL").unwrap().proto(), BackupKind::Full);
        assert_eq!(
            Kind::parse("database").unwrap().proto(),
            BackupKind::Database
        );
        assert_eq!(Kind::parse("Export").unwrap().proto(), BackupKind::Export);
        assert_eq!(
            PurposeWord::parse("production").unwrap().proto(),
            Purpose::Production
        );
        assert_eq!(PurposeWord::parse("test").unwrap().proto(), Purpose::Test);
        assert_eq!(
            PurposeWord::parse("temporary").unwrap().proto(),
            Purpose::Temporary
        );
        assert_eq!(CatchUp::parse("skip").unwrap().proto(), CatchUpPolicy::Skip);
        assert_eq!(CatchUp::parse("once").unwrap().proto(), CatchUpPolicy::Once);
        assert_eq!(CatchUp::parse("all").unwrap().proto(), CatchUpPolicy::All);
        assert_eq!(Overlap::parse("skip").unwrap().proto(), OverlapPolicy::Skip);
        assert_eq!(
            Overlap::parse("queue").unwrap().proto(),
            OverlapPolicy::Queue
        );
        assert_eq!(
            Overlap::parse("allow").unwrap().proto(),
            OverlapPolicy::Allow
        );
        assert_eq!(
            Engine::parse("mariadb").unwrap().proto(),
            DatabaseEngine::Mysql
        );
        assert_eq!(Day::parse("sun").unwrap().proto(), Weekday::Sunday);
        assert_eq!(
            FrequencyWord::parse("WEEKLY").unwrap().proto(),
            Frequency::Weekly
        );
        assert_eq!(
            StateWord::parse("canceled").unwrap().proto(),
            JobState::Cancelled
        );
    }

    #[test]
    fn unknown_words_list_what_is_expected() {
        assert!(Kind::parse("incremental").is_none());
        let err = CatchUp::parse_flag("twice").unwrap_err();
        assert_eq!(
            err,
            "unknown catch_up policy \"twice\", expected one of: skip, once, all"
        );
    }
}
