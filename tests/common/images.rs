//! Test images, built in code.
#![allow(dead_code)]

use std::io::Cursor;

use image::{ImageEncoder, Rgba, RgbaImage};

pub fn solid(width: u32, height: u32, color: [u8; 4]) -> RgbaImage {
    RgbaImage::from_pixel(width, height, Rgba(color))
}

/// Left half `left`, right half `right`.
pub fn halves(width: u32, height: u32, left: [u8; 4], right: [u8; 4]) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, _| {
        Rgba(if x < width / 2 { left } else { right })
    })
}

/// Pixels no compressor can shrink (a 400×400 one encodes to well over 250 KB).
pub fn noise(width: u32, height: u32) -> RgbaImage {
    let mut state: u32 = 0x1234_5678;
    RgbaImage::from_fn(width, height, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state & 0xff) as u8
        };
        Rgba([next(), next(), next(), next() | 1])
    })
}

pub fn png(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    out
}

pub fn jpeg(image: &RgbaImage) -> Vec<u8> {
    let rgb = image::DynamicImage::ImageRgba8(image.clone()).into_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .write_image(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// A JPEG whose EXIF says "rotate 90° clockwise to display" (orientation 6).
pub fn jpeg_rotated(image: &RgbaImage) -> Vec<u8> {
    let plain = jpeg(image);
    let tiff: [u8; 26] = [
        b'I', b'I', 0x2a, 0, 8, 0, 0, 0, // little-endian TIFF header, first IFD at 8
        1, 0, // one entry
        0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, // Orientation (0x0112), SHORT, 1, value 6
        0, 0, 0, 0, // no next IFD
    ];
    let mut app1 = vec![0xff, 0xe1];
    let length = (2 + 6 + tiff.len()) as u16;
    app1.extend_from_slice(&length.to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

/// An animated GIF whose first frame is `first` and second `second`.
pub fn gif(first: &RgbaImage, second: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
        encoder
            .encode_frames(vec![
                image::Frame::new(first.clone()),
                image::Frame::new(second.clone()),
            ])
            .unwrap();
    }
    out
}

pub fn webp(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A PNG with a text chunk and an `openbadges` iTXt chunk before IEND.
pub fn png_with_metadata(image: &RgbaImage) -> Vec<u8> {
    let plain = png(image);
    let iend = plain.len() - 12;
    let mut out = plain[..iend].to_vec();
    out.extend(chunk(b"tEXt", b"Comment\0secret location 51.5N 0.1W"));
    out.extend(chunk(
        b"iTXt",
        b"openbadges\0\0\0\0\0https://old.example/assertion/1",
    ));
    out.extend_from_slice(&plain[iend..]);
    out
}

/// A few hundred bytes that claim a `width`×`height` PNG.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    out.extend(chunk(b"IHDR", &ihdr));
    // A zlib stream of zeros: it would inflate to the whole claimed image.
    out.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0x00, 0x00],
    ));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// The chunk types of a PNG, in order.
pub fn chunk_types(png: &[u8]) -> Vec<String> {
    let mut types = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        types.push(String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned());
        at += 12 + length;
    }
    types
}

pub fn decode(png: &[u8]) -> RgbaImage {
    image::ImageReader::new(Cursor::new(png))
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap()
        .into_rgba8()
}
