//! The badge image pipeline: sniff, decode with limits, orient, square, resize, encode,
//! thumbnail. It knows nothing of HTTP or of badges, so the admin and the issuing backend
//! share it. Only its output, a clean PNG, is ever stored or served.

pub mod store;

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{
    DynamicImage, GenericImageView, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, RgbaImage,
};

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
    // Squaring and scaling do not depend on the orientation (both sides are treated
    // alike), so it is applied last, to at most `canonical_size` pixels a side.
    let (decoded, orientation) = decode(bytes, limits)?;
    let (width, height) = decoded.dimensions();
    let side = match square {
        _ if width == height => width,
        SquareMode::Refuse => return Err(ImageError::NotSquare),
        SquareMode::Pad => width.max(height),
        SquareMode::Crop => width.min(height),
    };
    if side < limits.min_size {
        return Err(ImageError::TooSmall {
            side,
            min: limits.min_size,
        });
    }
    // Crop first and pad last, so that scaling works on as few pixels as possible and
    // an opaque image stays RGB until the transparent padding needs an alpha channel.
    let cropped = if square == SquareMode::Crop && width != height {
        crop_centre(decoded, side)
    } else {
        decoded
    };
    let mut scaled = shrink_to_fit(cropped, limits.canonical_size);
    scaled.apply_orientation(orientation);
    let issued = pad_to_square(scaled);
    let png = encode_png(&issued, limits.max_output_bytes);
    if png.len() >= limits.max_output_bytes {
        return Err(ImageError::OutputTooLarge);
    }
    let thumbnail = shrink_to_fit(issued.clone(), limits.thumbnail_size);
    Ok(ProcessedImage {
        hash: crate::digest::sha256_hex(&png),
        width: issued.width(),
        height: issued.height(),
        thumbnail: encode_png(&thumbnail, usize::MAX),
        png,
    })
}

/// The format by content (never by name or declared type), checked against the accepted four.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes)
        .ok()
        .filter(|format| ACCEPTED.contains(format))
}

/// Decodes under hard limits, through one reader that has them from its first byte: the
/// declared size is checked from the header before any pixel is decoded, and the decoder's
/// allocation is capped, so a small file that claims huge dimensions costs almost nothing.
/// Returns the pixels as stored (8 bits per channel) and the orientation to display them in,
/// applied later on the scaled-down image. The first frame of an animation is taken.
fn decode(bytes: &[u8], limits: &Limits) -> Result<(DynamicImage, Orientation), ImageError> {
    match sniff(bytes).ok_or(ImageError::NotAnImage)? {
        ImageFormat::Png => decode_png(bytes, limits),
        format => decode_other(bytes, format, limits),
    }
}

/// What one decode may allocate: the largest accepted image at 16 bits per channel (what a
/// decoder may hold before reducing to 8), and a MiB for the rest.
fn max_alloc(limits: &Limits) -> u64 {
    u64::from(limits.max_dimension).pow(2) * 8 + (1 << 20)
}

fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), ImageError> {
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max: limits.max_dimension,
        });
    }
    Ok(())
}

/// PNGs are read with the png crate directly: image's reader inflates every iCCP and text
/// chunk (a 2 MB file can hold a colour profile that inflates to gigabytes), and the issued
/// PNG keeps neither, so they are skipped unread. 16-bit samples are reduced to 8 bits row
/// by row, so the largest accepted image never exists at full depth.
fn decode_png(bytes: &[u8], limits: &Limits) -> Result<(DynamicImage, Orientation), ImageError> {
    let bad = |_| ImageError::NotAnImage;
    let bytes_cap = usize::try_from(max_alloc(limits)).unwrap_or(usize::MAX);
    let mut decoder =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: bytes_cap });
    decoder.set_ignore_iccp_chunk(true);
    decoder.set_ignore_text_chunk(true);
    let header = decoder.read_header_info().map_err(bad)?;
    check_dimensions(header.width, header.height, limits)?;
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(bad)?;
    let mut pixels = vec![0; reader.output_buffer_size().ok_or(ImageError::NotAnImage)?];
    let frame = reader.next_frame(&mut pixels).map_err(bad)?;
    pixels.truncate(frame.buffer_size());
    let (width, height) = (frame.width, frame.height);
    let image = match frame.color_type {
        png::ColorType::Grayscale => {
            image::GrayImage::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8)
        }
        png::ColorType::GrayscaleAlpha => {
            image::GrayAlphaImage::from_raw(width, height, pixels).map(DynamicImage::ImageLumaA8)
        }
        png::ColorType::Rgb => {
            image::RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
        }
        png::ColorType::Rgba => {
            RgbaImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8)
        }
        // Palettes are expanded by the transformation above.
        png::ColorType::Indexed => None,
    }
    .ok_or(ImageError::NotAnImage)?;
    let orientation = reader
        .info()
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    Ok((image, orientation))
}

/// JPEG, GIF and WebP through image's readers, with the allocation cap set before the
/// header is read.
fn decode_other(
    bytes: &[u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<(DynamicImage, Orientation), ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(max_alloc(limits));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|_| ImageError::NotAnImage)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|_| ImageError::NotAnImage)?;
    Ok((image, orientation))
}

