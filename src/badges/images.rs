//! Badge image configurations: one image per course mode, at most one default.
//!
//! The rule "at most one default" is also a partial unique index, so concurrent saves can
//! never leave two defaults; the functions here turn the index's refusal into the form
//! error or retry the move.

use diesel::prelude::*;

use crate::db::schema::{badge_image_configurations as configs, users};
use crate::db::{DbConnection, now};
use crate::display::count_of;
use crate::images::{self, ImageError, Limits, SquareMode};
use crate::validation::FieldErrors;

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
/// The unique indexes behind "one configuration per mode" and "at most one default" (see
/// the migrations), by the names [`crate::db::violated_constraint`] gives them.
const MODE_INDEX: &str = "badge_image_configurations_mode_key";
const DEFAULT_INDEX: &str = "badge_image_configurations_one_default";

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

impl BadgeImageConfiguration {
    /// When, by whom and from which file its image came, e.g. "2026-01-02 03:04:05 UTC by
    /// root, from “badge.png”".
    pub fn provenance(&self) -> String {
        let at = crate::display::format_time(&self.uploaded_at);
        let mut text = format!("{at} by {}", self.uploaded_by);
        if !self.original_filename.is_empty() {
            text.push_str(&format!(", from “{}”", self.original_filename));
        }
        if self.is_shipped {
            text.push_str(" (shipped with Accolade: replace it)");
        }
        text
    }
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

/// A configuration as saved from a form (or any caller).
#[derive(Clone, Debug, Default)]
pub struct NewConfiguration {
    pub mode: String,
    /// A stored image's hash.
    pub image_hash: String,
    pub is_default: bool,
    /// The uploaded file's name, kept for reference.
    pub original_filename: String,
}

/// What a save did.
#[derive(Debug)]
pub struct SavedConfiguration {
    pub id: i64,
    /// For a configuration whose image changed: the courses it does not reach, because
    /// their image is already frozen.
    pub frozen_courses: Vec<String>,
}

impl SavedConfiguration {
    /// What the save does not reach, when it leaves frozen images alone.
    pub fn frozen_warning(&self) -> Option<String> {
        let n = self.frozen_courses.len();
        let images = if n == 1 { "image is" } else { "images are" };
        let courses = count_of(n, "course");
        let warning =
            format!("This change will not affect {courses} whose badge {images} already frozen.");
        (n > 0).then_some(warning)
    }
}

pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<BadgeImageConfiguration>> {
    configs::table
        .find(id)
        .select(BadgeImageConfiguration::as_select())
        .first(conn)
        .optional()
}

/// The configurations among `ids` that exist, by mode, as (id, "mode (default)", what goes
/// with it: nothing — frozen images stay where they are).
pub fn deleted(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String, Vec<String>)>> {
    let found: Vec<(i64, String, bool)> = configs::table
        .filter(configs::id.eq_any(ids))
        .order(configs::mode)
        .select((configs::id, configs::mode, configs::is_default))
        .load(conn)?;
    let found = found.into_iter().map(|(id, mode, is_default)| {
        let default = if is_default { " (default)" } else { "" };
        (id, format!("{mode}{default}"), Vec::new())
    });
    Ok(found.collect())
}

pub fn delete(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(configs::table.filter(configs::id.eq_any(ids))).execute(conn)
}

/// Adds a configuration (`id` `None`) or changes one, with every rule: the mode is valid
/// and has no other configuration, except that adding a mode that still has its shipped
/// image replaces that image; the image is stored; at most one default, checked and
/// written under [`DEFAULT_LOCK`] so that concurrent saves take turns. A new image records
/// who uploaded it (`uploader`, a user id). A unique index that refuses the write anyway
/// gives the same field error as the check. Runs in the caller's transaction.
pub fn save_configuration(
    conn: &mut DbConnection,
    id: Option<i64>,
    new: NewConfiguration,
    uploader: i64,
) -> QueryResult<Result<SavedConfiguration, FieldErrors>> {
    let existing = match id {
        Some(id) => Some(by_id(conn, id)?.ok_or(diesel::result::Error::NotFound)?),
        None => None,
    };
    if new.is_default {
        crate::db::settings::lock(conn, DEFAULT_LOCK)?;
    }
    let errors = validate(conn, id, &new)?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let id = match write(conn, existing.as_ref(), &new) {
        Ok(id) => id,
        Err(e) => {
            let mut errors = FieldErrors::default();
            match crate::db::violated_constraint(conn, &e)?.as_deref() {
                Some(MODE_INDEX) => errors.add("mode", DUPLICATE_MODE),
                Some(DEFAULT_INDEX) => errors.add("default", ONE_DEFAULT),
                _ => return Err(e),
            }
            return Ok(Err(errors));
        }
    };
    let new_image = existing
        .as_ref()
        .is_none_or(|e| e.image_hash != new.image_hash);
    if new_image {
        let uploaded_by: String = users::table
            .find(uploader)
            .select(users::username)
            .first(conn)?;
        diesel::update(configs::table.find(id))
            .set((
                configs::is_shipped.eq(false),
                configs::original_filename.eq(images::clean_filename(&new.original_filename)),
                configs::uploaded_by_id.eq(Some(uploader)),
                configs::uploaded_by.eq(uploaded_by),
                configs::uploaded_at.eq(now()),
            ))
            .execute(conn)?;
    }
    let frozen_courses = match existing {
        Some(_) if new_image => super::frozen::courses_frozen_for(conn, &new.mode, new.is_default)?,
        _ => Vec::new(),
    };
    Ok(Ok(SavedConfiguration { id, frozen_courses }))
}

/// Field errors of a configuration to save as `own_id`.
fn validate(
    conn: &mut DbConnection,
    own_id: Option<i64>,
    new: &NewConfiguration,
) -> QueryResult<FieldErrors> {
    let mut errors = FieldErrors::default();
    if let Some(problem) = validate_mode(&new.mode) {
        errors.add("mode", problem);
    } else {
        let clash: Option<(i64, bool)> = configs::table
            .filter(configs::mode.eq(&new.mode))
            .select((configs::id, configs::is_shipped))
            .first(conn)
            .optional()?;
        match clash {
            // Adding a mode that still has its shipped image replaces that image.
            Some((_, true)) if own_id.is_none() => {}
            Some((id, _)) if Some(id) != own_id => errors.add("mode", DUPLICATE_MODE),
            _ => {}
        }
    }
    if new.image_hash.is_empty() {
        errors.add("icon", FieldErrors::REQUIRED);
    } else if !images::is_hash(&new.image_hash) || !images::store::exists(conn, &new.image_hash)? {
        errors.add("icon", ImageError::NotAnImage.to_string());
    }
    if new.is_default {
        let other: Option<i64> = configs::table
            .filter(configs::is_default.eq(true))
            .select(configs::id)
            .first(conn)
            .optional()?;
        if other.is_some() && other != own_id {
            errors.add("default", ONE_DEFAULT);
        }
    }
    Ok(errors)
}

/// Writes the row (a new one replaces its mode's shipped image); returns its id.
fn write(
    conn: &mut DbConnection,
    existing: Option<&BadgeImageConfiguration>,
    new: &NewConfiguration,
) -> QueryResult<i64> {
    let values = (
        configs::mode.eq(&new.mode),
        configs::image_hash.eq(&new.image_hash),
        configs::is_default.eq(new.is_default),
        configs::updated_at.eq(now()),
    );
    match existing {
        Some(existing) => diesel::update(configs::table.find(existing.id))
            .set(values)
            .execute(conn)
            .map(|_| existing.id),
        None => {
            diesel::delete(
                configs::table
                    .filter(configs::mode.eq(&new.mode))
                    .filter(configs::is_shipped.eq(true)),
            )
            .execute(conn)?;
            diesel::insert_into(configs::table)
                .values((values, configs::uploaded_at.eq(now())))
                .returning(configs::id)
                .get_result(conn)
        }
    }
}

/// Makes one configuration the default, moving the flag from any other in one transaction
/// that holds the default lock. Returns the mode, or `None` if the id does not exist.
pub fn make_default(conn: &mut DbConnection, id: i64) -> QueryResult<Option<String>> {
    conn.transaction(|conn| {
        crate::db::settings::lock(conn, DEFAULT_LOCK)?;
        // A configuration deleted meanwhile changes nothing: the default stays where it is.
        let exists = diesel::select(diesel::dsl::exists(configs::table.find(id)));
        if !exists.get_result::<bool>(conn)? {
            return Ok(None);
        }
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
/// Whether a stored image is in use: the image of a configuration or of a badge class.
/// Anything else in the store is an upload not (yet) saved, e.g. a Preview's.
pub fn is_in_use(conn: &mut DbConnection, hash: &str) -> QueryResult<bool> {
    use crate::db::schema::badge_classes;
    let configured = configs::table.filter(configs::image_hash.eq(hash));
    let classes = badge_classes::table.filter(badge_classes::image_hash.eq(hash));
    diesel::select(diesel::dsl::exists(configured).or(diesel::dsl::exists(classes)))
        .get_result(conn)
}

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
