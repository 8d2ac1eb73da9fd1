//! Forms: field declarations, submitted values and per-field errors.

use diesel::QueryResult;
use serde::Serialize;
use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use crate::db::DbConnection;
use crate::images::{self, ProcessedImage};
pub use crate::validation::FieldErrors;

/// The (value, label) choices of a select or a filter.
pub type Choices = Vec<(String, String)>;

/// Choices known in the code, as a select or a filter offers them.
pub fn choices_of(pairs: &[(&str, &str)]) -> Choices {
    let owned = pairs.iter().map(|(v, l)| (v.to_string(), l.to_string()));
    owned.collect()
}

/// How a field is shown and read.
#[derive(Debug, Clone)]
pub enum Widget {
    Text {
        max_length: usize,
    },
    Email,
    Password,
    Checkbox,
    Select(Choices),
    MultiSelect(Choices),
    Textarea,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// Shown, never read from the form.
    ReadOnly,
    /// A file upload for an image kept by content hash: the form shows the current image
    /// (`{url_prefix}{hash}.png`) and carries its hash in the hidden field `{name}_stored`,
    /// so an empty file input keeps it and a failed save does not lose a processed upload.
    Image {
        url_prefix: &'static str,
    },
}

#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub widget: Widget,
    pub required: bool,
    /// Shown with its value but not editable (and not read from the submitted form).
    pub read_only: bool,
    pub help: String,
    /// A link shown after the field (e.g. the form that changes a password).
    pub link: Option<(String, String)>,
}

impl FieldSpec {
    pub fn new(name: &'static str, label: &'static str, widget: Widget) -> FieldSpec {
        FieldSpec {
            name,
            label,
            widget,
            required: false,
            read_only: false,
            help: String::new(),
            link: None,
        }
    }

    /// Display-only fields, for records the system keeps (jobs, learners).
    pub fn read_only_list(fields: &[(&'static str, &'static str)]) -> Vec<FieldSpec> {
        fields
            .iter()
            .map(|&(name, label)| FieldSpec::new(name, label, Widget::ReadOnly))
            .collect()
    }

    pub fn required(mut self) -> FieldSpec {
        self.required = true;
        self
    }

    pub fn read_only(mut self) -> FieldSpec {
        self.read_only = true;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> FieldSpec {
        self.help = help.into();
        self
    }

    /// A link under the field; a target that is neither a web URL nor a path on this
    /// site (e.g. `javascript:` from an outside answer) is not linked.
    pub fn link(mut self, href: impl Into<String>, text: impl Into<String>) -> FieldSpec {
        let href = href.into();
        if crate::validation::is_safe_link(&href) {
            self.link = Some((href, text.into()));
        }
        self
    }

    pub fn is_editable(&self) -> bool {
        !self.read_only && !matches!(self.widget, Widget::ReadOnly)
    }

    /// Whether values of this field may appear in history messages and re-rendered forms.
    pub fn is_secret(&self) -> bool {
        matches!(self.widget, Widget::Password)
    }
}

/// A file from a multipart form. An empty file input sends no `Upload` at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upload {
    File {
        filename: String,
        bytes: Vec<u8>,
    },
    /// Larger than the upload limit: its bytes were discarded while it streamed in.
    TooLarge {
        filename: String,
        limit: usize,
    },
}

/// Submitted (or loaded) form values: name → values, in order, repeats kept; and files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormData(Vec<(String, String)>, Vec<(String, Upload)>);

impl FormData {
    pub fn new(pairs: Vec<(String, String)>) -> FormData {
        FormData(pairs, Vec::new())
    }

    pub fn add_file(&mut self, name: &str, upload: Upload) {
        self.1.push((name.to_string(), upload));
    }

    pub fn file(&self, name: &str) -> Option<&Upload> {
        self.1.iter().find(|(k, _)| k == name).map(|(_, u)| u)
    }

    pub fn has_files(&self) -> bool {
        !self.1.is_empty()
    }

