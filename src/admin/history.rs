//! The admin's history log: every add, change and delete, with who and what.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::ModelInfo;
use crate::db::schema::admin_log;
use crate::db::{DbConnection, now};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionFlag {
    Addition = 1,
    Change = 2,
    Deletion = 3,
}

/// A structured change message, stored as JSON so it can be re-worded later.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChangeMessage {
    Added,
    Changed {
        fields: Vec<String>,
    },
    Deleted,
    /// Free text, for changes made outside the generic forms (actions, custom pages).
    Note(String),
}

impl ChangeMessage {
    /// "Changed Email address and Staff status." as Django words it.
    pub fn describe(&self) -> String {
        match self {
            ChangeMessage::Added => "Added.".into(),
            ChangeMessage::Deleted => "Deleted.".into(),
            ChangeMessage::Changed { fields } if fields.is_empty() => "No fields changed.".into(),
            ChangeMessage::Changed { fields } => format!("Changed {}.", join_and(fields)),
            ChangeMessage::Note(text) => text.clone(),
        }
    }
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Who made a change: the acting user's id and username.
#[derive(Clone, Debug)]
pub struct Author {
    pub user_id: i64,
    pub username: String,
}

pub fn log(
    conn: &mut DbConnection,
    author: &Author,
    info: &ModelInfo,
    object_id: &str,
    object_repr: &str,
    message: &ChangeMessage,
) -> QueryResult<()> {
    let flag = match message {
        ChangeMessage::Added => ActionFlag::Addition,
        ChangeMessage::Deleted => ActionFlag::Deletion,
        ChangeMessage::Changed { .. } | ChangeMessage::Note(_) => ActionFlag::Change,
    };
    diesel::insert_into(admin_log::table)
        .values((
            admin_log::action_time.eq(now()),
            admin_log::user_id.eq(Some(author.user_id)),
            admin_log::username.eq(&author.username),
            admin_log::app_label.eq(info.app_label),
            admin_log::model.eq(info.model),
            admin_log::object_id.eq(object_id),
            admin_log::object_repr.eq(truncate(object_repr, 200)),
            admin_log::action_flag.eq(flag as i32),
            admin_log::change_message.eq(serde_json::to_string(message).unwrap_or_default()),
        ))
        .execute(conn)?;
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A history entry as pages show it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_log)]
pub struct Entry {
    pub action_time: chrono::NaiveDateTime,
    pub username: String,
    pub app_label: String,
    pub model: String,
    pub object_id: String,
    pub object_repr: String,
    pub action_flag: i32,
    pub change_message: String,
}

impl Entry {
    pub fn message(&self) -> String {
        serde_json::from_str::<ChangeMessage>(&self.change_message)
            .map(|m| m.describe())
            .unwrap_or_else(|_| self.change_message.clone())
    }

    pub fn is_deletion(&self) -> bool {
        self.action_flag == ActionFlag::Deletion as i32
    }

    pub fn action_name(&self) -> &'static str {
        match self.action_flag {
            1 => "addition",
            3 => "deletion",
            _ => "change",
        }
    }
}

/// One object's history, oldest first (as Django's history page lists it).
pub fn for_object(
    conn: &mut DbConnection,
    info: &ModelInfo,
    object_id: &str,
) -> QueryResult<Vec<Entry>> {
    admin_log::table
        .filter(admin_log::app_label.eq(info.app_label))
        .filter(admin_log::model.eq(info.model))
        .filter(admin_log::object_id.eq(object_id))
        .order((admin_log::action_time.asc(), admin_log::id.asc()))
        .select(Entry::as_select())
        .load(conn)
}

/// A user's latest actions, newest first, for the index's "Recent actions" box.
pub fn recent_for_user(
    conn: &mut DbConnection,
    user_id: i64,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    admin_log::table
        .filter(admin_log::user_id.eq(user_id))
        .order((admin_log::action_time.desc(), admin_log::id.desc()))
        .limit(limit)
        .select(Entry::as_select())
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_django_words_them() {
        let changed = ChangeMessage::Changed {
            fields: vec![
                "Email address".into(),
                "Staff status".into(),
                "Groups".into(),
            ],
        };
        assert_eq!(
            changed.describe(),
            "Changed Email address, Staff status and Groups."
        );
        let json = serde_json::to_string(&changed).unwrap();
        assert_eq!(
            serde_json::from_str::<ChangeMessage>(&json).unwrap(),
            changed
        );
    }
}
