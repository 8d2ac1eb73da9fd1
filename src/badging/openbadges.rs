//! Open Badges 2.0 documents for hosted verification, recipient hashing, and PNG baking.

use serde::{Serialize, Serializer};

pub const CONTEXT: &str = "https://w3id.org/openbadges/v2";
pub const JSON_LD: &str = "application/ld+json";

/// The issuer's public profile (settings `ACCOLADE_ISSUER_*`).
#[derive(Clone, Debug)]
pub struct IssuerProfile {
    pub name: String,
    pub url: String,
    pub email: String,
}

/// Where the hosted documents live: every `id` is built from one public origin, so that
/// assertions are in the issuer's verification scope.
pub use crate::urls::PublicUrls as Urls;

/// A fresh per-assertion salt: 32 lowercase hex characters, as Badgr makes them.
pub fn new_salt() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `sha256$` + hex SHA-256 of the lower-cased e-mail followed by the salt.
pub fn hash_recipient(email: &str, salt: &str) -> String {
    let hex = crate::digest::sha256_hex(format!("{}{salt}", email.to_lowercase()).as_bytes());
    format!("sha256${hex}")
}

pub fn timestamp(time: &chrono::NaiveDateTime) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The `@context` of every document: always [`CONTEXT`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context;

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(CONTEXT)
    }
}

/// The `type` of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DocumentType {
    Issuer,
    BadgeClass,
    Assertion,
}

// The fields of each document are declared in the order of their keys (byte order, as a
// `serde_json::Value` map writes them), so that the JSON is the same, byte for byte, as
// the documents already hosted and baked.

/// The issuer's profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuerDocument<'a> {
    #[serde(rename = "@context")]
    pub context: Context,
    pub email: &'a str,
    pub id: String,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: DocumentType,
    pub url: &'a str,
}

pub fn issuer_document<'a>(urls: &Urls, profile: &'a IssuerProfile) -> IssuerDocument<'a> {
    IssuerDocument {
        context: Context,
        email: &profile.email,
        id: urls.issuer(),
        name: &profile.name,
        kind: DocumentType::Issuer,
        url: &profile.url,
    }
}

/// A BadgeClass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadgeClassDocument<'a> {
    #[serde(rename = "@context")]
    pub context: Context,
    pub criteria: Criteria<'a>,
    pub description: &'a str,
    pub id: String,
    pub image: String,
    pub issuer: String,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: DocumentType,
}

/// A class's criteria: a page (`{"id": url}`) or the text itself (`{"narrative": text}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Criteria<'a> {
    Page { id: &'a str },
    Narrative { narrative: &'a str },
}

/// A BadgeClass; criteria is `{id}` when it is a URL, else `{narrative}`.
pub fn badge_class_document<'a>(
    urls: &Urls,
    class: &'a crate::badges::classes::BadgeClass,
) -> BadgeClassDocument<'a> {
    let criteria = if crate::validation::is_web_url(&class.criteria) {
        Criteria::Page {
            id: &class.criteria,
        }
    } else {
        Criteria::Narrative {
            narrative: &class.criteria,
        }
    };
    BadgeClassDocument {
        context: Context,
        criteria,
        description: &class.description,
        id: urls.badge_class(class.id),
        image: urls.badge_class_image(class.id),
        issuer: urls.issuer(),
        name: &class.display_name,
        kind: DocumentType::BadgeClass,
    }
}

/// What an assertion document is made of.
pub struct AssertionFacts<'a> {
    pub public_id: &'a str,
    pub class_id: i64,
    pub salt: &'a str,
    pub identity: &'a str,
    pub issued_on: &'a chrono::NaiveDateTime,
    pub evidence_url: Option<&'a str>,
}

/// An Assertion, verified by the issuer hosting it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AssertionDocument<'a> {
    #[serde(rename = "@context")]
    pub context: Context,
    pub badge: String,
    /// Absent when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence<'a>>,
    pub id: String,
    pub image: String,
    #[serde(rename = "issuedOn")]
    pub issued_on: String,
    pub recipient: Recipient<'a>,
    #[serde(rename = "type")]
    pub kind: DocumentType,
    pub verification: Verification,
}

/// One evidence item: the page that shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence<'a> {
    pub id: &'a str,
}

/// The recipient: an e-mail address, hashed with a salt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recipient<'a> {
    pub hashed: bool,
    pub identity: &'a str,
    pub salt: &'a str,
    #[serde(rename = "type")]
    pub kind: RecipientType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RecipientType {
    #[serde(rename = "email")]
    Email,
}

/// How an assertion is verified: `{"type": "HostedBadge"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    #[serde(rename = "type")]
    pub kind: VerificationType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum VerificationType {
    HostedBadge,
}

