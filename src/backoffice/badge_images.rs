//! Certificates › Badge image configurations: one image per course mode, at most one
//! default. Uploads run through the image pipeline; the rules are `badges::images`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::image_field::{self, image_field, square_field};
use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, AdminMeta, Cell, Column, Deletion, FieldSpec, Filter, FormData,
    ListPage, ListQuery, Loaded, ModelAdmin, ModelInfo, ProcessedUploads, Request, Row, SaveResult,
    Saved, Widget,
};
use crate::badges::frozen::{FrozenClasses, courses_frozen_for};
use crate::badges::images::{self as config, BadgeImageConfiguration, NewConfiguration};
use crate::db::DbConnection;
use crate::db::schema::{badge_image_configurations as configs, stored_images};
use crate::images::Limits;
use crate::images::store::{self, Size};

const MAKE_DEFAULT: &str = "make_default";
const MODE_HELP: &str = "The course mode for this badge image, in lowercase. For example, \"verified\" or \"honor\". Adding a mode that still has its shipped image replaces that image.";
const FROZEN_ON_FIRST_BADGE: &str = "Once a course's first badge is issued, its image is frozen: later changes here do not reach that course.";
const DEFAULT_HELP: &str = "Use this image for modes that have no image of their own. There can be only one default image.";
const FROZEN_HELP: &str = "Courses whose badge image for this mode was frozen when their first badge was issued: a new image here does not reach them.";
const NOT_ONE: &str =
    "Select exactly one configuration to make it the default. No items have been changed.";
const GONE: &str = "The selected configuration no longer exists (perhaps it was deleted). No items have been changed.";

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(
        super::CERTIFICATES,
        "badgeimageconfiguration",
        "badge image configuration",
        "badge image configurations",
    ),
    &[
        Column::sorted("mode", "Mode"),
        Column::new("image", "Image"),
        Column::sorted("default", "Default"),
        Column::new("size", "Size"),
        Column::new("frozen", "Frozen courses"),
        Column::sorted("updated", "Last change"),
    ],
)
.search("Searches mode.")
.filters(&[
    Filter::boolean("default__exact", "default"),
    Filter::boolean("shipped__exact", "shipped image"),
])
.actions(&[ActionSpec::new(MAKE_DEFAULT, "Make default")])
.preview();

pub struct BadgeImageConfigurationAdmin {
    pub limits: Limits,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ConfigurationForm {
    mode: String,
    icon_stored: String,
    icon_stored_filename: String,
    #[serde(deserialize_with = "crate::admin::checkbox")]
    default: bool,
    image_details: String,
    uploaded: String,
    frozen_courses: String,
}

impl ModelAdmin for BadgeImageConfigurationAdmin {
    type Id = i64;
    type Form = ConfigurationForm;

    const META: &'static AdminMeta = &META;
    const DELETION: Option<Deletion<i64>> = Some(Deletion::new(config::deleted, config::delete));

    fn site_notices(&self, conn: &mut DbConnection) -> QueryResult<Vec<String>> {
        let shipped = config::shipped_modes(conn)?;
        let (replace, modes) = (config::REPLACE_SHIPPED, shipped.join(", "));
        let notice = format!("{replace} Shipped images are still in place for: {modes}.");
        Ok(Vec::from_iter((!shipped.is_empty()).then_some(notice)))
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
        list_page!(conn, q, &META,
            total: configs::table,
            filtered: filtered,
            pk: configs::id,
            order: {
                "mode" => configs::mode,
                "default" => configs::is_default,
                "updated" => configs::updated_at,
            },
            select: (BadgeImageConfiguration::as_select(), Size::as_select()),
            rows: |conn: &mut DbConnection, page: Vec<(BadgeImageConfiguration, Size)>| {
                let frozen = FrozenClasses::load(conn)?;
                Ok(page.into_iter().map(|(c, size)| Row::new(c.id, vec![
                    Cell::Text(c.mode.clone()),
                    image_field::thumbnail(&c.image_hash, format!("Badge image for {}", c.mode)),
                    Cell::Bool(Some(c.is_default)),
                    Cell::Text(size.to_string()),
                    Cell::Text(frozen.courses_for(&c.mode, c.is_default).len().to_string()),
                    Cell::Time(Some(c.updated_at)),
                ])).collect())
            },
        )
    }

    fn fields(&self, _: &mut Request, id: Option<&i64>) -> QueryResult<Vec<FieldSpec>> {
        let shown = |name, label| FieldSpec::new(name, label, Widget::ReadOnly);
        let (limits, mode) = (&self.limits, Widget::Text { max_length: 125 });
        let (min, size) = (limits.min_size, limits.canonical_size);
        let kib = limits.max_upload_bytes / 1024;
        let icon = format!(
            "PNG, JPEG, GIF or WebP, square, at least {min}×{min} pixels, at most {kib} KiB. It is issued as a {size}×{size} PNG. {FROZEN_ON_FIRST_BADGE}"
        );
        let mut fields = vec![
            FieldSpec::new("mode", "Mode", mode)
                .required()
                .help(MODE_HELP),
            image_field("icon", "Icon").required().help(icon),
            square_field(),
            FieldSpec::new("default", "Default", Widget::Checkbox).help(DEFAULT_HELP),
        ];
        if id.is_some() {
            let frozen = shown("frozen_courses", "Already frozen for").help(FROZEN_HELP);
            fields.extend([
                shown("image_details", "Image"),
                shown("uploaded", "Uploaded"),
                frozen.link(crate::urls::FROZEN_IMAGES, "See the frozen images report"),
            ]);
        }
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<ConfigurationForm>> {
        let Some(c) = config::by_id(conn, *id)? else {
            return Ok(None);
        };
        let size = store::size(conn, &c.image_hash)?;
        let details = size.map(|size| format!("{size}; SHA-256 {}", c.image_hash));
        let frozen = courses_frozen_for(conn, &c.mode, c.is_default)?;
        let form = ConfigurationForm {
            image_details: details.unwrap_or_default(),
            uploaded: c.provenance(),
            frozen_courses: match frozen.len() {
                0 => "No course yet".to_string(),
                n => format!("{n} courses: {}", frozen.join(", ")),
            },
            mode: c.mode.clone(),
            icon_stored: c.image_hash,
            icon_stored_filename: c.original_filename,
            default: c.is_default,
        };
        Ok(Some((c.mode, form)))
    }

    fn process_uploads(&self, data: &FormData) -> ProcessedUploads {
        image_field::process_upload(data, "icon", &self.limits)
    }

    fn save(&self, req: &mut Request, id: Option<&i64>, form: ConfigurationForm) -> SaveResult {
        let new = NewConfiguration {
            mode: form.mode.trim().to_string(),
            image_hash: form.icon_stored.trim().to_string(),
            is_default: form.default,
            original_filename: form.icon_stored_filename.trim().to_string(),
        };
        let mode = new.mode.clone();
        let saved = config::save_configuration(req.conn, id.copied(), new, req.actor.user_id)??;
        let mut result = Saved::new(saved.id, mode);
        result.warnings.extend(saved.frozen_warning());
        Ok(result)
    }

    fn run_action(&self, req: &mut Request, _: &str, ids: &[i64]) -> QueryResult<ActionOutcome> {
        // The one action, for one configuration.
        let [id] = ids else {
            return Ok(ActionOutcome::refused(NOT_ONE));
        };
        let Some(mode) = config::make_default(req.conn, *id)? else {
            return Ok(ActionOutcome::refused(GONE));
        };
        let message = format!("“{mode}” is now the default badge image.");
        Ok(ActionOutcome::new(message, [(id, mode)]))
    }
}