    /// Drops the uploaded files, once processed (they can be megabytes each).
    pub fn clear_files(&mut self) {
        self.1 = Vec::new();
    }

    /// The name of the hidden field that carries an image field's stored hash.
    pub fn stored_name(name: &str) -> String {
        format!("{name}_stored")
    }

    /// The name of the hidden field that carries the stored image's original file name.
    pub fn stored_filename_name(name: &str) -> String {
        format!("{name}_stored_filename")
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.to_string(), value.into()));
    }

    pub fn set_all(&mut self, name: &str, values: impl IntoIterator<Item = String>) {
        self.0.retain(|(k, _)| k != name);
        self.0
            .extend(values.into_iter().map(|v| (name.to_string(), v)));
    }

    pub fn set_flag(&mut self, name: &str, on: bool) {
        self.0.retain(|(k, _)| k != name);
        if on {
            self.0.push((name.to_string(), "on".into()));
        }
    }

    /// The first value, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.raw(name).trim().to_string()
    }

    /// The first value exactly as sent (passwords keep their spaces).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A ticked checkbox sends its name; an unticked one sends nothing.
    pub fn flag(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == name && v != "0" && v != "false")
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// A typed form's values, as a page shows them (a flag as `true`/`false`, a list as
    /// repeated values, `None` left out).
    pub fn from_form<F: Serialize>(form: &F) -> FormData {
        // A struct of text, flags, numbers and lists always serialises; anything else is
        // a form type the compiler cannot refuse, found by the first test that shows it.
        let encoded = serde_html_form::to_string(form).expect("a form serialises");
        FormData::new(serde_html_form::from_str(&encoded).expect("encoded pairs read back"))
    }

    /// The submitted values as a typed form. Names the form does not declare (the CSRF
    /// token, the pressed button) are ignored; a value the form cannot hold (text for a
    /// number, two values for one) refuses the form as a whole, naming the field sent
    /// twice.
    pub fn to_form<F: DeserializeOwned>(&self) -> Result<F, FieldErrors> {
        let read = |pairs: &[(String, String)]| {
            let encoded = serde_html_form::to_string(pairs).expect("pairs serialise");
            serde_html_form::from_str::<F>(&encoded)
        };
        read(&self.0).map_err(|_| {
            let mut errors = FieldErrors::default();
            // A field that takes one value, sent more than once: the form reads without
            // its repeats.
            let repeated =
                self.0.iter().enumerate().filter(|(i, (name, _))| {
                    self.0[..*i].iter().any(|(earlier, _)| earlier == name)
                });
            let mut names: Vec<&str> = repeated.map(|(_, (name, _))| name.as_str()).collect();
            names.dedup();
            let once = |name: &str| -> Vec<(String, String)> {
                let mut seen = false;
                let keep =
                    |(n, _): &&(String, String)| n != name || !std::mem::replace(&mut seen, true);
                self.0.iter().filter(keep).cloned().collect()
            };
            let message = match names.into_iter().find(|name| read(&once(name)).is_ok()) {
                Some(name) => {
                    format!("The field “{name}” was sent more than once; it takes one value.")
                }
                None => {
                    "The form could not be read: a value is not of the kind its field takes.".into()
                }
            };
            errors.add(FieldErrors::NON_FIELD, message);
            errors
        })
    }
}

/// Ids from a request (a selection, a multi-select) that parse, each once (`1` and `01`
/// are one id), in the order first given; the others name nothing and are dropped (a form
/// that repeats an id selects it once, as Django's changelist does).
pub fn parse_ids<Id: std::str::FromStr + std::fmt::Display>(ids: &[String]) -> Vec<Id> {
    let mut seen = std::collections::HashSet::new();
    ids.iter()
        .filter_map(|id| id.parse::<Id>().ok())
        .filter(|id| seen.insert(id.to_string()))
        .collect()
}