pub fn assertion_document<'a>(urls: &Urls, facts: &AssertionFacts<'a>) -> AssertionDocument<'a> {
    AssertionDocument {
        context: Context,
        badge: urls.badge_class(facts.class_id),
        // Without a URL there is no evidence item (an empty one is invalid, upstream defect D21).
        evidence: facts
            .evidence_url
            .filter(|u| !u.is_empty())
            .map(|id| Evidence { id })
            .into_iter()
            .collect(),
        id: urls.assertion(facts.public_id),
        image: urls.assertion_image(facts.public_id),
        issued_on: timestamp(facts.issued_on),
        recipient: Recipient {
            hashed: true,
            identity: facts.identity,
            salt: facts.salt,
            kind: RecipientType::Email,
        },
        kind: DocumentType::Assertion,
        verification: Verification {
            kind: VerificationType::HostedBadge,
        },
    }
}

/// The body a revoked assertion answers with (status 410).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevokedDocument<'a> {
    #[serde(rename = "@context")]
    pub context: Context,
    pub id: String,
    #[serde(rename = "revocationReason")]
    pub revocation_reason: &'a str,
    /// Always `true`.
    pub revoked: bool,
    #[serde(rename = "type")]
    pub kind: DocumentType,
}

pub fn revoked_document<'a>(urls: &Urls, public_id: &str, reason: &'a str) -> RevokedDocument<'a> {
    RevokedDocument {
        context: Context,
        id: urls.assertion(public_id),
        revocation_reason: reason,
        revoked: true,
        kind: DocumentType::Assertion,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BakeError {
    #[error("not a PNG")]
    NotPng,
    #[error("truncated PNG")]
    Truncated,
}

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const KEYWORD: &[u8] = b"openbadges";

/// A PNG chunk: its type and its data.
type Chunk<'a> = (&'a [u8], &'a [u8]);

/// The chunks of a PNG, in order.
fn chunks(png: &[u8]) -> Result<Vec<Chunk<'_>>, BakeError> {
    if !png.starts_with(SIGNATURE) {
        return Err(BakeError::NotPng);
    }
    let mut at = SIGNATURE.len();
    let mut found = Vec::new();
    while at < png.len() {
        let header = png.get(at..at + 8).ok_or(BakeError::Truncated)?;
        let length = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let data = png
            .get(at + 8..at + 8 + length)
            .ok_or(BakeError::Truncated)?;
        png.get(at + 8 + length..at + 12 + length)
            .ok_or(BakeError::Truncated)?;
        found.push((&header[4..8], data));
        at += 12 + length;
    }
    Ok(found)
}

fn is_openbadges_text(kind: &[u8], data: &[u8]) -> bool {
    matches!(kind, b"iTXt" | b"tEXt" | b"zTXt")
        && data.starts_with(KEYWORD)
        && data.get(KEYWORD.len()) == Some(&0)
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&hasher.finalize().to_be_bytes());
}

/// Bakes an assertion into a PNG: one uncompressed `iTXt` chunk keyed `openbadges`, with
/// empty language tag and translated keyword, right after `IHDR`; any earlier `openbadges`
/// text chunk is dropped. Pixels are untouched (the chunks are spliced, not re-encoded).
pub fn bake_png(png: &[u8], assertion_json: &str) -> Result<Vec<u8>, BakeError> {
    let mut out = SIGNATURE.to_vec();
    let mut text = KEYWORD.to_vec();
    text.extend_from_slice(&[0, 0, 0, 0, 0]);
    text.extend_from_slice(assertion_json.as_bytes());
    for (kind, data) in chunks(png)? {
        if is_openbadges_text(kind, data) {
            continue;
        }
        write_chunk(&mut out, kind, data);
        if kind == b"IHDR" {
            write_chunk(&mut out, b"iTXt", &text);
        }
    }
    Ok(out)
}

