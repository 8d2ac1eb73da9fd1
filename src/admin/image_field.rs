//! Image fields: a file upload that runs through the image pipeline and is kept by content
//! hash (see [`Widget::Image`]), with the "If the image is not square" choice beside it.
//! Any model form with an image uses these; the model says only which field it is.

use super::form::{
    FieldErrors, FieldSpec, FormData, ProcessedUpload, ProcessedUploads, Upload, Widget,
};
use super::list::Cell;
use crate::images::{self, ImageError, Limits, SquareMode};

/// The form field that chooses how a non-square upload is made square.
pub const SQUARE_FIELD: &str = "make_square";

/// An image field (its current image shown, kept across a failed save).
pub fn image_field(name: &'static str, label: &'static str) -> FieldSpec {
    FieldSpec::new(
        name,
        label,
        Widget::Image {
            url_prefix: crate::urls::BADGE_IMAGES,
        },
    )
}

/// The form's "If the image is not square" choice.
pub fn square_field() -> FieldSpec {
    FieldSpec::new(
        SQUARE_FIELD,
        "If the image is not square",
        Widget::Select(vec![
            ("pad".into(), "Pad to square with transparency".into()),
            ("crop".into(), "Crop to the centre square".into()),
        ]),
    )
    .help("Leave empty to refuse images that are not square.")
}

/// A changelist cell with a stored image's thumbnail.
pub fn thumbnail(hash: &str, alt: impl Into<String>) -> Cell {
    Cell::Image {
        url: crate::urls::badge_thumbnail(hash),
        alt: alt.into(),
    }
}

/// Runs an image field's upload through the pipeline, made square as the form's
/// [`SQUARE_FIELD`] asks, for the generic views to store (a model's
/// `process_uploads`). No upload is no change; a refused one is the field's error.
pub fn process_upload(data: &FormData, field: &str, limits: &Limits) -> ProcessedUploads {
    let mut processed = ProcessedUploads::default();
    let Some(square) = SquareMode::parse(&data.text(SQUARE_FIELD)) else {
        processed
            .errors
            .add(SQUARE_FIELD, FieldErrors::INVALID_CHOICE);
        return processed;
    };
    match data.file(field) {
        None => {}
        Some(Upload::TooLarge { limit, .. }) => {
            let limit = *limit;
            processed
                .errors
                .add(field, ImageError::UploadTooLarge { limit }.to_string());
        }
        Some(Upload::File { filename, bytes }) => match images::process(bytes, square, limits) {
            Ok(image) => processed.images.push(ProcessedUpload {
                field: field.to_string(),
                filename: images::clean_filename(filename),
                image,
            }),
            Err(problem) => processed.errors.add(field, problem.to_string()),
        },
    }
    processed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_their_last_component_without_control_characters() {
        assert_eq!(
            images::clean_filename(r"C:\Users\me\badge.png"),
            "badge.png"
        );
        assert_eq!(images::clean_filename("../../etc/a\u{7}b.png"), "ab.png");
        assert_eq!(images::clean_filename(&"x".repeat(300)).len(), 255);
    }

    #[test]
    fn an_unknown_square_choice_is_the_choice_field_error() {
        let data = FormData::new(vec![(SQUARE_FIELD.into(), "stretch".into())]);
        let processed = process_upload(&data, "icon", &Limits::default());
        assert_eq!(
            processed.errors.get(SQUARE_FIELD),
            [FieldErrors::INVALID_CHOICE]
        );
        assert!(processed.images.is_empty());
    }
}
