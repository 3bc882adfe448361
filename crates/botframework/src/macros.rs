//! The `string_enum!` macro: a closed set of known wire strings plus an `Other` fallback.
//!
//! Bot Framework "enums" are free strings on the wire (the swagger types them as `string`), and
//! clients and bots do send values newer than the spec. Every such enum in this crate therefore keeps
//! unknown spellings verbatim in `Other(String)` instead of failing the whole activity, and
//! serializes as the plain string so a round trip is lossless.

/// Declares a string-valued wire enum with an `Other(String)` fallback.
///
/// Generates `as_str`, `From<&str>`, `From<String>`, `Display`, `Serialize` and `Deserialize`.
/// Matching is exact (ordinal), as the SDKs compare these values.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept verbatim so it survives a round trip.
            /// Build values with `From<&str>` so a known spelling never lands here.
            Other(String),
        }

        impl $name {
            /// The spelling on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $( $wire => Self::$variant, )+
                    _ => Self::Other(value),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::from)
            }
        }
    };
}
