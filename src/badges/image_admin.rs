//! The admin pages of badge image configurations ("Certificates › Badge image
//! configurations"): uploads run through the image pipeline, the default is unique.

use diesel::prelude::*;

use super::images::{
    self as config, BadgeImageConfiguration, DUPLICATE_MODE, ONE_DEFAULT, REPLACE_SHIPPED,
};
use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, Actor, Cell, Column, DeletedObject, FieldErrors, FieldSpec,
    FilterSpec, FormData, LegacyModelAdmin, ListPage, ListQuery, ModelInfo, ProcessedUpload,
    ProcessedUploads, Row, SaveError, Saved, Upload, Widget, ids_as_i64,
};
use crate::db::schema::{badge_image_configurations as configs, stored_images, users};
use crate::db::{DbConnection, now};
use crate::display::format_time;
use crate::images::{self, ImageError, Limits, SquareMode};

pub const MEDIA_PREFIX: &str = "/media/badge-images/";
pub const THUMBNAIL_PREFIX: &str = "/media/badge-images/thumbnails/";
const MAKE_DEFAULT: &str = "make_default";

static INFO: ModelInfo = ModelInfo {
    app_label: "certificates",
    app_name: "Certificates",
    model: "badgeimageconfiguration",
    verbose_name: "badge image configuration",
    verbose_name_plural: "badge image configurations",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "mode",
        label: "Mode",
        sortable: true,
    },
    Column {
        key: "image",
        label: "Image",
        sortable: false,
    },
    Column {
        key: "default",
        label: "Default",
        sortable: true,
    },
    Column {
        key: "size",
        label: "Size",
        sortable: false,
    },
    Column {
        key: "frozen",
        label: "Frozen courses",
        sortable: false,
    },
    Column {
        key: "updated",
        label: "Last change",
        sortable: true,
    },
];

static ACTIONS: &[ActionSpec] = &[ActionSpec::new(MAKE_DEFAULT, "Make default")];

pub struct BadgeImageConfigurationAdmin {
    pub limits: Limits,
}

fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<BadgeImageConfiguration>> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    configs::table
        .find(id)
        .select(BadgeImageConfiguration::as_select())
        .first(conn)
        .optional()
}

/// The last path component of an uploaded file's name, without control characters.
fn clean_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    last.chars().filter(|c| !c.is_control()).take(255).collect()
}

fn describe_size(width: i32, height: i32, bytes: i32) -> String {
    format!("{width}×{height} px, {:.1} KB", f64::from(bytes) / 1024.0)
}

impl BadgeImageConfigurationAdmin {
    /// Field errors for everything but the upload itself (checked in `process_uploads`).
    fn validate(
        &self,
        conn: &mut DbConnection,
        own_id: Option<i64>,
        data: &FormData,
    ) -> QueryResult<FieldErrors> {
        let mut errors = FieldErrors::default();
        let mode = data.text("mode");
        if let Some(problem) = config::validate_mode(&mode) {
            errors.add("mode", problem);
        } else {
            let clash: Option<(i64, bool)> = configs::table
                .filter(configs::mode.eq(&mode))
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
        let hash = data.text(&FormData::stored_name("icon"));
        if hash.is_empty() {
            errors.add("icon", "This field is required.");
        } else if !images::is_hash(&hash) || !images::store::exists(conn, &hash)? {
            errors.add("icon", ImageError::NotAnImage.to_string());
        }
        if data.flag("default") {
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

    /// Writes the row; a unique index that refuses it (a concurrent save) becomes the same
    /// field error the form check gives.
    fn write(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        existing: Option<&BadgeImageConfiguration>,
        data: &FormData,
    ) -> Result<i64, SaveError> {
        let mode = data.text("mode");
        let hash = data.text(&FormData::stored_name("icon"));
        let is_default = data.flag("default");
        let new_image = existing.is_none_or(|e| e.image_hash != hash);
        let written = match existing {
            Some(existing) => diesel::update(configs::table.find(existing.id))
                .set((
                    configs::mode.eq(&mode),
                    configs::image_hash.eq(&hash),
                    configs::is_default.eq(is_default),
                    configs::updated_at.eq(now()),
                ))
                .execute(conn)
                .map(|_| existing.id),
            None => diesel::delete(
                configs::table
                    .filter(configs::mode.eq(&mode))
                    .filter(configs::is_shipped.eq(true)),
            )
            .execute(conn)
            .and_then(|_| {
                diesel::insert_into(configs::table)
                    .values((
                        configs::mode.eq(&mode),
                        configs::image_hash.eq(&hash),
                        configs::is_default.eq(is_default),
                        configs::uploaded_at.eq(now()),
                        configs::updated_at.eq(now()),
                    ))
                    .returning(configs::id)
                    .get_result(conn)
            }),
        };
        let id = match written {
            Ok(id) => id,
            Err(e) if crate::db::is_unique_violation(&e) => {
                let mut errors = FieldErrors::default();
                if e.to_string().contains("mode") {
                    errors.add("mode", DUPLICATE_MODE);
                } else {
                    errors.add("default", ONE_DEFAULT);
                }
                return Err(SaveError::Invalid(errors));
            }
            Err(e) => return Err(e.into()),
        };
        if new_image {
            let uploader: String = users::table
                .find(actor.user_id)
                .select(users::username)
                .first(conn)?;
            diesel::update(configs::table.find(id))
                .set((
                    configs::is_shipped.eq(false),
                    configs::original_filename.eq(clean_filename(&data.text(&filename_field()))),
                    configs::uploaded_by_id.eq(Some(actor.user_id)),
                    configs::uploaded_by.eq(uploader),
                    configs::uploaded_at.eq(now()),
                ))
                .execute(conn)?;
        }
        Ok(id)
    }
}

/// The hidden field that carries the uploaded file's name along with its stored hash.
fn filename_field() -> String {
    FormData::stored_filename_name("icon")
}

/// Runs an image field's upload through the pipeline (squared as the form's `make_square`
/// asks), for the generic admin to store. Shared by every admin form with a badge image.
pub fn process_upload(data: &FormData, field: &str, limits: &Limits) -> ProcessedUploads {
    let mut processed = ProcessedUploads::default();
    let Some(square) = SquareMode::parse(&data.text("make_square")) else {
        processed
            .errors
            .add("make_square", "Select a valid choice.");
        return processed;
    };
    match data.file(field) {
        None => {}
        Some(Upload::TooLarge { limit, .. }) => {
            let limit = *limit;
            processed
                .errors
                .add(field, ImageError::UploadTooLarge { limit }.to_string());
        }
        Some(Upload::File { filename, bytes }) => match images::process(bytes, square, limits) {
            Ok(image) => processed.images.push(ProcessedUpload {
                field: field.to_string(),
                filename: clean_filename(filename),
                image,
            }),
            Err(problem) => processed.errors.add(field, problem.to_string()),
        },
    }
    processed
}

/// The form's "If the image is not square" choice.
pub fn square_field() -> FieldSpec {
    FieldSpec::new(
        "make_square",
        "If the image is not square",
        Widget::Select(vec![
            ("pad".into(), "Pad to square with transparency".into()),
            ("crop".into(), "Crop to the centre square".into()),
        ]),
    )
    .help("Leave empty to refuse images that are not square.")
}

impl LegacyModelAdmin for BadgeImageConfigurationAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches mode.")
    }

    fn actions(&self) -> &'static [ActionSpec] {
        ACTIONS
    }

