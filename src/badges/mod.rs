//! Badge images per course mode, and (as the project grows) badge classes, assertions and
//! event badge configuration.

pub mod image_admin;
pub mod images;
