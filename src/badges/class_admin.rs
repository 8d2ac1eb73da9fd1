//! The admin pages of badge classes. A frozen class (created on the backend) shows its image
//! and the text the backend holds read-only.

use diesel::prelude::*;

use super::classes::{self, BadgeClass, BadgeClassSpec, ImageSource};
use super::image_admin::{MEDIA_PREFIX, THUMBNAIL_PREFIX, process_upload, square_field};
use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    Actor, Cell, Column, DeletedObject, FieldErrors, FieldSpec, FilterSpec, FormData,
    LegacyModelAdmin, ListPage, ListQuery, ModelInfo, ProcessedUploads, Row, SaveError, Saved,
    Widget, ids_as_i64,
};
use crate::db::DbConnection;
use crate::db::schema::badge_classes;
use crate::display::format_time;
use crate::images::Limits;

static INFO: ModelInfo = ModelInfo {
    app_label: "badges",
    app_name: "Badges",
    model: "badgeclass",
    verbose_name: "badge class",
    verbose_name_plural: "badge classes",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "display_name",
        label: "Display name",
        sortable: true,
    },
    Column {
        key: "image",
        label: "Image",
        sortable: false,
    },
    Column {
        key: "slug",
        label: "Slug",
        sortable: true,
    },
    Column {
        key: "issuing_component",
        label: "Issuing component",
        sortable: true,
    },
    Column {
        key: "course_id",
        label: "Course",
        sortable: true,
    },
    Column {
        key: "mode",
        label: "Mode",
        sortable: true,
    },
    Column {
        key: "frozen",
        label: "Frozen",
        sortable: true,
    },
];

/// The fields the backend holds once the class is created there.
const HELD_BY_BACKEND: &[&str] = &[
    "slug",
    "issuing_component",
    "display_name",
    "course_id",
    "description",
    "criteria",
    "image",
    "make_square",
];
const DUPLICATE: &str =
    "Badge class with this Slug, Issuing component and Course id already exists.";

pub struct BadgeClassAdmin {
    pub limits: Limits,
}

fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<BadgeClass>> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    badge_classes::table
        .find(id)
        .select(BadgeClass::as_select())
        .first(conn)
        .optional()
}

fn spec_from(data: &FormData) -> BadgeClassSpec {
    let course_id = data.text("course_id");
    BadgeClassSpec {
        slug: data.text("slug"),
        issuing_component: data.text("issuing_component"),
        display_name: data.text("display_name"),
        description: data.text("description"),
        criteria: data.text("criteria"),
        mode: data.text("mode"),
        course_id: (!course_id.is_empty()).then_some(course_id),
        image: ImageSource::Stored(data.text(&FormData::stored_name("image"))),
    }
}

