//! What badges look like and when they are due: badge images per course mode, badge
//! classes (frozen once created on the backend), and the course-event badge configuration.

pub mod classes;
pub mod event_config;
pub mod frozen;
pub mod images;
