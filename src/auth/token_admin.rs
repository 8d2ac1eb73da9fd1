//! The admin page of service tokens ("Authentication and Authorization › Service tokens").

use diesel::prelude::*;

use crate::admin::FormChecks;

use super::users::User;
use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, Actor, Cell, Column, DeletedObject, FieldErrors, FieldSpec,
    FilterSpec, FormData, LegacyModelAdmin, ListPage, ListQuery, ModelInfo, Row, SaveError, Saved,
    Widget, ids_as_i64,
};
use crate::db::schema::{service_tokens, users};
use crate::db::{DbConnection, now};
use crate::display::format_time;

static INFO: ModelInfo = ModelInfo {
    app_label: "auth",
    app_name: "Authentication and Authorization",
    model: "token",
    verbose_name: "service token",
    verbose_name_plural: "service tokens",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "name",
        label: "Name",
        sortable: true,
    },
    Column {
        key: "user",
        label: "Acts as",
        sortable: true,
    },
    Column {
        key: "prefix",
        label: "Starts with",
        sortable: false,
    },
    Column {
        key: "active",
        label: "Active",
        sortable: false,
    },
    Column {
        key: "created",
        label: "Created",
        sortable: true,
    },
    Column {
        key: "last_used",
        label: "Last used",
        sortable: true,
    },
];

static ACTIONS: &[ActionSpec] = &[ActionSpec::new("revoke", "Revoke selected service tokens")];

type TokenRow = (
    i64,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
);

pub struct ServiceTokenAdmin;

/// The users a new token may act as: active, not superusers, and no more privileged than
/// the actor (a token must not carry rights its creator lacks).
fn acting_user_choices(
    conn: &mut DbConnection,
    actor: Actor,
) -> QueryResult<Vec<(String, String)>> {
    let candidates: Vec<User> = users::table
        .filter(users::is_active.eq(true))
        .filter(users::is_superuser.eq(false))
        .order(users::username)
        .select(User::as_select())
        .load(conn)?;
    // The actor's rights, read once; `None` for a superuser, who may choose anyone.
    let own = if actor.is_superuser {
        None
    } else {
        let user =
            super::users::find(conn, actor.user_id)?.ok_or(diesel::result::Error::NotFound)?;
        Some(super::users::rights(conn, &user)?)
    };
    let mut choices = Vec::with_capacity(candidates.len());
    for user in candidates {
        let refused = match &own {
            Some(own) => super::users::refusal_given(conn, own, &user)?.is_some(),
            None => false,
        };
        if !refused {
            choices.push((user.id.to_string(), user.username));
        }
    }
    Ok(choices)
}

fn load_row(conn: &mut DbConnection, id: i64) -> QueryResult<Option<TokenRow>> {
    service_tokens::table
        .inner_join(users::table)
        .filter(service_tokens::id.eq(id))
        .select((
            service_tokens::id,
            service_tokens::name,
            users::username,
            service_tokens::token_prefix,
            service_tokens::created_at,
            service_tokens::last_used_at,
            service_tokens::revoked_at,
        ))
        .first(conn)
        .optional()
}

