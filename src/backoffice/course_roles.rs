//! Courses › Course team roles: who is instructor or staff on which course. A role is a
//! right: the rules of who may give, change or remove one are `courses::roles`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    AdminMeta, Cell, Column, Deletion, FieldErrors, FieldSpec, Filter, ListPage, ListQuery, Loaded,
    ModelAdmin, ModelInfo, Request, Row, SaveError, SaveResult, Saved, Widget, choices_of,
};
use crate::auth::course_roles::{change_refusal, save_role};
use crate::courses::{self, NewRole, Role, roles};
use crate::db::DbConnection;
use crate::db::schema::{course_roles, courses as course_rows, users};

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(
        super::COURSES,
        "courserole",
        "course team role",
        "course team roles",
    ),
    &[
        Column::sorted("user", "User"),
        Column::sorted("course", "Course"),
        Column::sorted("role", "Role"),
    ],
)
.search("Searches username and course key.")
.filters(&[ROLE]);

const ROLE: Filter = Filter::choices("role__exact", "role", &Role::CHOICES);

const ROLE_HELP: &str = "Both roles may change the course's advanced settings in Studio; an instructor holds all that staff hold. Unless you are a superuser, you may give only a role you hold yourself on the course, to a user whose rights you hold.";

pub struct CourseRoleAdmin;

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RoleForm {
    user: String,
    course: String,
    role: String,
}

impl ModelAdmin for CourseRoleAdmin {
    type Id = i64;
    type Form = RoleForm;

    const META: &'static AdminMeta = &META;
    const DELETION: Option<Deletion<i64>> =
        Some(Deletion::new(roles::deleted, roles::delete_roles));

    fn refusal(&self, req: &mut Request, id: &i64) -> QueryResult<Option<String>> {
        Ok(change_refusal(req.conn, req.actor.user_id, *id)?.map(str::to_string))
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        list_page!(conn, q, &META,
            total: course_roles::table,
            filtered: || {
                let query = course_roles::table.inner_join(users::table);
                let query = query.inner_join(course_rows::table).into_boxed();
                let (user, course) = (users::username, course_rows::course_id);
                let mut query = search_terms!(query, &q.terms, user, course);
                if let Some(role) = q.filter(ROLE.param) {
                    query = query.filter(course_roles::role.eq(role.to_string()));
                }
                query
            },
            pk: course_roles::id,
            order: {
                "user" => users::username,
                "course" => course_rows::course_id,
                "role" => course_roles::role,
            },
            select: (course_roles::id, users::username, course_rows::course_id, course_roles::role),
            row: |(id, user, course, role): (i64, String, String, String)| {
                Row::new(id, vec![Cell::Text(user), Cell::Text(course), Cell::Text(role)])
            },
        )
    }

    fn fields(&self, req: &mut Request, _: Option<&i64>) -> QueryResult<Vec<FieldSpec>> {
        let users = crate::auth::users::choices(req.conn)?;
        let courses = courses::choices(req.conn)?;
        Ok(vec![
            FieldSpec::new("user", "User", Widget::Select(users)).required(),
            FieldSpec::new("course", "Course", Widget::Select(courses)).required(),
            FieldSpec::new("role", "Role", Widget::Select(choices_of(&Role::CHOICES)))
                .required()
                .help(ROLE_HELP),
        ])
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<RoleForm>> {
        let Some(role) = roles::described(conn, &[*id])?.pop() else {
            return Ok(None);
        };
        let form = RoleForm {
            user: role.user_id.to_string(),
            course: role.course.to_string(),
            role: role.role.clone(),
        };
        Ok(Some((role.repr(), form)))
    }

    fn save(&self, req: &mut Request, id: Option<&i64>, form: RoleForm) -> SaveResult {
        let (user, course, role) = (form.user.trim(), form.course.trim(), form.role.trim());
        let (Ok(user), Ok(course), Some(role)) = (user.parse(), course.parse(), Role::parse(role))
        else {
            // The generic form checks have named the field: required, or no valid choice.
            return Err(SaveError::Invalid(FieldErrors::default()));
        };
        let new = NewRole { user, course, role };
        let id = save_role(req.conn, req.actor.user_id, id.copied(), new)??;
        let saved = roles::described(req.conn, &[id])?.pop().unwrap_or_default();
        Ok(Saved::new(id, saved.repr()))
    }
}
