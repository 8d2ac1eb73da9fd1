//! The generic admin: what Django's `ModelAdmin` declares, and the machinery every model
//! page shares (lists, forms, history). It knows nothing of badges or users: models
//! describe themselves through [`ModelAdmin`] and register in an [`AdminSite`].

pub mod form;
pub mod history;
pub mod list;
pub mod model;
pub mod site;

pub use form::{
    FieldErrors, FieldSpec, FormData, ProcessedUpload, ProcessedUploads, Upload, Widget,
};
pub use list::{Cell, Column, FilterSpec, ListPage, ListQuery, Row};
pub use model::{
    ActionOutcome, ActionSpec, Actor, DeletedObject, ModelAdmin, ModelInfo, SaveError, Saved,
    ids_as_i64,
};
pub use site::AdminSite;
