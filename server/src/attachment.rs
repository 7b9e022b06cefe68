//! An uploaded file made safe to keep and to show.
//!
//! Owns: finding a file's type from its bytes (never from its name or what the browser
//! said; the `infer` crate's signatures, and UTF-8 text), the allowlist
//! ([`app::protocol::IMAGE_TYPES`] and [`app::protocol::DOCUMENT_TYPES`]), and images decoded
//! and encoded again (the `image` crate): turned upright as their EXIF orientation says,
//! then written afresh, so that nothing of the original file's metadata survives (no
//! location, no camera, no comments), with a thumbnail.
//! Must not: store anything or decide who may upload (see `transport::files`).

use std::io::Cursor;

use app::protocol::{Problem, Size, DOCUMENT_TYPES, IMAGE_TYPES, THUMB_MAX_PX};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The largest width or height of an image taken (a small file can claim a huge picture:
/// decoding it would take gigabytes).
const MAX_SIDE_PX: u32 = 12_000;
/// Most memory one image's decoding may take.
const MAX_DECODE_BYTES: u64 = 400 * 1024 * 1024;
/// JPEG quality of re-encoded photos and thumbnails.
const JPEG_QUALITY: u8 = 85;

/// A file ready to store.
#[derive(Debug)]
pub struct Prepared {
    /// Its type, as found (an image's, as written again).
    pub mime: &'static str,
    pub bytes: Vec<u8>,
    pub image: Option<Size>,
    /// An image's thumbnail (its type is [`Prepared::thumb_mime`]).
    pub thumb: Option<(Vec<u8>, Size)>,
}

impl Prepared {
    /// The type of the thumbnail of a file of type `mime`: photos' are JPEG, the others' PNG.
    pub fn thumb_mime(mime: &str) -> &'static str {
        if mime == "image/jpeg" {
            "image/jpeg"
        } else {
            "image/png"
        }
    }
}

/// Checks a file of at most `max_bytes` and makes it safe (see the module's comment).
/// CPU-heavy for images: call it off the async runtime.
pub fn prepare(bytes: &[u8], max_bytes: u64) -> Result<Prepared, Problem> {
    if bytes.is_empty() {
        return Err(Problem::AttachmentEmpty);
    }
    if bytes.len() as u64 > max_bytes {
        return Err(app::protocol::file_too_large(max_bytes));
    }
    let mime = sniff(bytes).ok_or(Problem::AttachmentType)?;
    if IMAGE_TYPES.contains(&mime) {
        reencode(bytes, mime)
    } else {
        Ok(Prepared { mime, bytes: bytes.to_vec(), image: None, thumb: None })
    }
}

/// The type of a file from its bytes, if it is one the server takes: a known signature,
/// or text (UTF-8 without NUL bytes) that has none.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let allowed =
        |mime: &str| IMAGE_TYPES.iter().chain(DOCUMENT_TYPES.iter()).find(|m| **m == mime).copied();
    match infer::get(bytes) {
        Some(kind) => allowed(kind.mime_type()),
        None if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() => Some("text/plain"),
        None => None,
    }
}

/// An image decoded, turned upright and written again (JPEG stays JPEG; the others become
/// PNG: a GIF keeps its first frame), with its thumbnail.
fn reencode(bytes: &[u8], mime: &'static str) -> Result<Prepared, Problem> {
    let format = ImageFormat::from_mime_type(mime).ok_or(Problem::AttachmentType)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let unreadable = |e: image::ImageError| {
        tracing::debug!(error = %e, mime, "an uploaded image could not be decoded");
        Problem::ImageUnreadable
    };
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    let size = Size { width: image.width(), height: image.height() };
    let (mime, encoded) = if mime == "image/jpeg" {
        ("image/jpeg", encode_jpeg(&image)?)
    } else {
        ("image/png", encode_png(&image)?)
    };
    let small = if size.width > THUMB_MAX_PX || size.height > THUMB_MAX_PX {
        image.thumbnail(THUMB_MAX_PX, THUMB_MAX_PX)
    } else {
        image
    };
    let thumb_size = Size { width: small.width(), height: small.height() };
    let thumb = if Prepared::thumb_mime(mime) == "image/jpeg" {
        encode_jpeg(&small)?
    } else {
        encode_png(&small)?
    };
    Ok(Prepared { mime, bytes: encoded, image: Some(size), thumb: Some((thumb, thumb_size)) })
}

fn encode_png(image: &DynamicImage) -> Result<Vec<u8>, Problem> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).map_err(encoding_failed)?;
    Ok(out.into_inner())
}

fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, Problem> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    // JPEG has no alpha channel (and this encoder takes 8-bit RGB or grey).
    DynamicImage::ImageRgb8(image.to_rgb8())
        .write_with_encoder(encoder)
        .map_err(encoding_failed)?;
    Ok(out)
}