/// Reads a checkbox into a form's `bool`, with `#[serde(default, deserialize_with =
/// "checkbox")]`: ticked sends a value (`on`), unticked sends nothing, as
/// [`FormData::flag`] reads it.
pub fn checkbox<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let value = String::deserialize(deserializer)?;
    Ok(value != "0" && value != "false")
}

/// What [`super::ModelAdmin::process_uploads`] made of a form's files: images to keep,
/// and the fields whose upload was refused.
#[derive(Debug, Default)]
pub struct ProcessedUploads {
    pub images: Vec<ProcessedUpload>,
    pub errors: FieldErrors,
}

/// An image field's processed upload and its original file name.
#[derive(Debug)]
pub struct ProcessedUpload {
    pub field: String,
    pub filename: String,
    pub image: ProcessedImage,
}

impl ProcessedUploads {
    /// Stores the images by hash and records each in its field's hidden values (see
    /// [`Widget::Image`]), so a form shown again keeps them; returns the upload errors.
    pub fn store(self, conn: &mut DbConnection, data: &mut FormData) -> QueryResult<FieldErrors> {
        for upload in self.images {
            images::store::save(conn, &upload.image)?;
            data.set(&FormData::stored_name(&upload.field), &upload.image.hash);
            data.set(
                &FormData::stored_filename_name(&upload.field),
                upload.filename,
            );
        }
        Ok(self.errors)
    }
}

/// The form-level checks every model form gets, on the errors of a submitted form.
pub trait FormChecks {
    fn check_required(&mut self, fields: &[FieldSpec], data: &FormData);
    fn check_choices(&mut self, fields: &[FieldSpec], data: &FormData);
    fn check_null_characters(&mut self, fields: &[FieldSpec], data: &FormData);
    fn check_lengths(&mut self, fields: &[FieldSpec], data: &FormData);
}

impl FormChecks for FieldErrors {
    /// Requires a value for every required, editable field (but an image, whose value is
    /// the upload or the image kept from an earlier one).
    fn check_required(&mut self, fields: &[FieldSpec], data: &FormData) {
        let checked = |f: &&FieldSpec| {
            f.required && f.is_editable() && !matches!(f.widget, Widget::Image { .. })
        };
        for field in fields.iter().filter(checked) {
            if data.raw(field.name).trim().is_empty() && self.get(field.name).is_empty() {
                self.add(field.name, FieldErrors::REQUIRED);
            }
        }
    }

    /// Refuses a select's value that is not one of its choices (as Django's `ChoiceField`).
    fn check_choices(&mut self, fields: &[FieldSpec], data: &FormData) {
        for field in fields.iter().filter(|f| f.is_editable()) {
            let (Widget::Select(choices) | Widget::MultiSelect(choices)) = &field.widget else {
                continue;
            };
            let offered = |value: &str| choices.iter().any(|(choice, _)| choice == value);
            let sent = data.all(field.name);
            let stray = sent.iter().any(|v| !v.is_empty() && !offered(v));
            if stray && self.get(field.name).is_empty() {
                self.add(field.name, FieldErrors::INVALID_CHOICE);
            }
        }
    }

    /// Refuses NUL characters in any editable field (Django's
    /// `ProhibitNullCharactersValidator`): PostgreSQL cannot store them in text.
    fn check_null_characters(&mut self, fields: &[FieldSpec], data: &FormData) {
        for field in fields.iter().filter(|f| f.is_editable()) {
            // An image field also posts the hash of its stored image, looked up as text.
            let stored = FormData::stored_name(field.name);
            let mut values = data.all(field.name);
            values.extend(data.all(&stored));
            if values.iter().any(|v| v.contains('\0')) {
                self.add(field.name, "Null characters are not allowed.");
            }
        }
    }

    /// Refuses text longer than a text field allows.
    fn check_lengths(&mut self, fields: &[FieldSpec], data: &FormData) {
        for field in fields {
            if let Widget::Text { max_length } = field.widget
                && let Err(too_long) =
                    crate::validation::max_chars(&data.text(field.name), max_length)
            {
                self.add(field.name, too_long);
            }
        }
    }
}

