//! Plain view structs the admin templates render, built from the generic admin's types.

use crate::admin::{Cell, FieldErrors, FieldSpec, FormData, Widget};
use crate::display::format_time;

pub struct CellView {
    pub text: String,
    /// `yes`, `no` or `unknown` for booleans, shown as an icon with alt text.
    pub icon: Option<&'static str>,
    /// An image cell's URL (`text` is its alternative text).
    pub image: Option<String>,
    /// Text that calls for attention, shown marked.
    pub warning: bool,
}

impl From<Cell> for CellView {
    fn from(cell: Cell) -> CellView {
        let text = |t: String| CellView {
            text: if t.is_empty() { "-".into() } else { t },
            icon: None,
            image: None,
            warning: false,
        };
        match cell {
            Cell::Text(t) => text(t),
            Cell::Time(t) => text(t.as_ref().map(format_time).unwrap_or_default()),
            Cell::Image { url, alt } => CellView {
                text: alt,
                icon: None,
                image: Some(url),
                warning: false,
            },
            Cell::Warning(t) => CellView {
                warning: true,
                ..text(t)
            },
            Cell::Bool(b) => CellView {
                image: None,
                warning: false,
                text: match b {
                    Some(true) => "True".into(),
                    Some(false) => "False".into(),
                    None => "None".into(),
                },
                icon: Some(match b {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "unknown",
                }),
            },
        }
    }
}

pub struct OptionView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `email`, `password`, `checkbox`, `select`, `multiselect`, `textarea` or `readonly`.
    pub kind: &'static str,
    pub required: bool,
    pub disabled: bool,
    pub help: String,
    pub value: String,
    pub checked: bool,
    pub max_length: usize,
    pub options: Vec<OptionView>,
    pub errors: Vec<String>,
    pub link: Option<(String, String)>,
    /// For image fields: the hidden field carrying the stored hash, and the image's URL.
    pub stored_name: String,
    pub image_url: Option<String>,
    pub stored_filename_name: String,
    pub stored_filename: String,
}

/// The form's fields with their values and errors; `read_only` disables every field.
pub fn field_views(
    fields: Vec<FieldSpec>,
    data: &FormData,
    errors: &FieldErrors,
    read_only: bool,
) -> Vec<FieldView> {
    fields
        .into_iter()
        .map(|field| {
            let selected = data.all(field.name);
            let options = |choices: &[(String, String)]| {
                choices
                    .iter()
                    .map(|(value, label)| OptionView {
                        selected: selected.contains(&value.as_str()),
                        value: value.clone(),
                        label: label.clone(),
                    })
                    .collect()
            };
            let (kind, max_length, options) = match &field.widget {
                Widget::Text { max_length } => ("text", *max_length, Vec::new()),
                Widget::Email => ("email", 254, Vec::new()),
                Widget::Password => ("password", 0, Vec::new()),
                Widget::Checkbox => ("checkbox", 0, Vec::new()),
                Widget::Select(choices) => ("select", 0, options(choices)),
                Widget::MultiSelect(choices) => ("multiselect", 0, options(choices)),
                Widget::Textarea => ("textarea", 0, Vec::new()),
                Widget::Date => ("date", 0, Vec::new()),
                Widget::ReadOnly => ("readonly", 0, Vec::new()),
                Widget::Image { .. } => ("image", 0, Vec::new()),
            };
            let stored_name = FormData::stored_name(field.name);
            let stored_filename_name = FormData::stored_filename_name(field.name);
            let stored_filename = data.text(&stored_filename_name);
            let stored = data.text(&stored_name);
            let image_url = match &field.widget {
                Widget::Image { url_prefix } if crate::images::is_hash(&stored) => {
                    Some(format!("{url_prefix}{stored}.png"))
                }
                _ => None,
            };
            FieldView {
                name: field.name,
                label: field.label,
                kind,
                required: field.required,
                disabled: read_only || field.read_only,
                value: if image_url.is_some() {
                    stored.clone()
                } else if field.is_secret() {
                    String::new()
                } else {
                    data.raw(field.name).to_string()
                },
                checked: data.flag(field.name),
                max_length,
                options,
                errors: errors.get(field.name).to_vec(),
                link: field.link,
                help: field.help,
                stored_name,
                image_url,
                stored_filename_name,
                stored_filename,
            }
        })
        .collect()
}