    fn has_preview(&self) -> bool {
        true
    }

    fn site_notices(&self, conn: &mut DbConnection) -> QueryResult<Vec<String>> {
        let shipped = config::shipped_modes(conn)?;
        Ok(if shipped.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "{REPLACE_SHIPPED} Shipped images are still in place for: {}.",
                shipped.join(", ")
            )]
        })
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        Ok(vec![
            FilterSpec::boolean("default__exact", "default"),
            FilterSpec::boolean("shipped__exact", "shipped image"),
        ])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = configs::table.inner_join(stored_images::table).into_boxed();
            query = search_terms!(query, &q.terms, configs::mode);
            if let Some(v) = q.bool_filter("default__exact") {
                query = query.filter(configs::is_default.eq(v));
            }
            if let Some(v) = q.bool_filter("shipped__exact") {
                query = query.filter(configs::is_shipped.eq(v));
            }
            query
        };
        let total = configs::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<(BadgeImageConfiguration, i32, i32, i32)> =
            page_of!(filtered(), q, COLUMNS, configs::id, {
                "mode" => configs::mode,
                "default" => configs::is_default,
                "updated" => configs::updated_at,
            })
            .select((
                BadgeImageConfiguration::as_select(),
                stored_images::width,
                stored_images::height,
                stored_images::bytes,
            ))
            .load(conn)?;
        let frozen_classes = super::frozen::FrozenClasses::load(conn)?;
        let mut rows = Vec::new();
        for (c, width, height, bytes) in page {
            let frozen = frozen_classes.courses_for(&c.mode, c.is_default).len();
            rows.push(Row {
                id: c.id.to_string(),
                cells: vec![
                    Cell::Text(c.mode.clone()),
                    Cell::Image {
                        url: format!("{THUMBNAIL_PREFIX}{}.png", c.image_hash),
                        alt: format!("Badge image for {}", c.mode),
                    },
                    Cell::Bool(Some(c.is_default)),
                    Cell::Text(describe_size(width, height, bytes)),
                    Cell::Text(frozen.to_string()),
                    Cell::Time(Some(c.updated_at)),
                ],
            });
        }
        Ok(ListPage {
            rows,
            count,
            total: Some(total),
        })
    }

    fn fields(
        &self,
        _conn: &mut DbConnection,
        _actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let mut fields = vec![
            FieldSpec::new("mode", "Mode", Widget::Text { max_length: 125 })
                .required()
                .help("The course mode for this badge image, in lowercase. For example, \"verified\" or \"honor\". Adding a mode that still has its shipped image replaces that image."),
            FieldSpec::new("icon", "Icon", Widget::Image { url_prefix: MEDIA_PREFIX })
                .required()
                .help(format!(
                    "PNG, JPEG, GIF or WebP, square, at least {min}×{min} pixels, at most {} KiB. It is issued as a {size}×{size} PNG. Once a course's first badge is issued, its image is frozen: later changes here do not reach that course.",
                    self.limits.max_upload_bytes / 1024,
                    min = self.limits.min_size,
                    size = self.limits.canonical_size,
                )),
            square_field(),
            FieldSpec::new("default", "Default", Widget::Checkbox).help(
                "Use this image for modes that have no image of their own. There can be only one default image.",
            ),
        ];
        if id.is_some() {
            fields.push(FieldSpec::new("image_details", "Image", Widget::ReadOnly));
            fields.push(FieldSpec::new("uploaded", "Uploaded", Widget::ReadOnly));
            fields.push(
                FieldSpec::new("frozen_courses", "Already frozen for", Widget::ReadOnly)
                    .help("Courses whose badge image for this mode was frozen when their first badge was issued: a new image here does not reach them.")
                    .link("/admin/badges/frozen-images/", "See the frozen images report"),
            );
        }
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Some(c) = find(conn, id)? else {
            return Ok(None);
        };
        let mut data = FormData::default();
        data.set("mode", &c.mode);
        data.set(&FormData::stored_name("icon"), &c.image_hash);
        data.set(&filename_field(), &c.original_filename);
        data.set_flag("default", c.is_default);
        if let Some((w, h, bytes)) = images::store::dimensions(conn, &c.image_hash)? {
            data.set(
                "image_details",
                format!("{}; SHA-256 {}", describe_size(w, h, bytes), c.image_hash),
            );
        }
        let original = if c.original_filename.is_empty() {
            String::new()
        } else {
            format!(", from “{}”", c.original_filename)
        };
        let shipped = if c.is_shipped {
            " (shipped with Accolade: replace it)"
        } else {
            ""
        };
        data.set(
            "uploaded",
            format!(
                "{} by {}{original}{shipped}",
                format_time(&c.uploaded_at),
                c.uploaded_by
            ),
        );
        let frozen = super::frozen::courses_frozen_for(conn, &c.mode, c.is_default)?;
        data.set(
            "frozen_courses",
            if frozen.is_empty() {
                "No course yet".to_string()
            } else {
                format!("{} courses: {}", frozen.len(), frozen.join(", "))
            },
        );
        Ok(Some((c.mode, data)))
    }

    fn process_uploads(&self, data: &FormData) -> ProcessedUploads {
        process_upload(data, "icon", &self.limits)
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        let existing = match id {
            Some(id) => Some(find(conn, id)?.ok_or(diesel::result::Error::NotFound)?),
            None => None,
        };
        let own_id = existing.as_ref().map(|e| e.id);
        if data.flag("default") {
            // Checked and written under the lock, so concurrent saves take turns.
            crate::db::settings::lock(conn, config::DEFAULT_LOCK)?;
        }
        self.validate(conn, own_id, data)?
            .into_result()
            .map_err(SaveError::Invalid)?;
        let id = self.write(conn, actor, existing.as_ref(), data)?;
        let mut warnings = Vec::new();
        let new_image = existing
            .as_ref()
            .is_some_and(|e| e.image_hash != data.text(&FormData::stored_name("icon")));
        if new_image {
            let frozen =
                super::frozen::courses_frozen_for(conn, &data.text("mode"), data.flag("default"))?;
            if !frozen.is_empty() {
                warnings.push(match frozen.len() {
                    1 => "This change will not affect 1 course whose badge image is already frozen.".into(),
                    n => format!("This change will not affect {n} courses whose badge images are already frozen."),
                });
            }
        }
        Ok(Saved {
            id: id.to_string(),
            repr: data.text("mode"),
            warnings,
        })
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        let found: Vec<(i64, String, bool)> = configs::table
            .filter(configs::id.eq_any(ids_as_i64(ids)))
            .order(configs::mode)
            .select((configs::id, configs::mode, configs::is_default))
            .load(conn)?;
        Ok(found
            .into_iter()
            .map(|(id, mode, is_default)| {
                let repr = if is_default {
                    format!("{mode} (default)")
                } else {
                    mode
                };
                (id.to_string(), DeletedObject::new(repr, Vec::new()))
            })
            .collect())
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        diesel::delete(configs::table.filter(configs::id.eq_any(ids_as_i64(ids)))).execute(conn)
    }

    fn run_action(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        action: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        if action != MAKE_DEFAULT {
            return Ok(ActionOutcome::default());
        }
        let [id] = ids else {
            return Ok(ActionOutcome {
                message: "Select exactly one configuration to make it the default. No items have been changed.".into(),
                changed: Vec::new(),
            });
        };
        let Some(mode) = id
            .parse()
            .ok()
            .map(|id| config::make_default(conn, id))
            .transpose()?
            .flatten()
        else {
            return Ok(ActionOutcome::default());
        };
        Ok(ActionOutcome {
            message: format!("“{mode}” is now the default badge image."),
            changed: vec![(id.clone(), mode)],
        })
    }
}
