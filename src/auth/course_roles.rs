//! Who may give whom a course team role. Team roles are rights (a member changes the
//! course in Studio), so they are given as rights are: only by someone who may manage the
//! holder, and only a role the giver holds on that course, unless a superuser gives it.

use diesel::prelude::*;

use super::users::{self, User};
use crate::courses::CourseId;
use crate::courses::roles::{NewRole, Role, team_roles};
use crate::db::DbConnection;
use crate::db::schema::{course_roles, courses};
use crate::validation::FieldErrors;

const ROLE_TAKEN: &str = "This user already has a role on this course.";
/// The unique key "one role per user and course", by the name the migrations give it.
const ONE_ROLE_PER_COURSE: &str = "course_roles_course_id_user_id_key";

const ROLE_NOT_HELD: &str = "You may give only a role that you hold yourself on this course (or a lower one): course team roles are rights, and only a superuser grants rights freely.";

/// Why `actor` may not give `target` the role `role` on `course`, or `None`. Course roles
/// are rights: a superuser gives them freely; anyone else may give only a role they hold
/// themselves on that course (or a lower one), and only to a user they may manage.
pub fn grant_refusal(
    conn: &mut DbConnection,
    actor: &User,
    target: &User,
    course: CourseId,
    role: Role,
) -> QueryResult<Option<&'static str>> {
    if actor.is_superuser {
        return Ok(None);
    }
    if let Some(refusal) = users::management_refusal(conn, actor, target)? {
        return Ok(Some(refusal.message()));
    }
    let held = team_roles(conn, actor.id)?.on(course);
    Ok((!held.is_some_and(|own| own.includes(role))).then_some(ROLE_NOT_HELD))
}

/// Why the user `actor` may not change or remove the role `id`, or `None`: whoever may not
/// manage its holder may not (see [`users::management_refusal`]).
pub fn change_refusal(
    conn: &mut DbConnection,
    actor: i64,
    id: i64,
) -> QueryResult<Option<&'static str>> {
    let holder: Option<i64> = course_roles::table
        .find(id)
        .select(course_roles::user_id)
        .first(conn)
        .optional()?;
    let Some(holder) = holder else {
        return Ok(None);
    };
    match (users::find(conn, actor)?, users::find(conn, holder)?) {
        (Some(actor), Some(holder)) => {
            Ok(users::management_refusal(conn, &actor, &holder)?.map(|r| r.message()))
        }
        _ => Ok(None),
    }
}

/// Gives a role (`id` `None`) or changes the role `id`, as the user `actor`, with every
/// rule: the user and the course exist, a user holds one role per course, and the actor
/// may give it ([`grant_refusal`]). Returns the role's id.
pub fn save_role(
    conn: &mut DbConnection,
    actor: i64,
    id: Option<i64>,
    new: NewRole,
) -> QueryResult<Result<i64, FieldErrors>> {
    let mut errors = FieldErrors::default();
    let user = users::find(conn, new.user)?;
    if user.is_none() {
        errors.add("user", FieldErrors::INVALID_CHOICE);
    }
    let course_exists: bool =
        diesel::select(diesel::dsl::exists(courses::table.find(new.course))).get_result(conn)?;
    if !course_exists {
        errors.add("course", FieldErrors::INVALID_CHOICE);
    }
    let clash: Option<i64> = course_roles::table
        .filter(course_roles::user_id.eq(new.user))
        .filter(course_roles::course_id.eq(new.course))
        .select(course_roles::id)
        .first(conn)
        .optional()?;
    if clash.is_some() && clash != id {
        errors.add(FieldErrors::NON_FIELD, ROLE_TAKEN);
    }
    if let Some(user) = user.filter(|_| errors.is_empty()) {
        let actor = users::find(conn, actor)?.ok_or(diesel::result::Error::NotFound)?;
        if let Some(problem) = grant_refusal(conn, &actor, &user, new.course, new.role)? {
            errors.add(FieldErrors::NON_FIELD, problem);
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let values = (
        course_roles::user_id.eq(new.user),
        course_roles::course_id.eq(new.course),
        course_roles::role.eq(new.role.as_str()),
    );
    // In a savepoint: a role given meanwhile by another request breaks the unique key,
    // and on PostgreSQL the surrounding transaction must survive to say so.
    let written = conn.transaction(|conn| match id {
        Some(id) => diesel::update(course_roles::table.find(id))
            .set(values)
            .execute(conn)
            .map(|_| id),
        None => diesel::insert_into(course_roles::table)
            .values(values)
            .returning(course_roles::id)
            .get_result(conn),
    });
    match written {
        Err(e) if crate::db::violates_unique(conn, &e, &[ONE_ROLE_PER_COURSE]) => {
            let mut errors = FieldErrors::default();
            errors.add(FieldErrors::NON_FIELD, ROLE_TAKEN);
            Ok(Err(errors))
        }
        written => written.map(Ok),
    }
}
