//! Authentication and Authorization › Groups: named sets of permissions. Only superusers
//! set a group's permissions, and no one else may change or delete a group with members
//! they may not manage (the rules are in `auth::groups`).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::auth::{permission_choices, rights};
use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    AdminMeta, Cell, Column, Deletion, FieldSpec, ListPage, ListQuery, Loaded, ModelAdmin,
    ModelInfo, Request, Row, SaveResult, Saved, Widget, parse_ids,
};
use crate::auth::groups::{self, Members};
use crate::db::DbConnection;
use crate::db::schema::groups as group_rows;

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(super::AUTH, "group", "group", "groups"),
    &[Column::sorted("name", "Name")],
)
.search("Searches group names.");

pub struct GroupAdmin;

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct GroupForm {
    name: String,
    permissions: Vec<String>,
}

impl ModelAdmin for GroupAdmin {
    type Id = i64;
    type Form = GroupForm;

    const META: &'static AdminMeta = &META;
    const DELETION: Option<Deletion<i64>> = Some(Deletion::new(members, groups::delete));

    fn refusal(&self, req: &mut Request, id: &i64) -> QueryResult<Option<String>> {
        groups::refusal(req.conn, req.actor.user_id, *id)
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        list_page!(conn, q, &META,
            total: group_rows::table,
            filtered: || search_terms!(group_rows::table.into_boxed(), &q.terms, group_rows::name),
            pk: group_rows::id,
            order: { "name" => group_rows::name },
            select: (group_rows::id, group_rows::name),
            row: |(id, name): (i64, String)| Row::new(id, vec![Cell::Text(name)]),
        )
    }

    fn fields(&self, req: &mut Request, _: Option<&i64>) -> QueryResult<Vec<FieldSpec>> {
        let permissions = Widget::MultiSelect(permission_choices(req.conn)?);
        let help = "Members of this group get these permissions.";
        Ok(vec![
            FieldSpec::new("name", "Name", Widget::Text { max_length: 150 }).required(),
            rights(req.actor, "permissions", "Permissions", permissions, help),
        ])
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<GroupForm>> {
        let Some((name, permissions)) = groups::find(conn, *id)? else {
            return Ok(None);
        };
        let form = GroupForm {
            name: name.clone(),
            permissions: permissions.iter().map(i64::to_string).collect(),
        };
        Ok(Some((name, form)))
    }

    fn save(&self, req: &mut Request, id: Option<&i64>, form: GroupForm) -> SaveResult {
        let (actor, permissions) = (req.actor.user_id, parse_ids(&form.permissions));
        let (id, name) = groups::save(req.conn, actor, id.copied(), &form.name, &permissions)??;
        Ok(Saved::new(id, name))
    }
}

/// What deleting groups removes with them: their memberships.
fn members(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String, Vec<String>)>> {
    groups::with_memberships(conn, Members::OfGroups, ids)
}
