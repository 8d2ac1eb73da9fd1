//! Badge images per course mode, and (as the project grows) badge classes, assertions and
//! event badge configuration.

pub mod class_admin;
pub mod classes;
pub mod frozen;
pub mod image_admin;
pub mod images;
