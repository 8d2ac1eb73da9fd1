//! Courses › Course team roles: who is instructor or staff on which course. A role is a
//! right: the rules of who may give, change or remove one are `courses::roles`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    Actor, AdminMeta, Cell, Column, DeletedObject, FieldErrors, FieldSpec, FilterSpec, ListPage,
    ListQuery, ModelAdmin, ModelInfo, Row, SaveError, Saved, Widget,
};
use crate::courses::{self, NewRole, Role, roles};
use crate::db::DbConnection;
use crate::db::schema::{course_roles, courses as course_rows, users};

static META: AdminMeta = AdminMeta::new(
    ModelInfo {
        app_label: "courses",
        app_name: "Courses",
        model: "courserole",
        verbose_name: "course team role",
        verbose_name_plural: "course team roles",
    },
    &[
        Column::sorted("user", "User"),
        Column::sorted("course", "Course"),
        Column::sorted("role", "Role"),
    ],
)
.search("Searches username and course key.");

pub struct CourseRoleAdmin;

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RoleForm {
    user: String,
    course: String,
    role: String,
}

fn role_choices() -> Vec<(String, String)> {
    let choices = Role::CHOICES.iter();
    choices
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect()
}

/// A select's value: required, and one of its choices.
fn chosen<T>(errors: &mut FieldErrors, field: &str, value: Option<T>, text: &str) -> Option<T> {
    if text.trim().is_empty() {
        errors.add(field, "This field is required.");
    } else if value.is_none() {
        errors.add(field, "Select a valid choice.");
    }
    value
}

impl ModelAdmin for CourseRoleAdmin {
    type Id = i64;
    type Form = RoleForm;

    fn meta(&self) -> &'static AdminMeta {
        &META
    }

    fn refusal(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: &i64,
    ) -> QueryResult<Option<String>> {
        Ok(
            crate::auth::course_roles::change_refusal(conn, actor.user_id, *id)?
                .map(str::to_string),
        )
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        Ok(vec![FilterSpec::choices(
            "role__exact",
            "role",
            role_choices(),
        )])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = course_roles::table
                .inner_join(users::table)
                .inner_join(course_rows::table)
                .into_boxed();
            query = search_terms!(query, &q.terms, users::username, course_rows::course_id);
            if let Some(role) = q.filter("role__exact") {
                query = query.filter(course_roles::role.eq(role.to_string()));
            }
            query
        };
        let total = course_roles::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<(i64, String, String, String)> =
            page_of!(filtered(), q, META.columns, course_roles::id, {
                "user" => users::username,
                "course" => course_rows::course_id,
                "role" => course_roles::role,
            })
            .select((
                course_roles::id,
                users::username,
                course_rows::course_id,
                course_roles::role,
            ))
            .load(conn)?;
        let rows = page.into_iter().map(|(id, user, course, role)| Row {
            id: id.to_string(),
            cells: vec![Cell::Text(user), Cell::Text(course), Cell::Text(role)],
        });
        Ok(ListPage::new(rows.collect(), count, Some(total)))
    }

    fn fields(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        _id: Option<&i64>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let users = crate::auth::users::choices(conn)?;
        let courses = courses::choices(conn)?;
        Ok(vec![
            FieldSpec::new("user", "User", Widget::Select(users)).required(),
            FieldSpec::new("course", "Course", Widget::Select(courses)).required(),
            FieldSpec::new("role", "Role", Widget::Select(role_choices()))
                .required()
                .help("Both roles may change the course's advanced settings in Studio; an instructor holds all that staff hold. Unless you are a superuser, you may give only a role you hold yourself on the course, to a user whose rights you hold."),
        ])
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Option<(String, RoleForm)>> {
        let Some(role) = roles::described(conn, &[*id])?.pop() else {
            return Ok(None);
        };
        let form = RoleForm {
            user: role.user_id.to_string(),
            course: role.course_id.to_string(),
            role: role.role.clone(),
        };
        Ok(Some((role.repr(), form)))
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&i64>,
        form: RoleForm,
    ) -> Result<Saved, SaveError> {
        let mut errors = FieldErrors::default();
        let (user, course, role) = (form.user.trim(), form.course.trim(), form.role.trim());
        let user = chosen(&mut errors, "user", user.parse().ok(), user);
        let course = chosen(&mut errors, "course", course.parse().ok(), course);
        let role = chosen(&mut errors, "role", Role::parse(role), role);
        let (Some(user), Some(course), Some(role)) = (user, course, role) else {
            return Err(SaveError::Invalid(errors));
        };
        let new = NewRole { user, course, role };
        let id = crate::auth::course_roles::save_role(conn, actor.user_id, id.copied(), new)?
            .map_err(SaveError::Invalid)?;
        let saved = roles::described(conn, &[id])?.pop().unwrap_or_default();
        Ok(Saved::new(id, saved.repr()))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<(i64, DeletedObject)>> {
        let found = roles::described(conn, ids)?.into_iter();
        Ok(found
            .map(|role| (role.id, DeletedObject::new(role.repr(), Vec::new())))
            .collect())
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
        roles::delete_roles(conn, ids)
    }
}