/// The labels of fields whose values differ between two versions of an object.
pub fn changed_fields(fields: &[FieldSpec], before: &FormData, after: &FormData) -> Vec<String> {
    fields
        .iter()
        .filter(|f| f.is_editable() && !f.is_secret())
        .filter(|f| {
            let mut a = before.all(f.name);
            let mut b = after.all(f.name);
            a.sort_unstable();
            b.sort_unstable();
            a != b
        })
        .map(|f| f.label.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_fields_ignore_order_and_secrets() {
        let fields = vec![
            FieldSpec::new("groups", "Groups", Widget::MultiSelect(vec![])),
            FieldSpec::new("email", "Email address", Widget::Email),
            FieldSpec::new("password", "Password", Widget::Password),
        ];
        let mut before = FormData::default();
        before.set_all("groups", ["1".to_string(), "2".to_string()]);
        before.set("email", "a@example.org");
        let mut after = before.clone();
        after.set_all("groups", ["2".to_string(), "1".to_string()]);
        after.set("password", "new");
        assert!(changed_fields(&fields, &before, &after).is_empty());
        after.set("email", "b@example.org");
        assert_eq!(
            changed_fields(&fields, &before, &after),
            vec!["Email address"]
        );
    }

    #[test]
    fn required_and_length_checks() {
        let fields =
            vec![FieldSpec::new("name", "Name", Widget::Text { max_length: 3 }).required()];
        let mut errors = FieldErrors::default();
        errors.check_required(&fields, &FormData::default());
        assert_eq!(errors.get("name"), [FieldErrors::REQUIRED]);
        let mut errors = FieldErrors::default();
        errors.check_lengths(
            &fields,
            &FormData::new(vec![("name".into(), "abcd".into())]),
        );
        assert!(errors.get("name")[0].contains("at most 3"));
    }

    #[derive(serde::Deserialize, Debug)]
    struct NameAndTags {
        name: String,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[test]
    fn a_single_value_field_sent_twice_is_named() {
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let tags = FormData::new(vec![
            pair("name", "a"),
            pair("tags", "1"),
            pair("tags", "2"),
        ]);
        let form: NameAndTags = tags.to_form().unwrap();
        assert_eq!((form.name.as_str(), form.tags.len()), ("a", 2));
        let twice = FormData::new(vec![
            pair("tags", "1"),
            pair("name", "a"),
            pair("tags", "2"),
            pair("name", "b"),
        ]);
        let errors = twice.to_form::<NameAndTags>().unwrap_err();
        assert_eq!(
            errors.get(FieldErrors::NON_FIELD),
            ["The field “name” was sent more than once; it takes one value."]
        );
    }

    #[test]
    fn a_select_takes_only_its_choices() {
        let choices = vec![("1".to_string(), "One".to_string())];
        let fields = vec![
            FieldSpec::new("one", "One", Widget::Select(choices.clone())).required(),
            FieldSpec::new("many", "Many", Widget::MultiSelect(choices)),
        ];
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let mut errors = FieldErrors::default();
        errors.check_choices(
            &fields,
            &FormData::new(vec![pair("one", "1"), pair("many", "1")]),
        );
        assert!(errors.is_empty());
        let stray = FormData::new(vec![pair("one", "2"), pair("many", "1"), pair("many", "9")]);
        errors.check_choices(&fields, &stray);
        assert_eq!(errors.get("one"), [FieldErrors::INVALID_CHOICE]);
        assert_eq!(errors.get("many"), [FieldErrors::INVALID_CHOICE]);
        let mut errors = FieldErrors::default();
        errors.check_required(&fields, &FormData::default());
        assert_eq!(errors.get("one"), [FieldErrors::REQUIRED]);
        assert!(errors.get("many").is_empty());
    }
}
