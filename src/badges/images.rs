//! Badge image configurations: one image per course mode, at most one default.
//!
//! The rule "at most one default" is also a partial unique index, so concurrent saves can
//! never leave two defaults; the functions here turn the index's refusal into the form
//! error or retry the move.

use diesel::prelude::*;

use crate::db::schema::badge_image_configurations as configs;
use crate::db::{DbConnection, now};
use crate::images::{self, Limits, SquareMode};

pub const ONE_DEFAULT: &str = "There can be only one default image.";
pub const DUPLICATE_MODE: &str = "Badge image configuration with this Mode already exists.";
pub const REPLACE_SHIPPED: &str =
    "Replace the default badge images with your organization's own before any badges are issued.";

/// The images Accolade ships for the common modes, to be replaced before issuing.
pub const SHIPPED: &[(&str, &[u8])] = &[
    ("honor", include_bytes!("../../static/badges/honor.png")),
    (
        "verified",
        include_bytes!("../../static/badges/verified.png"),
    ),
    (
        "professional",
        include_bytes!("../../static/badges/professional.png"),
    ),
];
const SEEDED_FLAG: &str = "shipped_badge_images_seeded";
/// Taken by every change of the default, so that concurrent changes take turns.
pub const DEFAULT_LOCK: &str = "lock:badge-image-default";

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = configs)]
pub struct BadgeImageConfiguration {
    pub id: i64,
    pub mode: String,
    pub image_hash: String,
    pub is_default: bool,
    pub is_shipped: bool,
    pub original_filename: String,
    pub uploaded_by_id: Option<i64>,
    pub uploaded_by: String,
    pub uploaded_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

pub use crate::courses::validate_mode;

#[derive(Debug, thiserror::Error)]
pub enum BadgeImageError {
    #[error("no badge image configured for mode {0:?} and no default image")]
    NotConfigured(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// The image badges for `mode` get: the mode's own configuration, else the default.
pub fn image_for_mode(
    conn: &mut DbConnection,
    mode: &str,
) -> Result<BadgeImageConfiguration, BadgeImageError> {
    let own = configs::table
        .filter(configs::mode.eq(mode))
        .select(BadgeImageConfiguration::as_select())
        .first(conn)
        .optional()?;
    if let Some(config) = own {
        return Ok(config);
    }
    configs::table
        .filter(configs::is_default.eq(true))
        .select(BadgeImageConfiguration::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| BadgeImageError::NotConfigured(mode.to_string()))
}

/// Makes one configuration the default, moving the flag from any other in one transaction
/// that holds the default lock. Returns the mode, or `None` if the id does not exist.
pub fn make_default(conn: &mut DbConnection, id: i64) -> QueryResult<Option<String>> {
    conn.transaction(|conn| {
        crate::db::settings::lock(conn, DEFAULT_LOCK)?;
        diesel::update(
            configs::table
                .filter(configs::is_default.eq(true))
                .filter(configs::id.ne(id)),
        )
        .set(configs::is_default.eq(false))
        .execute(conn)?;
        diesel::update(configs::table.find(id))
            .set((configs::is_default.eq(true), configs::updated_at.eq(now())))
            .returning(configs::mode)
            .get_result::<String>(conn)
            .optional()
    })
}

/// The modes whose shipped image is still in place.
pub fn shipped_modes(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    configs::table
        .filter(configs::is_shipped.eq(true))
        .order(configs::mode)
        .select(configs::mode)
        .load(conn)
}

/// On a new site, configures `honor`, `verified` and `professional` with the shipped
/// images (once: an admin who deletes them does not get them back).
pub fn seed_shipped(conn: &mut DbConnection, limits: &Limits) -> QueryResult<usize> {
    if crate::db::settings::get(conn, SEEDED_FLAG)?.is_some() {
        return Ok(0);
    }
    let mut seeded = 0;
    for (mode, bytes) in SHIPPED {
        let image = images::process(bytes, SquareMode::Pad, limits)
            .expect("the shipped badge images are valid");
        images::store::save(conn, &image)?;
        let inserted = crate::db::insert_unless_duplicate(conn, |conn| {
            diesel::insert_into(configs::table)
                .values((
                    configs::mode.eq(mode),
                    configs::image_hash.eq(&image.hash),
                    configs::is_shipped.eq(true),
                    configs::original_filename.eq(format!("{mode}.png")),
                    configs::uploaded_by.eq("Accolade (shipped)"),
                    configs::uploaded_at.eq(now()),
                    configs::updated_at.eq(now()),
                ))
                .execute(conn)
        })?;
        if inserted {
            seeded += 1;
        }
    }
    crate::db::settings::get_or_insert(conn, SEEDED_FLAG, || "1".into())?;
    Ok(seeded)
}
