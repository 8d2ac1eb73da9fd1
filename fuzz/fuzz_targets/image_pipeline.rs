//! Any bytes through the badge image pipeline: an error is fine, a panic, a hang or an
//! allocation beyond the limits is not. The first byte picks how non-square images are
//! handled; limits are small so that each input runs fast.
#![no_main]

use accolade::images::{Limits, SquareMode, process};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let square = [SquareMode::Refuse, SquareMode::Pad, SquareMode::Crop][usize::from(mode % 3)];
    let limits = Limits {
        canonical_size: 96,
        min_size: 16,
        max_dimension: 512,
        thumbnail_size: 16,
        ..Limits::default()
    };
    if let Ok(image) = process(bytes, square, &limits) {
        assert_eq!(image.width, image.height, "issued images are square");
        assert!(image.png.len() <= limits.max_output_bytes);
        assert!(image.png.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
});
