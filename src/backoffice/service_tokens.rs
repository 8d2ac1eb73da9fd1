//! Authentication and Authorization › Service tokens: how a service (the LMS) acts as a
//! service user. The secret is shown once, when the token is made; who may act as whom,
//! and who may touch whose tokens, are in `auth::service_tokens`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, AdminMeta, Cell, Column, Deletion, FieldSpec, Filter, ListPage,
    ListQuery, Loaded, ModelAdmin, ModelInfo, Request, Row, SaveResult, Saved, Widget,
};
use crate::auth::service_tokens::{self, ServiceToken};
use crate::auth::users;
use crate::db::DbConnection;
use crate::db::schema::{service_tokens as token_rows, users as user_rows};

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(super::AUTH, "token", "service token", "service tokens"),
    &[
        Column::sorted("name", "Name"),
        Column::sorted("user", "Acts as"),
        Column::new("prefix", "Starts with"),
        Column::new("active", "Active"),
        Column::sorted("created", "Created"),
        Column::sorted("last_used", "Last used"),
    ],
)
.search("Searches name and user.")
.filters(&[Filter::boolean("active__exact", "active")])
.actions(&[ActionSpec::new("revoke", "Revoke selected service tokens")]);

pub struct ServiceTokenAdmin;

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    name: String,
    user: String,
    prefix: String,
    status: String,
}

const USER_HELP: &str = "The service user whose rights the token carries. For the LMS: a user without admin rights holding “learners | learner | Can add learner” (to post events) and “badges | badge assertion | Can view badge assertion” (to read learners’ badges). Superusers, inactive users and users with rights you do not hold cannot be chosen.";

impl ModelAdmin for ServiceTokenAdmin {
    type Id = i64;
    type Form = TokenForm;

    const META: &'static AdminMeta = &META;
    const DELETION: Option<Deletion<i64>> = Some(Deletion::new(
        service_tokens::deleted,
        service_tokens::delete,
    ));

    fn refusal(&self, req: &mut Request, id: &i64) -> QueryResult<Option<String>> {
        service_tokens::refusal(req.conn, req.actor.user_id, *id)
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        list_page!(conn, q, &META,
            total: token_rows::table,
            filtered: || {
                let query = service_tokens::matching(q.bool_filter("active__exact"));
                search_terms!(query, &q.terms, token_rows::name, user_rows::username)
            },
            pk: token_rows::id,
            order: {
                "name" => token_rows::name,
                "user" => user_rows::username,
                "created" => token_rows::created_at,
                "last_used" => token_rows::last_used_at,
            },
            select: (ServiceToken::as_select(), user_rows::username),
            row: |(token, user): (ServiceToken, String)| Row::new(token.id, vec![
                Cell::Text(token.name.clone()),
                Cell::Text(user),
                Cell::Text(token.shown_prefix()),
                Cell::Bool(Some(token.revoked_at.is_none())),
                Cell::Time(Some(token.created_at)),
                Cell::Time(token.last_used_at),
            ]),
        )
    }

    fn fields(&self, req: &mut Request, id: Option<&i64>) -> QueryResult<Vec<FieldSpec>> {
        let name = FieldSpec::new("name", "Name", Widget::Text { max_length: 150 })
            .required()
            .help("What uses this token, e.g. “LMS production”.");
        let choices = match id {
            None => service_tokens::acting_user_choices(req.conn, req.actor.user_id)?,
            Some(_) => users::choices(req.conn)?,
        };
        let user = FieldSpec::new("user", "Acts as", Widget::Select(choices));
        let user = user.required().help(USER_HELP);
        let Some(_) = id else {
            return Ok(vec![name, user]);
        };
        Ok(vec![
            name,
            user.read_only(),
            FieldSpec::new("prefix", "Starts with", Widget::ReadOnly)
                .help("The secret itself was shown once, when the token was created."),
            FieldSpec::new("status", "Status", Widget::ReadOnly),
        ])
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<TokenForm>> {
        let Some((token, _)) = service_tokens::find(conn, *id)? else {
            return Ok(None);
        };
        let form = TokenForm {
            name: token.name.clone(),
            user: token.user_id.to_string(),
            prefix: token.shown_prefix(),
            status: token.status(),
        };
        Ok(Some((token.name, form)))
    }

    fn save(&self, req: &mut Request, id: Option<&i64>, form: TokenForm) -> SaveResult {
        let (conn, actor) = (&mut *req.conn, req.actor.user_id);
        if let Some(&id) = id {
            let name = service_tokens::rename(conn, actor, id, &form.name)??;
            return Ok(Saved::new(id, name));
        }
        let created = service_tokens::create_by(conn, actor, &form.name, &form.user);
        let (id, secret) = created??;
        let mut saved = Saved::new(id, form.name.trim());
        saved.warnings.push(format!(
            "The secret of this token is {secret} — copy it now: it is not shown again. Send it as “Authorization: Bearer <secret>”."
        ));
        Ok(saved)
    }

    fn run_action(&self, req: &mut Request, _: &str, ids: &[i64]) -> QueryResult<ActionOutcome> {
        let revoked = service_tokens::revoke(req.conn, ids)?;
        let message = format!("Revoked {} service token(s).", revoked.len());
        Ok(ActionOutcome::new(message, revoked))
    }
}
