//! The admin page of course team roles: who is instructor or staff on which course.

use diesel::prelude::*;

use crate::admin::FormChecks;

use super::Role;
use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    Actor, Cell, Column, DeletedObject, FieldErrors, FieldSpec, FilterSpec, FormData,
    LegacyModelAdmin, ListPage, ListQuery, ModelInfo, Row, SaveError, Saved, Widget, ids_as_i64,
};
use crate::db::DbConnection;
use crate::db::schema::{course_roles, courses, users};

static INFO: ModelInfo = ModelInfo {
    app_label: "courses",
    app_name: "Courses",
    model: "courserole",
    verbose_name: "course team role",
    verbose_name_plural: "course team roles",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "user",
        label: "User",
        sortable: true,
    },
    Column {
        key: "course",
        label: "Course",
        sortable: true,
    },
    Column {
        key: "role",
        label: "Role",
        sortable: true,
    },
];

pub struct CourseRoleAdmin;

fn repr(username: &str, role: &str, course: &str) -> String {
    format!("{username}: {role} on {course}")
}

/// (id, username, role, course key) of some roles.
fn described(
    conn: &mut DbConnection,
    ids: Vec<i64>,
) -> QueryResult<Vec<(i64, String, String, String)>> {
    course_roles::table
        .inner_join(users::table)
        .inner_join(courses::table)
        .filter(course_roles::id.eq_any(ids))
        .order(course_roles::id)
        .select((
            course_roles::id,
            users::username,
            course_roles::role,
            courses::course_id,
        ))
        .load(conn)
}

/// [`super::grant_refusal`] for the acting admin and the chosen user (both exist).
fn grant_refusal(
    conn: &mut DbConnection,
    actor: Actor,
    user: i64,
    course: i64,
    role: Role,
) -> QueryResult<Option<&'static str>> {
    if actor.is_superuser {
        return Ok(None);
    }
    let not_found = || diesel::result::Error::NotFound;
    let actor = crate::auth::users::find(conn, actor.user_id)?.ok_or_else(not_found)?;
    let target = crate::auth::users::find(conn, user)?.ok_or_else(not_found)?;
    super::grant_refusal(conn, &actor, &target, course, role)
}

