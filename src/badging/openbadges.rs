//! Open Badges 2.0 documents for hosted verification, recipient hashing, and PNG baking.

use serde_json::{Value, json};

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

pub fn issuer_document(urls: &Urls, profile: &IssuerProfile) -> Value {
    json!({
        "@context": CONTEXT,
        "type": "Issuer",
        "id": urls.issuer(),
        "name": profile.name,
        "url": profile.url,
        "email": profile.email,
    })
}

/// A BadgeClass; criteria is `{id}` when it is a URL, else `{narrative}`.
pub fn badge_class_document(urls: &Urls, class: &crate::badges::classes::BadgeClass) -> Value {
    let criteria = if crate::validation::is_web_url(&class.criteria) {
        json!({ "id": class.criteria })
    } else {
        json!({ "narrative": class.criteria })
    };
    json!({
        "@context": CONTEXT,
        "type": "BadgeClass",
        "id": urls.badge_class(class.id),
        "name": class.display_name,
        "description": class.description,
        "image": urls.badge_class_image(class.id),
        "criteria": criteria,
        "issuer": urls.issuer(),
    })
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

pub fn assertion_document(urls: &Urls, facts: &AssertionFacts) -> Value {
    let mut document = json!({
        "@context": CONTEXT,
        "type": "Assertion",
        "id": urls.assertion(facts.public_id),
        "recipient": {
            "type": "email",
            "hashed": true,
            "salt": facts.salt,
            "identity": facts.identity,
        },
        "badge": urls.badge_class(facts.class_id),
        "verification": { "type": "HostedBadge" },
        "issuedOn": timestamp(facts.issued_on),
        "image": urls.assertion_image(facts.public_id),
    });
    // Without a URL there is no evidence item (an empty one is invalid, upstream defect D21).
    if let Some(url) = facts.evidence_url.filter(|u| !u.is_empty()) {
        document["evidence"] = json!([{ "id": url }]);
    }
    document
}

/// The body a revoked assertion answers with (status 410).
pub fn revoked_document(urls: &Urls, public_id: &str, reason: &str) -> Value {
    json!({
        "@context": CONTEXT,
        "type": "Assertion",
        "id": urls.assertion(public_id),
        "revoked": true,
        "revocationReason": reason,
    })
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

    #[test]
    fn evidence_is_omitted_without_a_url() {
        let urls = Urls {
            site: "http://127.0.0.1:8000".into(),
        };
        let time = chrono::NaiveDate::from_ymd_opt(2025, 4, 2)
            .unwrap()
            .and_hms_opt(10, 15, 0)
            .unwrap();
        let mut facts = AssertionFacts {
            public_id: "a1",
            class_id: 7,
            salt: "s",
            identity: "sha256$x",
            issued_on: &time,
            evidence_url: None,
        };
        let doc = assertion_document(&urls, &facts);
        assert!(doc.get("evidence").is_none());
        assert_eq!(doc["issuedOn"], "2025-04-02T10:15:00Z");
        assert_eq!(doc["id"], "http://127.0.0.1:8000/public/assertions/a1");
        facts.evidence_url = Some("https://lms/certificates/u?evidence_visit=1");
        assert_eq!(
            assertion_document(&urls, &facts)["evidence"][0]["id"],
            "https://lms/certificates/u?evidence_visit=1"
        );
    }
}
