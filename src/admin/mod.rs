//! The generic admin: what Django's `ModelAdmin` declares, and the machinery every model
//! page shares (lists, forms, history). It knows nothing of badges or users: models
//! describe themselves through [`ModelAdmin`] and register in an [`AdminSite`].

pub mod form;
pub mod history;
pub mod image_field;
pub mod list;
pub mod model;
pub mod site;

pub use form::{
    Choices, FieldErrors, FieldSpec, FormChecks, FormData, ProcessedUpload, ProcessedUploads,
    Upload, Widget, checkbox, choices_of, parse_ids,
};
pub use list::{Cell, Column, Filter, FilterSpec, ListPage, ListQuery, ListSource, Row};
pub use model::{
    ActionOutcome, ActionSpec, Actor, AdminMeta, DeletedObject, Deletion, DynModelAdmin, Loaded,
    ModelAdmin, ModelInfo, Request, SaveError, SaveResult, Saved,
};
pub use site::AdminSite;
