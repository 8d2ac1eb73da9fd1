//! The image pipeline, without HTTP: every format, every refusal, every transformation.

#[path = "common/images.rs"]
mod samples;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;

use accolade::images::{ImageError, Limits, SquareMode, process};
use samples::*;

/// Counts this thread's live allocation and its peak, so one test can bound the memory a
/// hostile input costs while other tests run on other threads.
struct CountingAllocator;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|live| {
            live.set(live.get() + layout.size());
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
        });
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const RED: [u8; 4] = [220, 30, 30, 255];
const BLUE: [u8; 4] = [30, 30, 220, 255];

fn limits() -> Limits {
    Limits::default()
}

fn is_red(p: &image::Rgba<u8>) -> bool {
    p.0[0] > 150 && p.0[2] < 100
}

fn is_blue(p: &image::Rgba<u8>) -> bool {
    p.0[2] > 150 && p.0[0] < 100
}

#[test]
fn every_accepted_format_becomes_a_clean_png() {
    let source = solid(128, 128, RED);
    for (name, bytes) in [
        ("png", png(&source)),
        ("jpeg", jpeg(&source)),
        ("gif", gif(&source, &source)),
        ("webp", webp(&source)),
    ] {
        let out = process(&bytes, SquareMode::Refuse, &limits())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(out.png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        assert_eq!(
            (out.width, out.height),
            (128, 128),
            "{name}: never upscaled"
        );
        assert!(is_red(decode(&out.png).get_pixel(64, 64)), "{name}");
        assert_eq!(out.hash, accolade::digest::sha256_hex(&out.png));
        assert_eq!(
            decode(&out.thumbnail).dimensions(),
            (64, 64),
            "{name}: thumbnail"
        );
    }
}

#[test]
fn the_first_frame_of_an_animation_is_taken() {
    let out = process(
        &gif(&solid(100, 100, RED), &solid(100, 100, BLUE)),
        SquareMode::Refuse,
        &limits(),
    )
    .unwrap();
    assert!(is_red(decode(&out.png).get_pixel(50, 50)));
}

#[test]
fn jpeg_exif_orientation_is_applied() {
    // Stored wide (red left, blue right); displayed rotated clockwise: red on top.
    let bytes = jpeg_rotated(&halves(200, 100, RED, BLUE));
    let out = process(&bytes, SquareMode::Crop, &limits()).unwrap();
    let image = decode(&out.png);
    assert_eq!(image.dimensions(), (100, 100));
    assert!(
        is_red(image.get_pixel(95, 5)),
        "top right is red once rotated"
    );
    assert!(
        is_blue(image.get_pixel(5, 95)),
        "bottom left is blue once rotated"
    );
}

#[test]
fn non_square_images_are_refused_padded_or_cropped() {
    let wide = png(&halves(300, 100, RED, BLUE));
    assert_eq!(
        process(&wide, SquareMode::Refuse, &limits()).unwrap_err(),
        ImageError::NotSquare
    );
    assert_eq!(
        ImageError::NotSquare.to_string(),
        "The badge image must be square."
    );

    let padded = decode(&process(&wide, SquareMode::Pad, &limits()).unwrap().png);
    assert_eq!(padded.dimensions(), (300, 300));
    assert_eq!(padded.get_pixel(5, 5).0[3], 0, "the padding is transparent");
    assert_eq!(padded.get_pixel(5, 295).0[3], 0);
    assert!(is_red(padded.get_pixel(5, 150)) && is_blue(padded.get_pixel(295, 150)));

    let cropped = decode(&process(&wide, SquareMode::Crop, &limits()).unwrap().png);
    assert_eq!(cropped.dimensions(), (100, 100));
    assert!(
        is_red(cropped.get_pixel(10, 50)),
        "the centre third starts red"
    );
    assert!(is_blue(cropped.get_pixel(90, 50)), "and ends blue");
    assert_eq!(
        cropped.get_pixel(50, 0).0[3],
        255,
        "no padding when cropped"
    );
}

#[test]
fn large_images_are_scaled_down_small_ones_refused() {
    let big = process(
        &png(&solid(1000, 1000, BLUE)),
        SquareMode::Refuse,
        &limits(),
    )
    .unwrap();
    assert_eq!((big.width, big.height), (400, 400));
    assert!(is_blue(decode(&big.png).get_pixel(200, 200)));

    let custom = Limits {
        canonical_size: 256,
        ..limits()
    };
    assert_eq!(
        process(&png(&solid(1000, 1000, BLUE)), SquareMode::Refuse, &custom)
            .unwrap()
            .width,
        256
    );

    let tiny = process(&png(&solid(32, 32, BLUE)), SquareMode::Refuse, &limits()).unwrap_err();
    assert_eq!(tiny, ImageError::TooSmall { side: 32, min: 64 });
}

#[test]
fn anything_but_an_image_is_refused_with_django_s_message() {
    let valid = png(&solid(100, 100, RED));
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>"#;
    for (name, bytes) in [
        ("text", b"this is not an image at all".to_vec()),
        ("svg", svg.to_vec()),
        ("truncated png", valid[..valid.len() / 2].to_vec()),
        ("empty", Vec::new()),
        (
            "bmp",
            b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00".to_vec(),
        ),
    ] {
        let err = process(&bytes, SquareMode::Pad, &limits()).unwrap_err();
        assert_eq!(err, ImageError::NotAnImage, "{name}");
    }
    assert_eq!(
        ImageError::NotAnImage.to_string(),
        "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
    );
}

#[test]
fn metadata_never_survives() {
    let bytes = png_with_metadata(&solid(100, 100, RED));
    assert!(chunk_types(&bytes).contains(&"tEXt".to_string()));
    let out = process(&bytes, SquareMode::Refuse, &limits()).unwrap();
    for chunk in chunk_types(&out.png) {
        assert!(
            ["IHDR", "PLTE", "tRNS", "IDAT", "IEND"].contains(&chunk.as_str()),
            "{chunk} kept"
        );
    }
    let jpeg_out = process(
        &jpeg_rotated(&solid(100, 100, RED)),
        SquareMode::Refuse,
        &limits(),
    )
    .unwrap();
    assert!(
        !jpeg_out
            .png
            .windows(4)
            .any(|w| w == b"Exif" || w == b"eXIf")
    );
}

#[test]
fn an_output_of_250_kb_or_more_is_refused() {
    let err = process(&png(&noise(400, 400)), SquareMode::Refuse, &limits()).unwrap_err();
    assert_eq!(err, ImageError::OutputTooLarge);
    assert_eq!(
        err.to_string(),
        "The badge image file size must be less than 250KB."
    );
}

#[test]
fn uploads_over_the_limit_are_refused_before_decoding() {
    let limits = Limits {
        max_upload_bytes: 1000,
        ..limits()
    };
    let big = vec![0u8; 1001];
    assert_eq!(
        process(&big, SquareMode::Refuse, &limits).unwrap_err(),
        ImageError::UploadTooLarge { limit: 1000 }
    );
}

#[test]
fn a_small_file_claiming_huge_dimensions_costs_almost_nothing() {
    let bomb = png_claiming(20_000, 20_000);
    assert!(bomb.len() < 4096, "a few hundred bytes");
    PEAK.with(|p| p.set(0));
    let live_before = LIVE.with(Cell::get);
    let err = process(&bomb, SquareMode::Refuse, &limits()).unwrap_err();
    let peak = PEAK.with(Cell::get).saturating_sub(live_before);
    assert_eq!(
        err,
        ImageError::TooManyPixels {
            width: 20_000,
            height: 20_000,
            max: 4096
        }
    );
    assert!(err.to_string().contains("20000×20000"));
    assert!(peak < 16 * 1024 * 1024, "peak allocation {peak} bytes");
    println!("hostile 20000×20000 PNG refused with a peak allocation of {peak} bytes");
}

/// Runs `process` and returns its result with the peak allocation on this thread beyond
/// what was live before, in bytes.
fn process_measured(
    bytes: &[u8],
    square: SquareMode,
) -> (Result<accolade::images::ProcessedImage, ImageError>, usize) {
    PEAK.with(|p| p.set(0));
    let live_before = LIVE.with(Cell::get);
    let result = process(bytes, square, &limits());
    (result, PEAK.with(Cell::get).saturating_sub(live_before))
}

#[test]
fn the_bomb_builder_makes_a_valid_stream() {
    let bytes = png_with_compressed_chunk(&solid(64, 64, RED), b"iCCP", 100_000);
    let mut decoder = png::Decoder::new(Cursor::new(&bytes));
    decoder.set_ignore_iccp_chunk(false);
    let reader = decoder.read_info().unwrap();
    let profile = reader.info().icc_profile.as_deref().expect("a profile");
    assert!(profile.len() >= 100_000 && profile.iter().all(|&b| b == 0));
}

#[test]
fn compressed_chunks_that_are_never_kept_are_never_inflated() {
    // About 1 MB each, inflating to 1 GiB: within the upload limit.
    for kind in [b"iCCP", b"zTXt", b"iTXt"] {
        let name = String::from_utf8_lossy(kind);
        let bomb = png_with_compressed_chunk(&solid(64, 64, RED), kind, 1 << 30);
        assert!(
            bomb.len() < limits().max_upload_bytes,
            "{name}: {}",
            bomb.len()
        );
        let (result, peak) = process_measured(&bomb, SquareMode::Refuse);
        println!(
            "{name} chunk of {} bytes inflating to 1 GiB: peak allocation {peak} bytes",
            bomb.len()
        );
        let out = result.unwrap_or_else(|e| panic!("{name}: the image itself is fine: {e}"));
        assert!(!chunk_types(&out.png).contains(&name.to_string()));
        assert!(
            peak < 16 * 1024 * 1024,
            "{name}: peak allocation {peak} bytes"
        );
    }
}

#[test]
fn the_largest_accepted_image_is_decoded_at_8_bits_without_copies() {
    let bytes = png16(4096, 4096, [50_000, 9_000, 9_000, 65_535]);
    let (result, peak) = process_measured(&bytes, SquareMode::Refuse);
    println!(
        "4096×4096 16-bit RGBA PNG ({} bytes): peak allocation {} MiB",
        bytes.len(),
        peak >> 20
    );
    let out = result.unwrap();
    assert_eq!((out.width, out.height), (400, 400));
    assert!(is_red(decode(&out.png).get_pixel(200, 200)));
    // The 8-bit pixels are 64 MiB; at 16 bits, or converted by copy, it was 187 MiB.
    assert!(
        peak < 80 * 1024 * 1024,
        "peak allocation {} MiB for the largest accepted image",
        peak >> 20
    );
}

#[test]
fn other_formats_are_decoded_under_the_same_limits() {
    let (result, peak) = process_measured(&gif_with_oversized_frame(), SquareMode::Refuse);
    assert_eq!(result.unwrap_err(), ImageError::NotAnImage);
    assert!(peak < 16 * 1024 * 1024, "gif: peak allocation {peak} bytes");
}

#[test]
fn square_modes_parse_from_the_form() {
    assert_eq!(SquareMode::parse(""), Some(SquareMode::Refuse));
    assert_eq!(SquareMode::parse("pad"), Some(SquareMode::Pad));
    assert_eq!(SquareMode::parse("crop"), Some(SquareMode::Crop));
    assert_eq!(SquareMode::parse("stretch"), None);
}
