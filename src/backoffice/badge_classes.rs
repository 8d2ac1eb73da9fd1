//! Badges › Badge classes. A frozen class (created on the backend) shows its image and the
//! text the backend holds read-only; the rules are `badges::classes`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::image_field::{self, image_field, square_field, thumbnail};
use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    AdminMeta, Cell, Choices, Column, DeletedObject, FieldSpec, Filter, FormData, ListPage,
    ListQuery, Loaded, ModelAdmin, ModelInfo, ProcessedUploads, Request, Row, SaveResult, Saved,
    Widget,
};
use crate::badges::classes::{self, BadgeClass, ClassFilter, ClassInput};
use crate::badging::assertions;
use crate::db::DbConnection;
use crate::db::schema::badge_classes;
use crate::display::{format_time, or_dash};
use crate::images::Limits;

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(super::BADGES, "badgeclass", "badge class", "badge classes"),
    &[
        Column::sorted("display_name", "Display name"),
        Column::new("image", "Image"),
        Column::sorted("slug", "Slug"),
        Column::sorted("issuing_component", "Issuing component"),
        Column::sorted("course_id", "Course"),
        Column::sorted("mode", "Mode"),
        Column::sorted("frozen", "Frozen"),
    ],
)
.search("Searches display name, slug and course.")
.filters(&[COMPONENT, FROZEN])
.preview();

const COMPONENT: Filter = Filter::from_data("issuing_component__exact", "issuing component");
const FROZEN: Filter = Filter::boolean("frozen__exact", "frozen");

const SLUG_HELP: &str = "Lowercase letters, digits, _ and -.";
const COMPONENT_HELP: &str =
    "Lowercase; empty for course-completion badges, openedx__course for course-event badges.";
const COURSE_HELP: &str = "A course key, or empty for a badge that belongs to no course.";
const CRITERIA_HELP: &str = "A URL (the course's about page for course badges), or text.";
const MODE_HELP: &str = "The enrollment mode of a course-completion badge.";
const IMAGE_HELP: &str = "The class's own copy of its image: it stays even if the mode's image configuration changes or is deleted.";

pub struct BadgeClassAdmin {
    pub limits: Limits,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct BadgeClassForm {
    #[serde(flatten)]
    class: ClassInput,
    image_stored: String,
    backend_id: String,
    frozen_at: String,
}

impl ModelAdmin for BadgeClassAdmin {
    type Id = i64;
    type Form = BadgeClassForm;

    const META: &'static AdminMeta = &META;

    /// The issuing components there are.
    fn filter_choices(&self, conn: &mut DbConnection, _: &str) -> QueryResult<Option<Choices>> {
        let components = classes::issuing_components(conn)?.into_iter();
        let choices = components.map(|c| match c.as_str() {
            "" => (c, "(course completion)".to_string()),
            _ => (c.clone(), c),
        });
        Ok(Some(choices.collect()))
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        use badge_classes::dsl as c;
        let filter = ClassFilter {
            issuing_component: q.filter(COMPONENT.param).map(str::to_string),
            frozen: q.bool_filter(FROZEN.param),
        };
        let filtered = || {
            let query = classes::matching(filter.clone());
            search_terms!(query, &q.terms, c::display_name, c::slug, c::course_id)
        };
        list_page!(conn, q, &META,
            total: badge_classes::table,
            filtered: filtered,
            pk: c::id,
            order: {
                "display_name" => c::display_name,
                "slug" => c::slug,
                "issuing_component" => c::issuing_component,
                "course_id" => c::course_id,
                "mode" => c::mode,
                "frozen" => c::frozen_at,
            },
            select: BadgeClass::as_select(),
            row: |class: BadgeClass| Row::new(class.id, vec![
                Cell::Text(class.display_name.clone()),
                thumbnail(&class.image_hash, format!("Image of {}", class.display_name)),
                Cell::Text(class.slug.clone()),
                Cell::Text(class.issuing_component.clone()),
                Cell::Text(class.course_id.clone()),
                Cell::Text(class.mode.clone()),
                Cell::Bool(Some(class.is_frozen())),
            ]),
        )
    }

    fn fields(&self, req: &mut Request, id: Option<&i64>) -> QueryResult<Vec<FieldSpec>> {
        let text = |name, label, n| FieldSpec::new(name, label, Widget::Text { max_length: n });
        let mut fields = vec![
            text("slug", "Slug", 255).required().help(SLUG_HELP),
            text("issuing_component", "Issuing component", 50).help(COMPONENT_HELP),
            text("display_name", "Display name", 255).required(),
            text("course_id", "Course", 255).help(COURSE_HELP),
            FieldSpec::new("description", "Description", Widget::Textarea).required(),
            text("criteria", "Criteria", 2000)
                .required()
                .help(CRITERIA_HELP),
            text("mode", "Mode", 100).help(MODE_HELP),
            image_field("image", "Image").required().help(IMAGE_HELP),
            square_field(),
        ];
        let Some(id) = id else { return Ok(fields) };
        fields.extend(FieldSpec::read_only_list(&[
            ("backend_id", "Backend identifier"),
            ("frozen_at", "Frozen"),
        ]));
        let frozen = classes::by_id(req.conn, *id).optional()?;
        let frozen = frozen.and_then(|c| c.frozen_at);
        let Some(frozen_at) = frozen else {
            return Ok(fields);
        };
        let at = format_time(&frozen_at);
        let note = format!(
            "Frozen on {at}: the badge backend holds this class's image and text, so they can no longer change here."
        );
        for field in &mut fields {
            // How the image was squared goes with the image.
            let held =
                classes::HELD_BY_BACKEND.contains(&field.name) || field.name == "make_square";
            field.read_only |= held;
            if field.name == "image" {
                field.help = note.clone();
            }
        }
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<BadgeClassForm>> {
        let Some(c) = classes::by_id(conn, *id).optional()? else {
            return Ok(None);
        };
        let form = BadgeClassForm {
            class: ClassInput::of(&c),
            image_stored: c.image_hash.clone(),
            backend_id: or_dash(&c.backend_id),
            frozen_at: c.frozen_at.map_or(
                "Not yet: the class has not been created on the badge backend.".to_string(),
                |t| format_time(&t),
            ),
        };
        Ok(Some((c.repr(), form)))
    }

    fn process_uploads(&self, data: &FormData) -> ProcessedUploads {
        image_field::process_upload(data, "image", &self.limits)
    }

    fn save(&self, req: &mut Request, id: Option<&i64>, form: BadgeClassForm) -> SaveResult {
        let spec = form.class.spec(&form.image_stored);
        let class = classes::save(req.conn, id.copied(), &spec)??;
        Ok(Saved::new(class.id, class.repr()))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<(i64, DeletedObject)>> {
        let found = classes::by_ids(conn, ids)?.into_iter().map(|c| {
            // A Badgr class stays on Badgr; the local issuer's documents go with it.
            let stays = format!(
                "The class stays on the badge backend ({}); only Accolade's record is deleted.",
                c.backend_id
            );
            let stays = (c.is_frozen() && !c.backend_id.is_empty()).then_some(stays);
            let issued = assertions::issued_of_class(conn, c.id)?;
            let object = DeletedObject::new(c.repr(), Vec::from_iter(stays));
            Ok((c.id, object.protected_by(issued, assertions::NEVER_DELETED)))
        });
        found.collect()
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
        classes::delete(conn, ids)
    }
}
