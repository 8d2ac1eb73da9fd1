//! The badge image pipeline on realistic uploads: `cargo bench --bench images`.
//!
//! Each case runs the whole pipeline: sniff, decode under limits, square, resize to
//! 400×400, encode an optimised PNG, make the thumbnail.

use std::hint::black_box;

use accolade::images::{Limits, SquareMode, process};
use criterion::{Criterion, criterion_group, criterion_main};
use image::{Rgb, RgbImage};

#[path = "../tests/common/images.rs"]
mod samples;

/// Smooth gradients with fine texture, like a photograph (no solid areas for the encoders
/// to shortcut, no pure noise that no real upload has).
fn photo_like(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let wave = ((fx * 37.0).sin() * (fy * 23.0).cos() * 40.0) as i32;
        let grain = ((x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27) as i32;
        let channel = |base: f32| (base * 255.0) as i32 + wave + grain;
        let clamp = |v: i32| v.clamp(0, 255) as u8;
        Rgb([
            clamp(channel(fx)),
            clamp(channel(fy)),
            clamp(channel(1.0 - fx * fy)),
        ])
    })
}

fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    samples::encode(image::codecs::png::PngEncoder::new(&mut out), image);
    out
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    samples::encode(encoder, image);
    out
}

/// A PNG header claiming 20000×20000, in under a hundred bytes.
fn hostile_png() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

fn pipeline(c: &mut Criterion) {
    let limits = Limits {
        max_upload_bytes: 64 * 1024 * 1024,
        ..Limits::default()
    };
    let png_1024 = png(&photo_like(1024, 1024));
    let jpeg_3000 = jpeg(&photo_like(3000, 3000));
    let hostile = hostile_png();
    let mut group = c.benchmark_group("image pipeline");
    group.sample_size(20);
    group.bench_function("1024x1024 PNG to 400x400", |b| {
        b.iter(|| process(black_box(&png_1024), SquareMode::Refuse, &limits).unwrap())
    });
    group.bench_function("3000x3000 JPEG to 400x400", |b| {
        b.iter(|| process(black_box(&jpeg_3000), SquareMode::Refuse, &limits).unwrap())
    });
    group.bench_function("hostile 20000x20000 PNG refused", |b| {
        b.iter(|| process(black_box(&hostile), SquareMode::Refuse, &limits).unwrap_err())
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