fn encoding_failed(e: image::ImageError) -> Problem {
    tracing::error!(error = %e, "encoding an image failed");
    Problem::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    /// A `w`×`h` image in `format`, a gradient (so that encoders have something to do).
    pub(crate) fn picture(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let image = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(image).write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    /// A JPEG with an EXIF segment (APP1) carrying a GPS tag's bytes and an orientation of
    /// "rotate 90° clockwise", inserted after its start-of-image marker.
    fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
        let plain = picture(w, h, ImageFormat::Jpeg);
        // TIFF header (big-endian), one IFD with two entries: Orientation (0x0112) = 6, and
        // GPSInfo (0x8825) pointing nowhere useful; then the marker text we look for.
        let mut tiff = vec![b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 2];
        tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
        tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        tiff.extend_from_slice(b"GPS 48.8584N 2.2945E");
        let mut segment = b"Exif\0\0".to_vec();
        segment.extend_from_slice(&tiff);
        let len = (segment.len() + 2) as u16;
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&segment);
        out.extend_from_slice(&plain[2..]);
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_photo_loses_its_exif_and_is_turned_upright() {
        let original = jpeg_with_exif(40, 20);
        assert!(contains(&original, b"GPS 48.8584N"), "the test's file carries the location");
        let prepared = prepare(&original, 10 * MB).expect("a JPEG is taken");
        assert_eq!(prepared.mime, "image/jpeg");
        assert!(!contains(&prepared.bytes, b"GPS 48.8584N"), "the location is gone");
        assert!(!contains(&prepared.bytes, b"Exif"), "no EXIF segment at all");
        assert_eq!(prepared.image, Some(Size { width: 20, height: 40 }), "rotated as EXIF said");
        let (thumb, size) = prepared.thumb.expect("a thumbnail");
        assert_eq!(size, Size { width: 20, height: 40 }, "a small image is its own thumbnail");
        assert_eq!(infer::get(&thumb).map(|k| k.mime_type()), Some("image/jpeg"));
    }

    #[test]
    fn images_get_a_thumbnail_within_the_limit_keeping_their_shape() {
        for format in [ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP] {
            let prepared = prepare(&picture(1000, 500, format), 10 * MB).expect("taken");
            assert_eq!(prepared.mime, "image/png", "{format:?} is kept as PNG");
            assert_eq!(prepared.image, Some(Size { width: 1000, height: 500 }));
            let (thumb, size) = prepared.thumb.expect("a thumbnail");
            assert_eq!(size, Size { width: THUMB_MAX_PX, height: THUMB_MAX_PX / 2 });
            let decoded = image::load_from_memory(&thumb).expect("the thumbnail is an image");
            assert_eq!((decoded.width(), decoded.height()), (size.width, size.height));
        }
    }

    #[test]
    fn the_type_comes_from_the_bytes_and_only_listed_types_are_taken() {
        let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
        assert_eq!(prepare(pdf, MB).expect("a PDF").mime, "application/pdf");
        assert_eq!(
            prepare("日志：第一行\nline 2".as_bytes(), MB).expect("text").mime,
            "text/plain"
        );
        // HTML named .png: it is no image, and HTML is not taken.
        let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
        assert_eq!(prepare(html, MB).unwrap_err(), Problem::AttachmentType);
        // An executable, and bytes that are nothing in particular.
        assert_eq!(
            prepare(b"\x7fELF\x02\x01\x01\0\0\0\0\0", MB).unwrap_err(),
            Problem::AttachmentType
        );
        assert_eq!(prepare(&[0, 159, 146, 150], MB).unwrap_err(), Problem::AttachmentType);
        // A PNG signature on bytes that are no PNG.
        let broken = [&b"\x89PNG\r\n\x1a\n"[..], &[1u8; 64][..]].concat();
        assert_eq!(prepare(&broken, MB).unwrap_err(), Problem::ImageUnreadable);
    }

    #[test]
    fn empty_and_too_large_files_are_refused_with_the_limit() {
        assert_eq!(prepare(b"", MB).unwrap_err(), Problem::AttachmentEmpty);
        let big = vec![b'a'; (2 * MB + 1) as usize];
        assert_eq!(prepare(&big, 2 * MB).unwrap_err(), Problem::AttachmentTooLarge(2));
        assert!(prepare(&big[..(2 * MB) as usize], 2 * MB).is_ok(), "the limit itself is taken");
    }

    #[test]
    fn an_image_claiming_a_huge_size_is_refused_before_it_is_decoded() {
        // A valid PNG header claiming 100,000 × 100,000 pixels (40 GB decoded).
        let mut png = picture(1, 1, ImageFormat::Png);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(prepare(&png, MB).unwrap_err(), Problem::ImageUnreadable);
    }
}