impl LegacyModelAdmin for ServiceTokenAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches name and user.")
    }

    /// A token acts with its user's rights: whoever may not manage the user may not rename,
    /// revoke or delete the user's tokens either.
    fn refusal(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: &str,
    ) -> QueryResult<Option<String>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let owner: Option<i64> = service_tokens::table
            .find(id)
            .select(service_tokens::user_id)
            .first(conn)
            .optional()?;
        let Some(owner) = owner else {
            return Ok(None);
        };
        Ok(super::admin::refusal_for(conn, actor, owner)?.map(|refusal| {
            format!(
                "This token acts as a user you may not manage ({}): only a superuser, or someone who may manage that user, may change, revoke or delete it.",
                refusal.short()
            )
        }))
    }

    fn actions(&self) -> &'static [ActionSpec] {
        ACTIONS
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        Ok(vec![FilterSpec::boolean("active__exact", "active")])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = service_tokens::table.inner_join(users::table).into_boxed();
            query = search_terms!(query, &q.terms, service_tokens::name, users::username);
            match q.bool_filter("active__exact") {
                Some(true) => query = query.filter(service_tokens::revoked_at.is_null()),
                Some(false) => query = query.filter(service_tokens::revoked_at.is_not_null()),
                None => {}
            }
            query
        };
        let total = service_tokens::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<TokenRow> = page_of!(filtered(), q, COLUMNS, service_tokens::id, {
            "name" => service_tokens::name,
            "user" => users::username,
            "created" => service_tokens::created_at,
            "last_used" => service_tokens::last_used_at,
        })
        .select((
            service_tokens::id,
            service_tokens::name,
            users::username,
            service_tokens::token_prefix,
            service_tokens::created_at,
            service_tokens::last_used_at,
            service_tokens::revoked_at,
        ))
        .load(conn)?;
        let rows = page
            .into_iter()
            .map(|(id, name, user, prefix, created, used, revoked)| Row {
                id: id.to_string(),
                cells: vec![
                    Cell::Text(name),
                    Cell::Text(user),
                    Cell::Text(format!("{prefix}…")),
                    Cell::Bool(Some(revoked.is_none())),
                    Cell::Time(Some(created)),
                    Cell::Time(used),
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
        actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let choices = match id {
            None => acting_user_choices(conn, actor)?,
            Some(_) => super::users::choices(conn)?,
        };
        let user = FieldSpec::new("user", "Acts as", Widget::Select(choices))
            .required()
            .help("The service user whose rights the token carries. For the LMS: a user without admin rights holding “learners | learner | Can add learner” (to post events) and “badges | badge assertion | Can view badge assertion” (to read learners’ badges). Superusers, inactive users and users with rights you do not hold cannot be chosen.");
        let mut fields = vec![
            FieldSpec::new("name", "Name", Widget::Text { max_length: 150 })
                .required()
                .help("What uses this token, e.g. “LMS production”."),
            if id.is_some() { user.read_only() } else { user },
        ];
        if id.is_some() {
            fields.push(
                FieldSpec::new("prefix", "Starts with", Widget::ReadOnly)
                    .help("The secret itself was shown once, when the token was created."),
            );
            fields.push(FieldSpec::new("status", "Status", Widget::ReadOnly));
        }
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let Some((_, name, _, prefix, created, used, revoked)) = load_row(conn, id)? else {
            return Ok(None);
        };
        let user: i64 = service_tokens::table
            .find(id)
            .select(service_tokens::user_id)
            .first(conn)?;
        let mut data = FormData::default();
        data.set("name", &name);
        data.set("user", user.to_string());
        data.set("prefix", format!("{prefix}…"));
        let used = used.map_or("never used".to_string(), |t| {
            format!("last used {}", format_time(&t))
        });
        data.set(
            "status",
            match revoked {
                Some(t) => format!(
                    "Revoked {}; created {}; {used}",
                    format_time(&t),
                    format_time(&created)
                ),
                None => format!("Active; created {}; {used}", format_time(&created)),
            },
        );
        Ok(Some((name, data)))
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        let fields = self.fields(conn, actor, id)?;
        let mut errors = FieldErrors::default();
        errors.check_required(&fields, data);
        errors.check_lengths(&fields, data);
        let name = data.text("name");
        if let Some(id) = id {
            errors.into_result().map_err(SaveError::Invalid)?;
            let id: i64 = id.parse().map_err(|_| diesel::result::Error::NotFound)?;
            diesel::update(service_tokens::table.find(id))
                .set(service_tokens::name.eq(&name))
                .execute(conn)?;
            return Ok(Saved::new(id, name));
        }
        let user = data.text("user");
        let offered = acting_user_choices(conn, actor)?
            .iter()
            .any(|(id, _)| *id == user);
        if errors.get("user").is_empty() && !offered {
            errors.add("user", "Select a valid choice.");
        }
        errors.into_result().map_err(SaveError::Invalid)?;
        let user: i64 = user.parse().map_err(|_| diesel::result::Error::NotFound)?;
        let (id, secret) = super::service_tokens::create(conn, &name, user)?;
        let mut saved = Saved::new(id, name);
        saved.warnings.push(format!(
            "The secret of this token is {secret} — copy it now: it is not shown again. Send it as “Authorization: Bearer <secret>”."
        ));
        Ok(saved)
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        let found: Vec<(i64, String)> = service_tokens::table
            .filter(service_tokens::id.eq_any(ids_as_i64(ids)))
            .select((service_tokens::id, service_tokens::name))
            .load(conn)?;
        Ok(found
            .into_iter()
            .map(|(id, name)| (id.to_string(), DeletedObject::new(name, Vec::new())))
            .collect())
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        diesel::delete(service_tokens::table.filter(service_tokens::id.eq_any(ids_as_i64(ids))))
            .execute(conn)
    }

    fn run_action(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        action: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        if action != "revoke" {
            return Ok(ActionOutcome::default());
        }
        let active: Vec<(i64, String)> = service_tokens::table
            .filter(service_tokens::id.eq_any(ids_as_i64(ids)))
            .filter(service_tokens::revoked_at.is_null())
            .select((service_tokens::id, service_tokens::name))
            .load(conn)?;
        diesel::update(service_tokens::table.filter(
            service_tokens::id.eq_any(active.iter().map(|(id, _)| *id).collect::<Vec<_>>()),
        ))
        .set(service_tokens::revoked_at.eq(Some(now())))
        .execute(conn)?;
        Ok(ActionOutcome {
            message: format!("Revoked {} service token(s).", active.len()),
            changed: active
                .into_iter()
                .map(|(id, name)| (id.to_string(), name))
                .collect(),
        })
    }
}