/// Keeps the centre `side`×`side` square, moving rows within the image's own buffer
/// rather than copying it (a decoded image can be 64 MiB).
fn crop_centre(image: DynamicImage, side: u32) -> DynamicImage {
    let (width, height) = image.dimensions();
    let (x, y) = ((width - side) / 2, (height - side) / 2);
    let channels = usize::from(image.color().channel_count());
    let crop = |mut raw: Vec<u8>| {
        let (row, stride) = (side as usize * channels, width as usize * channels);
        for r in 0..side as usize {
            let from = (y as usize + r) * stride + x as usize * channels;
            raw.copy_within(from..from + row, r * row);
        }
        raw.truncate(row * side as usize);
        raw
    };
    match image {
        DynamicImage::ImageRgb8(i) => DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(side, side, crop(i.into_raw())).expect("sized above"),
        ),
        DynamicImage::ImageRgba8(i) => DynamicImage::ImageRgba8(
            RgbaImage::from_raw(side, side, crop(i.into_raw())).expect("sized above"),
        ),
        other => other.crop_imm(x, y, side, side),
    }
}

/// Scales down (never up) so that the longer side is at most `max_side`, keeping the
/// aspect ratio. A large image is first reduced by averaging whole blocks of pixels (fast,
/// and free of aliasing), then brought to the exact size with a Lanczos filter.
fn shrink_to_fit(image: DynamicImage, max_side: u32) -> DynamicImage {
    let (width, height) = image.dimensions();
    let longer = width.max(height);
    if longer <= max_side {
        return image;
    }
    let scale = |v: u32| {
        ((u64::from(v) * u64::from(max_side) + u64::from(longer) / 2) / u64::from(longer)).max(1)
            as u32
    };
    let (target_w, target_h) = (scale(width), scale(height));
    let factor = (width / target_w).min(height / target_h);
    let image = if factor >= 2 {
        box_reduce(image, factor)
    } else {
        image
    };
    if image.dimensions() == (target_w, target_h) {
        return image;
    }
    image.resize_exact(target_w, target_h, FilterType::Lanczos3)
}

/// Averages `factor`×`factor` blocks (a remainder of fewer than `factor` pixels at the
/// right and bottom edges is dropped).
fn box_reduce(image: DynamicImage, factor: u32) -> DynamicImage {
    let (width, height) = (image.width() / factor, image.height() / factor);
    if image.color().has_alpha() {
        let source = image.into_rgba8();
        let raw = average_blocks(source.as_raw(), source.width(), 4, factor, width, height);
        DynamicImage::ImageRgba8(RgbaImage::from_raw(width, height, raw).expect("sized above"))
    } else {
        let source = image.into_rgb8();
        let raw = average_blocks(source.as_raw(), source.width(), 3, factor, width, height);
        DynamicImage::ImageRgb8(image::RgbImage::from_raw(width, height, raw).expect("sized above"))
    }
}

fn average_blocks(
    source: &[u8],
    source_width: u32,
    channels: usize,
    factor: u32,
    width: u32,
    height: u32,
) -> Vec<u8> {
    let (k, width) = (factor as usize, width as usize);
    let stride = source_width as usize * channels;
    let area = (k * k) as u32;
    let mut sums = vec![0u32; width * channels];
    let mut out = Vec::with_capacity(width * height as usize * channels);
    for out_y in 0..height as usize {
        sums.fill(0);
        for row in source.chunks_exact(stride).skip(out_y * k).take(k) {
            for (sum, block) in sums
                .chunks_exact_mut(channels)
                .zip(row.chunks_exact(k * channels))
            {
                for pixel in block.chunks_exact(channels) {
                    for (s, &v) in sum.iter_mut().zip(pixel) {
                        *s += u32::from(v);
                    }
                }
            }
        }
        out.extend(sums.iter().map(|&s| ((s + area / 2) / area) as u8));
    }
    out
}

/// Centres a non-square image on a transparent square.
fn pad_to_square(image: DynamicImage) -> DynamicImage {
    let (width, height) = image.dimensions();
    if width == height {
        return image;
    }
    let side = width.max(height);
    let mut canvas = RgbaImage::new(side, side);
    let x = i64::from((side - width) / 2);
    let y = i64::from((side - height) / 2);
    imageops::overlay(&mut canvas, &image.to_rgba8(), x, y);
    DynamicImage::ImageRgba8(canvas)
}

/// A PNG with only the chunks an image needs (no text, EXIF or `openbadges` chunks): RGB
/// when every pixel is opaque, RGBA otherwise. A fast deflate does for almost every badge;
/// only when its result reaches `size_goal` is the (much slower) best compression tried.
fn encode_png(image: &DynamicImage, size_goal: usize) -> Vec<u8> {
    let transparent = image.color().has_alpha() && image.to_rgba8().pixels().any(|p| p.0[3] < 255);
    let (raw, color) = if transparent {
        (image.to_rgba8().into_raw(), image::ExtendedColorType::Rgba8)
    } else {
        (image.to_rgb8().into_raw(), image::ExtendedColorType::Rgb8)
    };
    let encode = |compression| {
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, compression, PngFilter::Adaptive)
            .write_image(&raw, image.width(), image.height(), color)
            .expect("encoding an in-memory image to a Vec cannot fail");
        out
    };
    let fast = encode(CompressionType::Fast);
    if fast.len() < size_goal {
        return fast;
    }
    let best = encode(CompressionType::Best);
    if best.len() < fast.len() { best } else { fast }
}

/// True for a 64-character lower-case hex name, the only names stored images have.
pub fn is_hash(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An uploaded file's name as kept beside its image: the last path component, without
/// control characters, at most 255 characters.
pub fn clean_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    last.chars().filter(|c| !c.is_control()).take(255).collect()
}