/// The assertion baked into a PNG, if any (the first `openbadges` `iTXt`).
pub fn unbake_png(png: &[u8]) -> Option<String> {
    chunks(png).ok()?.into_iter().find_map(|(kind, data)| {
        (kind == b"iTXt" && is_openbadges_text(kind, data)).then(|| {
            let text = &data[KEYWORD.len()..];
            let start = text.iter().position(|&b| b != 0).unwrap_or(text.len());
            String::from_utf8_lossy(&text[start..]).into_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_hashes_match_the_reference_vectors() {
        let salted = "sha256$2ebb5fb2ba361fc8566c2052e7f162f3ec5d4d3f6486dae485034699ec88b453";
        assert_eq!(
            hash_recipient("learner@example.com", "d30d52858fe0435ebb42f5cce0036a51"),
            salted
        );
        assert_eq!(
            hash_recipient("Learner@Example.com", "d30d52858fe0435ebb42f5cce0036a51"),
            salted
        );
        assert_eq!(
            hash_recipient("learner@example.com", "15bd77da45a648d1a07bd5dc75dc746c"),
            "sha256$e495d5f7298f874f53313ab3fe44269df16bcfad5163e1a086e14939d3fbd419"
        );
        assert_eq!(
            hash_recipient("learner@example.com", ""),
            "sha256$2d985f691975ed96ce710fc7f6272a38c0c6ae910798dfd12c24365ed185bfd4"
        );
        let salt = new_salt();
        assert_eq!(salt.len(), 32);
        assert!(
            salt.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    fn tiny_png() -> Vec<u8> {
        let mut out = Vec::new();
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&[255, 0, 0, 255], 1, 1, image::ExtendedColorType::Rgba8)
            .unwrap();
        out
    }

    #[test]
    fn baking_puts_one_itxt_after_ihdr_and_rebaking_replaces_it() {
        let png = tiny_png();
        let baked = bake_png(&png, r#"{"id":"https://x/1"}"#).unwrap();
        let kinds: Vec<Vec<u8>> = chunks(&baked)
            .unwrap()
            .iter()
            .map(|(k, _)| k.to_vec())
            .collect();
        assert_eq!(kinds[0], b"IHDR");
        assert_eq!(kinds[1], b"iTXt");
        let (_, data) = chunks(&baked).unwrap()[1];
        assert!(data.starts_with(b"openbadges\0\0\0\0\0{"));
        assert_eq!(
            unbake_png(&baked).as_deref(),
            Some(r#"{"id":"https://x/1"}"#)
        );

        let rebaked = bake_png(&baked, r#"{"id":"https://x/2"}"#).unwrap();
        let texts = chunks(&rebaked)
            .unwrap()
            .iter()
            .filter(|(k, _)| *k == b"iTXt")
            .count();
        assert_eq!(texts, 1);
        assert_eq!(
            unbake_png(&rebaked).as_deref(),
            Some(r#"{"id":"https://x/2"}"#)
        );
        // Still a PNG that decodes to the same pixel.
        let decoded = image::load_from_memory(&rebaked).unwrap().into_rgba8();
        assert_eq!(decoded.get_pixel(0, 0).0, [255, 0, 0, 255]);
        assert_eq!(bake_png(b"GIF89a", "{}"), Err(BakeError::NotPng));
        assert_eq!(unbake_png(&png), None);
    }

    fn urls() -> Urls {
        Urls {
            site: "https://badges.example".into(),
        }
    }

    fn issued_on() -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2025, 4, 2)
            .unwrap()
            .and_hms_opt(10, 15, 0)
            .unwrap()
    }

    /// `document` as JSON is `expected`, and its text is `text`: what the documents built
    /// with `json!` (a `Value` map, keys in byte order) were for the same input.
    fn same_as_before(document: &impl Serialize, expected: serde_json::Value, text: &str) {
        assert_eq!(expected.to_string(), text, "the expectation itself");
        assert_eq!(serde_json::to_value(document).unwrap(), expected);
        assert_eq!(serde_json::to_string(document).unwrap(), text);
    }

    #[test]
    fn the_issuer_profile_is_what_it_was() {
        let profile = IssuerProfile {
            name: "Accolade \"Test\" Issuer".into(),
            url: "https://example.org/".into(),
            email: "badges@example.org".into(),
        };
        same_as_before(
            &issuer_document(&urls(), &profile),
            serde_json::json!({
                "@context": "https://w3id.org/openbadges/v2",
                "type": "Issuer",
                "id": "https://badges.example/public/issuers/accolade",
                "name": "Accolade \"Test\" Issuer",
                "url": "https://example.org/",
                "email": "badges@example.org",
            }),
            r#"{"@context":"https://w3id.org/openbadges/v2","email":"badges@example.org","id":"https://badges.example/public/issuers/accolade","name":"Accolade \"Test\" Issuer","type":"Issuer","url":"https://example.org/"}"#,
        );
    }

    #[test]
    fn badge_classes_are_what_they_were_with_either_criteria() {
        let mut class = crate::badges::classes::BadgeClass {
            id: 7,
            slug: "demo_verified".into(),
            issuing_component: String::new(),
            display_name: "Demo Course – verified".into(),
            course_id: "course-v1:edX+DemoX+Demo_Course".into(),
            description: "Line one\nline <two> & \"three\"".into(),
            criteria: "https://lms.example/courses/demo/about".into(),
            mode: "verified".into(),
            image_hash: "cafe".into(),
            backend_id: String::new(),
            frozen_at: Some(issued_on()),
            created_at: issued_on(),
        };
        let mut expected = serde_json::json!({
            "@context": "https://w3id.org/openbadges/v2",
            "type": "BadgeClass",
            "id": "https://badges.example/public/badges/7",
            "name": "Demo Course – verified",
            "description": "Line one\nline <two> & \"three\"",
            "image": "https://badges.example/public/badges/7/image",
            "criteria": { "id": "https://lms.example/courses/demo/about" },
            "issuer": "https://badges.example/public/issuers/accolade",
        });
        same_as_before(
            &badge_class_document(&urls(), &class),
            expected.clone(),
            r#"{"@context":"https://w3id.org/openbadges/v2","criteria":{"id":"https://lms.example/courses/demo/about"},"description":"Line one\nline <two> & \"three\"","id":"https://badges.example/public/badges/7","image":"https://badges.example/public/badges/7/image","issuer":"https://badges.example/public/issuers/accolade","name":"Demo Course – verified","type":"BadgeClass"}"#,
        );
        // Text, not a URL: a narrative.
        class.criteria = "Pass the course with a certificate.".into();
        expected["criteria"] =
            serde_json::json!({ "narrative": "Pass the course with a certificate." });
        same_as_before(
            &badge_class_document(&urls(), &class),
            expected,
            r#"{"@context":"https://w3id.org/openbadges/v2","criteria":{"narrative":"Pass the course with a certificate."},"description":"Line one\nline <two> & \"three\"","id":"https://badges.example/public/badges/7","image":"https://badges.example/public/badges/7/image","issuer":"https://badges.example/public/issuers/accolade","name":"Demo Course – verified","type":"BadgeClass"}"#,
        );
    }

    #[test]
    fn assertions_are_what_they_were_and_have_evidence_only_with_a_url() {
        let time = issued_on();
        let mut facts = AssertionFacts {
            public_id: "a1b2",
            class_id: 7,
            salt: "d30d52858fe0435ebb42f5cce0036a51",
            identity: "sha256$2ebb",
            issued_on: &time,
            evidence_url: None,
        };
        let without = serde_json::json!({
            "@context": "https://w3id.org/openbadges/v2",
            "type": "Assertion",
            "id": "https://badges.example/public/assertions/a1b2",
            "recipient": {
                "type": "email",
                "hashed": true,
                "salt": "d30d52858fe0435ebb42f5cce0036a51",
                "identity": "sha256$2ebb",
            },
            "badge": "https://badges.example/public/badges/7",
            "verification": { "type": "HostedBadge" },
            "issuedOn": "2025-04-02T10:15:00Z",
            "image": "https://badges.example/public/assertions/a1b2/image",
        });
        let without_text = r#"{"@context":"https://w3id.org/openbadges/v2","badge":"https://badges.example/public/badges/7","id":"https://badges.example/public/assertions/a1b2","image":"https://badges.example/public/assertions/a1b2/image","issuedOn":"2025-04-02T10:15:00Z","recipient":{"hashed":true,"identity":"sha256$2ebb","salt":"d30d52858fe0435ebb42f5cce0036a51","type":"email"},"type":"Assertion","verification":{"type":"HostedBadge"}}"#;
        same_as_before(
            &assertion_document(&urls(), &facts),
            without.clone(),
            without_text,
        );
        // An empty URL is no evidence either (an empty item is invalid, upstream defect D21).
        facts.evidence_url = Some("");
        same_as_before(
            &assertion_document(&urls(), &facts),
            without.clone(),
            without_text,
        );
        facts.evidence_url = Some("https://lms.example/certificates/cafe?evidence_visit=1");
        let mut with = without;
        with["evidence"] =
            serde_json::json!([{ "id": "https://lms.example/certificates/cafe?evidence_visit=1" }]);
        same_as_before(
            &assertion_document(&urls(), &facts),
            with,
            r#"{"@context":"https://w3id.org/openbadges/v2","badge":"https://badges.example/public/badges/7","evidence":[{"id":"https://lms.example/certificates/cafe?evidence_visit=1"}],"id":"https://badges.example/public/assertions/a1b2","image":"https://badges.example/public/assertions/a1b2/image","issuedOn":"2025-04-02T10:15:00Z","recipient":{"hashed":true,"identity":"sha256$2ebb","salt":"d30d52858fe0435ebb42f5cce0036a51","type":"email"},"type":"Assertion","verification":{"type":"HostedBadge"}}"#,
        );
    }

    #[test]
    fn a_revoked_assertion_is_what_it_was() {
        same_as_before(
            &revoked_document(&urls(), "a1b2", "Issued in error"),
            serde_json::json!({
                "@context": "https://w3id.org/openbadges/v2",
                "type": "Assertion",
                "id": "https://badges.example/public/assertions/a1b2",
                "revoked": true,
                "revocationReason": "Issued in error",
            }),
            r#"{"@context":"https://w3id.org/openbadges/v2","id":"https://badges.example/public/assertions/a1b2","revocationReason":"Issued in error","revoked":true,"type":"Assertion"}"#,
        );
    }
}
