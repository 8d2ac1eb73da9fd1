//! Test images, built in code.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use image::{ImageBuffer, ImageEncoder, Pixel, PixelWithColorType, Rgba, RgbaImage};

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

/// Writes `image` with `encoder`, in the image's own color type.
pub fn encode<P>(encoder: impl ImageEncoder, image: &ImageBuffer<P, Vec<u8>>)
where
    P: Pixel<Subpixel = u8> + PixelWithColorType,
{
    let (width, height) = image.dimensions();
    encoder
        .write_image(image.as_raw(), width, height, P::COLOR_TYPE)
        .unwrap();
}

pub fn png(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    encode(image::codecs::png::PngEncoder::new(&mut out), image);
    out
}

pub fn jpeg(image: &RgbaImage) -> Vec<u8> {
    let rgb = image::DynamicImage::ImageRgba8(image.clone()).into_rgb8();
    let mut out = Vec::new();
    encode(
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95),
        &rgb,
    );
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
    encode(
        image::codecs::webp::WebPEncoder::new_lossless(&mut out),
        image,
    );
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

/// A `width`×`height` PNG of one colour at 16 bits per channel, written row by row (the
/// largest accepted, 4096², is about 130 KB: the most a file of one colour compresses).
pub fn png16(width: u32, height: u32, color: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Sixteen);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().unwrap();
    let pixel: Vec<u8> = color.iter().flat_map(|c| c.to_be_bytes()).collect();
    let row = pixel.repeat(width as usize);
    let mut stream = writer.stream_writer().unwrap();
    for _ in 0..height {
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    out
}

/// Bits in DEFLATE's order: numbers least significant bit first, Huffman codes most
/// significant bit first.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    byte: u8,
    used: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.byte |= (((value >> i) & 1) as u8) << self.used;
            self.used += 1;
            if self.used == 8 {
                self.out.push(self.byte);
                (self.byte, self.used) = (0, 0);
            }
        }
    }

    fn code(&mut self, code: u32, length: u32) {
        for i in (0..length).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    fn zeros(&mut self, mut count: usize) {
        while count > 0 && self.used != 0 {
            self.put(0, 1);
            count -= 1;
        }
        self.out.resize(self.out.len() + count / 8, 0);
        self.put(0, (count % 8) as u32);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push(self.byte);
        }
        self.out
    }
}

/// A zlib stream of at least `size` zeros in about `size / 1032` bytes (DEFLATE's best
/// ratio): one dynamic-Huffman block in which a literal zero is followed by matches of 258
/// bytes at distance 1, each coded in two bits, both 0 — so the body is zero bytes.
pub fn zlib_zeros(size: usize) -> Vec<u8> {
    let matches = size.div_ceil(258);
    let mut bits = Bits::default();
    bits.put(1, 1); // the last block
    bits.put(2, 2); // dynamic Huffman codes
    bits.put(29, 5); // 286 literal/length codes
    bits.put(1, 5); // 2 distance codes
    bits.put(14, 4); // 18 code length codes, in DEFLATE's order:
    // 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1 — only 18 ("0"), 2 ("11") and 1 ("10").
    for length in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2] {
        bits.put(length, 3);
    }
    bits.code(0b11, 2); // literal 0: length 2
    bits.code(0, 1); // 138 zeros (literals 1–138)
    bits.put(127, 7);
    bits.code(0, 1); // 117 zeros (139–255)
    bits.put(106, 7);
    bits.code(0b11, 2); // end of block: length 2
    bits.code(0, 1); // 28 zeros (257–284)
    bits.put(17, 7);
    bits.code(0b10, 2); // length 258 (code 285): length 1, so its code is "0"
    bits.code(0b10, 2); // distance 1: length 1, "0"
    bits.code(0b10, 2); // distance 2 (unused): length 1, "1"
    bits.code(0b10, 2); // the literal 0 ("10")
    bits.zeros(matches * 2);
    bits.code(0b11, 2); // end of block
    let mut out = vec![0x78, 0x01];
    out.extend(bits.finish());
    let total = (1 + 258 * matches) as u64;
    let adler = ((total % 65521) << 16) | 1;
    out.extend_from_slice(&(adler as u32).to_be_bytes());
    out
}

/// A PNG of `image` with, right after IHDR, a `kind` chunk (`iCCP`, `zTXt` or `iTXt`) whose
/// compressed text or profile inflates to `size` zeros or more.
pub fn png_with_compressed_chunk(image: &RgbaImage, kind: &[u8; 4], size: usize) -> Vec<u8> {
    let plain = png(image);
    let after_ihdr = 8 + 12 + 13;
    let mut data = match kind {
        b"iCCP" => b"ICC profile\0\0".to_vec(),
        b"zTXt" => b"Comment\0\0".to_vec(),
        b"iTXt" => b"Comment\0\x01\0\0\0".to_vec(),
        _ => panic!("not a compressed chunk"),
    };
    data.extend(zlib_zeros(size));
    let mut out = plain[..after_ihdr].to_vec();
    out.extend(chunk(kind, &data));
    out.extend_from_slice(&plain[after_ihdr..]);
    out
}

/// A GIF whose 64×64 screen holds a first frame that declares itself 65535×65535.
pub fn gif_with_oversized_frame() -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&[64, 0, 64, 0, 0x80, 0, 0]); // screen, a 2-colour palette
    out.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    out.extend_from_slice(&[0x2c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0]); // the frame
    out.extend_from_slice(&[2, 2, 0x4c, 0x01, 0]); // a few LZW codes
    out.push(0x3b);
    out
}