impl LegacyModelAdmin for CourseRoleAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    /// A role is its holder's right: whoever may not manage the holder may not change or
    /// remove it.
    fn refusal(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: &str,
    ) -> QueryResult<Option<String>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let holder: Option<i64> = course_roles::table
            .find(id)
            .select(course_roles::user_id)
            .first(conn)
            .optional()?;
        Ok(match holder {
            Some(user) => crate::auth::users::refusal_for(conn, actor.user_id, user)?
                .map(|r| r.message().to_string()),
            None => None,
        })
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches username and course key.")
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        Ok(vec![FilterSpec {
            param: "role__exact",
            title: "role",
            choices: Role::CHOICES
                .iter()
                .map(|(v, l)| (v.to_string(), l.to_string()))
                .collect(),
        }])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = course_roles::table
                .inner_join(users::table)
                .inner_join(courses::table)
                .into_boxed();
            query = search_terms!(query, &q.terms, users::username, courses::course_id);
            if let Some(role) = q.filter("role__exact") {
                query = query.filter(course_roles::role.eq(role.to_string()));
            }
            query
        };
        let total = course_roles::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<(i64, String, String, String)> =
            page_of!(filtered(), q, COLUMNS, course_roles::id, {
                "user" => users::username,
                "course" => courses::course_id,
                "role" => course_roles::role,
            })
            .select((
                course_roles::id,
                users::username,
                courses::course_id,
                course_roles::role,
            ))
            .load(conn)?;
        let rows = page
            .into_iter()
            .map(|(id, user, course, role)| Row {
                id: id.to_string(),
                cells: vec![Cell::Text(user), Cell::Text(course), Cell::Text(role)],
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
        _id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let user_choices = crate::auth::users::choices(conn)?;
        let course_choices: Vec<(String, String)> = courses::table
            .order(courses::course_id)
            .select((courses::id, courses::course_id))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .map(|(id, key)| (id.to_string(), key))
            .collect();
        Ok(vec![
            FieldSpec::new("user", "User", Widget::Select(user_choices)).required(),
            FieldSpec::new("course", "Course", Widget::Select(course_choices)).required(),
            FieldSpec::new(
                "role",
                "Role",
                Widget::Select(
                    Role::CHOICES
                        .iter()
                        .map(|(v, l)| (v.to_string(), l.to_string()))
                        .collect(),
                ),
            )
            .required()
            .help("Both roles may change the course's advanced settings in Studio; an instructor holds all that staff hold. Unless you are a superuser, you may give only a role you hold yourself on the course, to a user whose rights you hold."),
        ])
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let found: Option<(i64, i64, String)> = course_roles::table
            .find(id)
            .select((
                course_roles::user_id,
                course_roles::course_id,
                course_roles::role,
            ))
            .first(conn)
            .optional()?;
        let Some((user, course, role)) = found else {
            return Ok(None);
        };
        let (_, username, _, key) = described(conn, vec![id])?.pop().unwrap_or_default();
        let mut data = FormData::default();
        data.set("user", user.to_string());
        data.set("course", course.to_string());
        data.set("role", &role);
        Ok(Some((repr(&username, &role, &key), data)))
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        let mut errors = FieldErrors::default();
        errors.check_required(&self.fields(conn, actor, id)?, data);
        let user: Option<i64> = data.text("user").parse().ok();
        let course: Option<i64> = data.text("course").parse().ok();
        let role = Role::parse(&data.text("role"));
        let user_exists = match user {
            Some(u) => {
                diesel::select(diesel::dsl::exists(users::table.find(u))).get_result(conn)?
            }
            None => false,
        };
        let course_exists = match course {
            Some(c) => {
                diesel::select(diesel::dsl::exists(courses::table.find(c))).get_result(conn)?
            }
            None => false,
        };
        if errors.get("user").is_empty() && !user_exists {
            errors.add("user", "Select a valid choice.");
        }
        if errors.get("course").is_empty() && !course_exists {
            errors.add("course", "Select a valid choice.");
        }
        if errors.get("role").is_empty() && role.is_none() {
            errors.add("role", "Select a valid choice.");
        }
        let own_id: Option<i64> = id.and_then(|id| id.parse().ok());
        if let (Some(u), Some(c)) = (user, course) {
            let clash: Option<i64> = course_roles::table
                .filter(course_roles::user_id.eq(u))
                .filter(course_roles::course_id.eq(c))
                .select(course_roles::id)
                .first(conn)
                .optional()?;
            if clash.is_some() && clash != own_id {
                errors.add(
                    FieldErrors::NON_FIELD,
                    "This user already has a role on this course.",
                );
            }
        }
        if let (Some(u), Some(c), Some(r)) = (user, course, role)
            && errors.is_empty()
            && let Some(problem) = grant_refusal(conn, actor, u, c, r)?
        {
            errors.add(FieldErrors::NON_FIELD, problem);
        }
        errors.into_result().map_err(SaveError::Invalid)?;
        let (user, course, role) = (
            user.unwrap_or_default(),
            course.unwrap_or_default(),
            role.map(Role::as_str).unwrap_or_default(),
        );
        let id = match own_id {
            Some(id) => {
                diesel::update(course_roles::table.find(id))
                    .set((
                        course_roles::user_id.eq(user),
                        course_roles::course_id.eq(course),
                        course_roles::role.eq(role),
                    ))
                    .execute(conn)?;
                id
            }
            None => diesel::insert_into(course_roles::table)
                .values((
                    course_roles::user_id.eq(user),
                    course_roles::course_id.eq(course),
                    course_roles::role.eq(role),
                ))
                .returning(course_roles::id)
                .get_result(conn)?,
        };
        let (_, username, role, key) = described(conn, vec![id])?.pop().unwrap_or_default();
        Ok(Saved::new(id, repr(&username, &role, &key)))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        Ok(described(conn, ids_as_i64(ids))?
            .into_iter()
            .map(|(id, user, role, course)| {
                (
                    id.to_string(),
                    DeletedObject::new(repr(&user, &role, &course), Vec::new()),
                )
            })
            .collect())
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        diesel::delete(course_roles::table.filter(course_roles::id.eq_any(ids_as_i64(ids))))
            .execute(conn)
    }
}
