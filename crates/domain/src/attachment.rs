//! Files a bot uploads to a conversation (the Connector API's UploadAttachment): the bytes of the
//! original and of an optional thumbnail, with a declared content type and file name.
//!
//! An attachment is read back by id alone (`/v3/attachments/{id}/views/{view}`), because the URL
//! a bot puts in its activity is fetched by the customer's browser, which carries no credentials.
//! The id is therefore the capability: random (a v4 UUID, 122 random bits), never derived from
//! anything guessable.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::conversation::ConversationId;
use crate::time::Timestamp;

/// An attachment's id: a random UUID, written as 32 hex digits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttachmentId(pub uuid::Uuid);

impl AttachmentId {
    /// Parses an id in any of the UUID forms (simple, hyphenated, …).
    pub fn parse(s: &str) -> Result<Self, uuid::Error> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

impl fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.simple().fmt(f)
    }
}

string_enum! {
    /// The views an attachment can be fetched in (the Connector's `viewId`).
    View {
        /// The bytes as uploaded.
        Original => "original",
        /// The thumbnail uploaded with them, if any.
        Thumbnail => "thumbnail",
    }
}

/// A MIME type such as `image/png`: `type/subtype` with optional parameters, printable ASCII
/// only, so that it can always be sent back as a `Content-Type` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentType(String);

/// Why a text is not a [`ContentType`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{got}` is not a content type ({reason}); expected e.g. `image/png`")]
pub struct InvalidContentType {
    /// The text, cut to 100 characters.
    pub got: String,
    /// Which rule it broke.
    pub reason: &'static str,
}

impl ContentType {
    /// The longest content type accepted.
    pub const MAX_LEN: usize = 255;

    /// The type of bytes nothing more is known about.
    pub fn octet_stream() -> Self {
        Self("application/octet-stream".to_owned())
    }

    /// Checks `text`: 1 to 255 printable ASCII characters, a `/` between a non-empty type and
    /// subtype.
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidContentType> {
        let text = text.into();
        let invalid = |reason| InvalidContentType {
            got: text.chars().take(100).collect(),
            reason,
        };
        if text.is_empty() || text.len() > Self::MAX_LEN {
            return Err(invalid("it must be 1 to 255 characters"));
        }
        if !text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err(invalid("only printable ASCII is allowed"));
        }
        let essence = text.split(';').next().unwrap_or_default().trim();
        match essence.split_once('/') {
            Some((kind, subtype)) if !kind.is_empty() && !subtype.is_empty() && !essence.contains(' ') => {
                Ok(Self(text))
            }
            _ => Err(invalid("it must be `type/subtype`")),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ContentType {
    type Error = InvalidContentType;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(text)
    }
}

impl From<ContentType> for String {
    fn from(c: ContentType) -> Self {
        c.0
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An uploaded attachment, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    /// The conversation it was uploaded to.
    pub conversation: ConversationId,
    /// The file name the bot gave, if any.
    pub name: Option<String>,
    /// The declared type of the original.
    pub content_type: ContentType,
    pub original: Vec<u8>,
    pub thumbnail: Option<Vec<u8>>,
    pub created_at: Timestamp,
}

/// What is known about an attachment without reading its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentSummary {
    pub id: AttachmentId,
    pub conversation: ConversationId,
    pub name: Option<String>,
    pub content_type: ContentType,
    /// Bytes in the original.
    pub original_size: u64,
    /// Bytes in the thumbnail, when there is one.
    pub thumbnail_size: Option<u64>,
    pub created_at: Timestamp,
}

impl AttachmentSummary {
    /// The views that can be fetched, with their sizes: the original, then the thumbnail if any.
    pub fn views(&self) -> Vec<(View, u64)> {
        let mut views = vec![(View::Original, self.original_size)];
        views.extend(self.thumbnail_size.map(|size| (View::Thumbnail, size)));
        views
    }
}

/// The bytes of one view of an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewContent {
    /// The attachment's declared type (the type of the original; a thumbnail's own type is not
    /// declared by the protocol).
    pub content_type: ContentType,
    pub bytes: Vec<u8>,
}

/// The image type a thumbnail's first bytes announce (PNG, JPEG, GIF, WebP), if any: the
/// protocol declares a type for the original only.
pub fn sniff_image_type(bytes: &[u8]) -> Option<ContentType> {
    let kind = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "image/gif"
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        return None;
    };
    Some(ContentType(kind.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_type_slash_subtype_in_printable_ascii() {
        for ok in ["image/png", "application/vnd.ms-excel", "text/plain; charset=utf-8"] {
            assert_eq!(ContentType::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "png",
            "/png",
            "image/",
            "image/png\r\nX-Evil: 1",
            "imäge/png",
            "a b/c",
        ] {
            assert!(ContentType::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ContentType::parse(format!("a/{}", "b".repeat(300))).is_err());
    }

    #[test]
    fn attachment_ids_print_as_32_hex_digits_and_parse_back() {
        let id = AttachmentId(uuid::Uuid::from_u128(0xabc));
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(AttachmentId::parse(&text).unwrap(), id);
        assert!(AttachmentId::parse("not-an-id").is_err());
    }

    #[test]
    fn the_views_of_an_attachment_are_the_original_then_the_thumbnail_if_any() {
        let mut summary = AttachmentSummary {
            id: AttachmentId(uuid::Uuid::from_u128(1)),
            conversation: ConversationId(uuid::Uuid::from_u128(2)),
            name: None,
            content_type: ContentType::octet_stream(),
            original_size: 10,
            thumbnail_size: None,
            created_at: Timestamp(0),
        };
        assert_eq!(summary.views(), vec![(View::Original, 10)]);
        summary.thumbnail_size = Some(3);
        assert_eq!(summary.views(), vec![(View::Original, 10), (View::Thumbnail, 3)]);
    }

    #[test]
    fn thumbnails_announce_common_image_types_by_their_first_bytes() {
        assert_eq!(sniff_image_type(b"\x89PNG\r\n\x1a\n...").unwrap().as_str(), "image/png");
        assert_eq!(
            sniff_image_type(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap().as_str(),
            "image/jpeg"
        );
        assert_eq!(
            sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 ").unwrap().as_str(),
            "image/webp"
        );
        assert_eq!(sniff_image_type(b"%PDF-1.7"), None);
    }
}
