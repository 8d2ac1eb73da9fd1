//! The badge image pipeline: sniff, decode with limits, orient, square, resize, encode,
//! thumbnail. It knows nothing of HTTP or of badges, so the admin and the issuing backend
//! share it. Only its output, a clean PNG, is ever stored or served.

pub mod store;

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, RgbaImage};
use sha2::{Digest, Sha256};

/// The bounds every upload is held to.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest upload read, in bytes.
    pub max_upload_bytes: usize,
    /// Side of the issued image; larger images are scaled down to it, smaller ones kept.
    pub canonical_size: u32,
    /// Smallest side accepted.
    pub min_size: u32,
    /// Largest width or height a file may declare; checked before any pixel is decoded.
    pub max_dimension: u32,
    /// The encoded PNG must be smaller than this (Open edX's 250 KB, room left for baking).
    pub max_output_bytes: usize,
    /// Side of the list thumbnail.
    pub thumbnail_size: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_upload_bytes: 2 * 1024 * 1024,
            canonical_size: 400,
            min_size: 64,
            max_dimension: 4096,
            max_output_bytes: 250 * 1024,
            thumbnail_size: 64,
        }
    }
}

/// What to do with an image that is not square.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SquareMode {
    /// Refuse it ("The badge image must be square.").
    #[default]
    Refuse,
    /// Centre it on a transparent square (what Badgr does).
    Pad,
    /// Keep the centre square.
    Crop,
}

impl SquareMode {
    /// The form value: empty, `pad` or `crop`.
    pub fn parse(value: &str) -> Option<SquareMode> {
        match value {
            "" => Some(SquareMode::Refuse),
            "pad" => Some(SquareMode::Pad),
            "crop" => Some(SquareMode::Crop),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("The file is too large: uploads may be at most {} KiB.", .limit / 1024)]
    UploadTooLarge { limit: usize },
    #[error(
        "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
    )]
    NotAnImage,
    #[error(
        "The image is too large: at most {max}×{max} pixels are accepted, and this one is {width}×{height}."
    )]
    TooManyPixels { width: u32, height: u32, max: u32 },
    #[error("The badge image must be square.")]
    NotSquare,
    #[error("The badge image must be at least {min}×{min} pixels; this one is {side}×{side}.")]
    TooSmall { side: u32, min: u32 },
    #[error("The badge image file size must be less than 250KB.")]
    OutputTooLarge,
}

/// A processed badge image: the PNG that is stored and served, and its thumbnail.
#[derive(Clone, Debug)]
pub struct ProcessedImage {
    pub png: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of `png`, lower-case hex: the image's name wherever it is stored.
    pub hash: String,
}

const ACCEPTED: [ImageFormat; 4] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Gif,
    ImageFormat::WebP,
];

/// Runs an upload through every step, stopping at the first failure.
pub fn process(
    bytes: &[u8],
    square: SquareMode,
    limits: &Limits,
) -> Result<ProcessedImage, ImageError> {
    if bytes.len() > limits.max_upload_bytes {
        return Err(ImageError::UploadTooLarge {
            limit: limits.max_upload_bytes,
        });
    }
    let decoded = decode(bytes, limits)?;
    let squared = make_square(decoded, square)?;
    let side = squared.width();
    if side < limits.min_size {
        return Err(ImageError::TooSmall {
            side,
            min: limits.min_size,
        });
    }
    let issued = if side > limits.canonical_size {
        downscale(&squared, limits.canonical_size)
    } else {
        squared
    };
    let png = encode_png(&issued);
    if png.len() >= limits.max_output_bytes {
        return Err(ImageError::OutputTooLarge);
    }
    let thumbnail = encode_png(&downscale(
        &issued,
        limits.thumbnail_size.min(issued.width()),
    ));
    Ok(ProcessedImage {
        hash: sha256_hex(&png),
        width: issued.width(),
        height: issued.height(),
        png,
        thumbnail,
    })
}

/// The format by content (never by name or declared type), checked against the accepted four.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes)
        .ok()
        .filter(|format| ACCEPTED.contains(format))
}

/// Decodes under hard limits: the declared size is checked from the header before any pixel
/// is decoded, and the decoder's allocation is capped, so a small file that claims huge
/// dimensions costs almost nothing. The first frame of an animation is taken; EXIF
/// orientation is applied.
fn decode(bytes: &[u8], limits: &Limits) -> Result<RgbaImage, ImageError> {
    let format = sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| ImageError::NotAnImage)?;
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max: limits.max_dimension,
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_dimension);
    decoder_limits.max_image_height = Some(limits.max_dimension);
    // Room for the largest accepted image at 16 bits per channel, and no more.
    decoder_limits.max_alloc = Some(u64::from(limits.max_dimension).pow(2) * 8 + (1 << 20));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|_| ImageError::NotAnImage)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| ImageError::NotAnImage)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgba8())
}

fn make_square(image: RgbaImage, mode: SquareMode) -> Result<RgbaImage, ImageError> {
    let (width, height) = image.dimensions();
    if width == height {
        return Ok(image);
    }
    match mode {
        SquareMode::Refuse => Err(ImageError::NotSquare),
        SquareMode::Pad => {
            let side = width.max(height);
            let mut canvas = RgbaImage::new(side, side);
            let x = i64::from((side - width) / 2);
            let y = i64::from((side - height) / 2);
            imageops::overlay(&mut canvas, &image, x, y);
            Ok(canvas)
        }
        SquareMode::Crop => {
            let side = width.min(height);
            let x = (width - side) / 2;
            let y = (height - side) / 2;
            Ok(imageops::crop_imm(&image, x, y, side, side).to_image())
        }
    }
}

/// Scales a square image down to `side` with a Lanczos filter. Large images are first
/// reduced by plain averaging to twice the target, which keeps the quality of the final
/// filter at a fraction of its cost.
fn downscale(image: &RgbaImage, side: u32) -> RgbaImage {
    if image.width() <= side {
        return image.clone();
    }
    let intermediate = side.saturating_mul(2);
    if image.width() > intermediate * 2 {
        let reduced = imageops::thumbnail(image, intermediate, intermediate);
        return imageops::resize(&reduced, side, side, FilterType::Lanczos3);
    }
    imageops::resize(image, side, side, FilterType::Lanczos3)
}

/// A PNG with only the chunks an image needs (no text, EXIF or `openbadges` chunks): RGB
/// when every pixel is opaque, RGBA otherwise, at the best compression.
fn encode_png(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut out, CompressionType::Best, PngFilter::Adaptive);
    let opaque = image.pixels().all(|p| p.0[3] == 255);
    let result = if opaque {
        let rgb = DynamicImage::ImageRgba8(image.clone()).into_rgb8();
        encoder.write_image(
            rgb.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
    } else {
        encoder.write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgba8,
        )
    };
    result.expect("encoding an in-memory image to a Vec cannot fail");
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True for a 64-character lower-case hex name, the only names stored images have.
pub fn is_hash(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