impl LegacyModelAdmin for BadgeClassAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches display name, slug and course.")
    }

    fn has_preview(&self) -> bool {
        true
    }

    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        let components: Vec<String> = badge_classes::table
            .select(badge_classes::issuing_component)
            .distinct()
            .order(badge_classes::issuing_component)
            .load(conn)?;
        Ok(vec![
            FilterSpec {
                param: "issuing_component__exact",
                title: "issuing component",
                choices: components
                    .into_iter()
                    .map(|c| {
                        let label = if c.is_empty() {
                            "(course completion)".to_string()
                        } else {
                            c.clone()
                        };
                        (c, label)
                    })
                    .collect(),
            },
            FilterSpec::boolean("frozen__exact", "frozen"),
        ])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = badge_classes::table.into_boxed();
            query = search_terms!(
                query,
                &q.terms,
                badge_classes::display_name,
                badge_classes::slug,
                badge_classes::course_id
            );
            if let Some(component) = q.filter("issuing_component__exact") {
                query = query.filter(badge_classes::issuing_component.eq(component.to_string()));
            }
            match q.bool_filter("frozen__exact") {
                Some(true) => query = query.filter(badge_classes::frozen_at.is_not_null()),
                Some(false) => query = query.filter(badge_classes::frozen_at.is_null()),
                None => {}
            }
            query
        };
        let total = badge_classes::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<BadgeClass> = page_of!(filtered(), q, COLUMNS, badge_classes::id, {
            "display_name" => badge_classes::display_name,
            "slug" => badge_classes::slug,
            "issuing_component" => badge_classes::issuing_component,
            "course_id" => badge_classes::course_id,
            "mode" => badge_classes::mode,
            "frozen" => badge_classes::frozen_at,
        })
        .select(BadgeClass::as_select())
        .load(conn)?;
        let rows = page
            .into_iter()
            .map(|c| Row {
                id: c.id.to_string(),
                cells: vec![
                    Cell::Text(c.display_name.clone()),
                    Cell::Image {
                        url: format!("{THUMBNAIL_PREFIX}{}.png", c.image_hash),
                        alt: format!("Image of {}", c.display_name),
                    },
                    Cell::Text(c.slug.clone()),
                    Cell::Text(c.issuing_component.clone()),
                    Cell::Text(c.course_id.clone()),
                    Cell::Text(c.mode.clone()),
                    Cell::Bool(Some(c.is_frozen())),
                ],
            })
            .collect();
        Ok(ListPage {
            rows,
            count,
            total: Some(total),
        })
    }

    fn fields(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let frozen = match id {
            Some(id) => find(conn, id)?.and_then(|c| c.frozen_at),
            None => None,
        };
        let mut fields = vec![
            FieldSpec::new("slug", "Slug", Widget::Text { max_length: 255 }).required().help("Lowercase letters, digits, _ and -."),
            FieldSpec::new("issuing_component", "Issuing component", Widget::Text { max_length: 50 })
                .help("Lowercase; empty for course-completion badges, openedx__course for course-event badges."),
            FieldSpec::new("display_name", "Display name", Widget::Text { max_length: 255 }).required(),
            FieldSpec::new("course_id", "Course", Widget::Text { max_length: 255 }).help("A course key, or empty for a badge that belongs to no course."),
            FieldSpec::new("description", "Description", Widget::Textarea).required(),
            FieldSpec::new("criteria", "Criteria", Widget::Text { max_length: 2000 }).required().help("A URL (the course's about page for course badges), or text."),
            FieldSpec::new("mode", "Mode", Widget::Text { max_length: 100 }).help("The enrollment mode of a course-completion badge."),
            FieldSpec::new("image", "Image", Widget::Image { url_prefix: MEDIA_PREFIX }).required().help(
                "The class's own copy of its image: it stays even if the mode's image configuration changes or is deleted.",
            ),
            square_field(),
        ];
        if id.is_some() {
            fields.push(FieldSpec::new(
                "backend_id",
                "Backend identifier",
                Widget::ReadOnly,
            ));
            fields.push(FieldSpec::new("frozen_at", "Frozen", Widget::ReadOnly));
        }
        if let Some(frozen_at) = frozen {
            let note = format!(
                "Frozen on {}: the badge backend holds this class's image and text, so they can no longer change here.",
                format_time(&frozen_at)
            );
            for field in fields
                .iter_mut()
                .filter(|f| HELD_BY_BACKEND.contains(&f.name))
            {
                field.read_only = true;
                if field.name == "image" {
                    field.help = note.clone();
                }
            }
        }
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Some(c) = find(conn, id)? else {
            return Ok(None);
        };
        let mut data = FormData::default();
        data.set("slug", &c.slug);
        data.set("issuing_component", &c.issuing_component);
        data.set("display_name", &c.display_name);
        data.set("course_id", &c.course_id);
        data.set("description", &c.description);
        data.set("criteria", &c.criteria);
        data.set("mode", &c.mode);
        data.set(&FormData::stored_name("image"), &c.image_hash);
        data.set(
            "backend_id",
            if c.backend_id.is_empty() {
                "-"
            } else {
                c.backend_id.as_str()
            },
        );
        data.set(
            "frozen_at",
            c.frozen_at.map_or(
                "Not yet: the class has not been created on the badge backend.".to_string(),
                |t| format_time(&t),
            ),
        );
        Ok(Some((c.repr(), data)))
    }

    fn process_uploads(&self, data: &FormData) -> ProcessedUploads {
        process_upload(data, "image", &self.limits)
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        let existing = match id {
            Some(id) => Some(find(conn, id)?.ok_or(diesel::result::Error::NotFound)?),
            None => None,
        };
        let saved = |c: &BadgeClass| Saved::new(c.id, c.repr());
        if let Some(frozen) = existing.as_ref().filter(|c| c.is_frozen()) {
            // Only what the backend does not hold may change.
            diesel::update(badge_classes::table.find(frozen.id))
                .set(badge_classes::mode.eq(data.text("mode")))
                .execute(conn)?;
            return Ok(saved(frozen));
        }
        let spec = spec_from(data);
        let hash = data.text(&FormData::stored_name("image"));
        let mut errors = classes::validate(conn, &spec, &hash);
        let course_id = spec.course_id.clone().unwrap_or_default();
        if let Some(clash) = classes::find(conn, &spec.slug, &spec.issuing_component, &course_id)?
            && Some(clash.id) != existing.as_ref().map(|e| e.id)
        {
            errors.add(FieldErrors::NON_FIELD, DUPLICATE);
        }
        errors.into_result().map_err(SaveError::Invalid)?;
        let values = (
            badge_classes::slug.eq(&spec.slug),
            badge_classes::issuing_component.eq(&spec.issuing_component),
            badge_classes::display_name.eq(&spec.display_name),
            badge_classes::course_id.eq(&course_id),
            badge_classes::description.eq(&spec.description),
            badge_classes::criteria.eq(&spec.criteria),
            badge_classes::mode.eq(&spec.mode),
            badge_classes::image_hash.eq(&hash),
        );
        match &existing {
            Some(c) => {
                diesel::update(badge_classes::table.find(c.id))
                    .set(values)
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(badge_classes::table)
                    .values((values, badge_classes::created_at.eq(crate::db::now())))
                    .execute(conn)?;
            }
        }
        let stored = classes::find(conn, &spec.slug, &spec.issuing_component, &course_id)?
            .ok_or(diesel::result::Error::NotFound)?;
        Ok(saved(&stored))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        let found: Vec<BadgeClass> = badge_classes::table
            .filter(badge_classes::id.eq_any(ids_as_i64(ids)))
            .order(badge_classes::id)
            .select(BadgeClass::as_select())
            .load(conn)?;
        found
            .into_iter()
            .map(|c| {
                // A Badgr class stays on Badgr; the local issuer's documents go with it.
                let related = if c.is_frozen() && !c.backend_id.is_empty() {
                    vec![format!(
                        "The class stays on the badge backend ({}); only Accolade's record is deleted.",
                        c.backend_id
                    )]
                } else {
                    Vec::new()
                };
                let issued = crate::badging::assertions::issued_of_class(conn, c.id)?;
                Ok((
                    c.id.to_string(),
                    DeletedObject::new(c.repr(), related).protected_by(issued),
                ))
            })
            .collect()
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        diesel::delete(badge_classes::table.filter(badge_classes::id.eq_any(ids_as_i64(ids))))
            .execute(conn)
    }
}
