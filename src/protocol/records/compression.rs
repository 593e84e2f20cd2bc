//! Compressing and decompressing the records section of a batch.
//!
//! Every decompressor writes into one `Vec` that never grows past the caller's cap: streaming
//! codecs (gzip, LZ4, zstd) are read in bounded chunks, and Snappy's declared uncompressed
//! length is checked against the cap before anything is allocated. A compression bomb therefore
//! fails with [`ErrorKind::Compression`] after at most `cap` bytes of work and memory.

use std::io::{Read, Write};

use bytes::{BufMut, BytesMut};

use super::attributes::Compression;
use crate::{Error, ErrorKind, Result};

/// Default cap on the decompressed size of one batch's records (64 MiB).
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 64 * 1024 * 1024;

/// Magic that starts a Snappy stream in xerial (snappy-java `SnappyOutputStream`) framing.
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// xerial header: magic, version (i32), compatible version (i32).
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per xerial chunk; snappy-java's default block size.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
/// Largest zstd window we accept below the cap: zstd levels up to 19 use at most 8 MiB.
const ZSTD_MIN_ALLOWED_WINDOW: u64 = 8 * 1024 * 1024;

fn compression_error(detail: impl Into<String>) -> Error {
    Error::new(ErrorKind::Compression).with_detail(detail)
}

/// Checks a compression level for a codec: gzip 1-9 (or -1 = default 6); zstd -131072..=22
/// (with the default `zstd-c` feature every level is used; ruzstd has one); LZ4 1-17 is
/// accepted for compatibility with the Java client's settings but `lz4_flex` has one level (see
/// the module docs); Snappy and none take no level.
pub fn validate_level(codec: Compression, level: Option<i32>) -> Result<()> {
    let ok = match (codec, level) {
        (_, None) => true,
        (Compression::Gzip, Some(l)) => l == -1 || (1..=9).contains(&l),
        (Compression::Lz4, Some(l)) => (1..=17).contains(&l),
        (Compression::Zstd, Some(l)) => (-131_072..=22).contains(&l),
        (Compression::None | Compression::Snappy, Some(_)) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::InvalidArgument).with_detail(format!(
            "compression level {level:?} is not valid for {codec}"
        )))
    }
}

/// Java's (and librdkafka's) default zstd level.
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;

/// Compressor state kept between batches, so a producer's sender does not set up (and free) a
/// codec context for every batch. A zstd level-3 context and a gzip deflate state each hold
/// hundreds of KiB of window and tables; setting up a zstd context per 16 KiB batch measured
/// about 1.5x slower than reusing one (`benches/compression_vs_c.rs`, `c-zstd-3-fresh`).
#[derive(Default)]
pub struct Compressors {
    /// The gzip deflate state and the level it was made for.
    gzip: Option<(u32, flate2::Compress)>,
    /// The C zstd compression context and the level it was made for.
    #[cfg(feature = "zstd-c")]
    zstd: Option<(i32, zstd::bulk::Compressor<'static>)>,
}

impl std::fmt::Debug for Compressors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Compressors");
        d.field("gzip_level", &self.gzip.as_ref().map(|(l, _)| *l));
        #[cfg(feature = "zstd-c")]
        d.field("zstd_level", &self.zstd.as_ref().map(|(l, _)| *l));
        d.finish()
    }
}

/// Compresses `input` with `codec`, appending to `out`. Sets up a fresh codec context; a caller
/// that compresses many batches should keep a [`Compressors`] and use [`compress_with`].
pub fn compress(
    codec: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut BytesMut,
) -> Result<()> {
    compress_with(&mut Compressors::default(), codec, level, input, out)
}

/// [`compress`], reusing the codec contexts in `ctx`.
pub fn compress_with(
    ctx: &mut Compressors,
    codec: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut BytesMut,
) -> Result<()> {
    validate_level(codec, level)?;
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => compress_gzip(ctx, level, input, out)?,
        Compression::Snappy => compress_xerial(input, out)?,
        Compression::Lz4 => {
            // Kafka's KafkaLZ4BlockInputStream rejects dependent blocks; 64 KiB blocks without
            // checksums is what KafkaLZ4BlockOutputStream writes.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent)
                .block_checksums(false)
                .content_checksum(false);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, out.writer());
            enc.write_all(input)
                .map_err(|e| compression_error("lz4").with_source(e))?;
            enc.finish()
                .map_err(|e| compression_error("lz4").with_source(e))?;
        }
        Compression::Zstd => compress_zstd(ctx, level, input, out)?,
    }
    Ok(())
}

/// gzip (one member, as Java's `GZIPOutputStream` writes) with a raw deflate state kept in
/// `ctx` and reset per batch: a level-6 deflate state is hundreds of KiB of window and hash
/// tables, which a `GzEncoder` per batch would allocate and free each time. The 10-byte header
/// and the CRC-32/size trailer are written here, byte for byte as `flate2::GzEncoder` writes
/// them; the CRC is `flate2::Crc` (SIMD `crc32fast`) because zlib-rs's own gzip wrapper measured
/// about 2x slower on 1 MiB batches.
fn compress_gzip(
    ctx: &mut Compressors,
    level: Option<i32>,
    input: &[u8],
    out: &mut BytesMut,
) -> Result<()> {
    let level = match level {
        // validate_level has limited it to 1..=9.
        Some(l) if l > 0 => l.unsigned_abs(),
        // -1 or unset: Java's GZIPOutputStream uses zlib's default, 6.
        _ => 6,
    };
    let deflate = match &mut ctx.gzip {
        Some((l, c)) if *l == level => {
            c.reset();
            c
        }
        slot => {
            // Raw deflate (no zlib wrapper), 15 window bits: what GZIPOutputStream uses.
            let c = flate2::Compress::new(flate2::Compression::new(level), false);
            &mut slot.insert((level, c)).1
        }
    };
    let at = out.len();
    // ID1 ID2, CM = deflate, no flags, MTIME 0, XFL (2 = best, 4 = fastest), OS 255 (unknown).
    let xfl = match level {
        9 => 2,
        1 => 4,
        _ => 0,
    };
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    let body = out.len();
    let (in0, out0) = (deflate.total_in(), deflate.total_out());
    // Room for the whole stream in the common case (compressible data; stored-block overhead is
    // in the slack); grown if deflate wants more.
    let mut room = input.len() / 2 + 64;
    let mut progress = None;
    loop {
        // Progress since this batch began; both are bounded by `input.len()` and `out.len()`.
        let consumed =
            usize::try_from(deflate.total_in().saturating_sub(in0)).unwrap_or(usize::MAX);
        let written =
            usize::try_from(deflate.total_out().saturating_sub(out0)).unwrap_or(usize::MAX);
        // A call that neither read nor wrote despite fresh output room would repeat forever.
        let stalled = progress.replace((consumed, written)) == Some((consumed, written));
        let (Some(rest), Some(end), false) =
            (input.get(consumed..), body.checked_add(written), stalled)
        else {
            out.truncate(at);
            ctx.gzip = None;
            return Err(compression_error(
                "gzip: deflate stalled or reported impossible progress",
            ));
        };
        out.resize(end + room, 0);
        match deflate.compress(rest, &mut out[end..], flate2::FlushCompress::Finish) {
            Ok(flate2::Status::StreamEnd) => {
                let written =
                    usize::try_from(deflate.total_out().saturating_sub(out0)).unwrap_or(0);
                out.truncate(body + written);
                break;
            }
            // Output space ran out before the end of the stream: give it more.
            Ok(flate2::Status::Ok | flate2::Status::BufError) => {
                room = room.max(input.len() / 4 + 4096)
            }
            Err(e) => {
                out.truncate(at);
                // The state is mid-stream; the next batch gets a fresh one.
                ctx.gzip = None;
                return Err(compression_error("gzip").with_source(e));
            }
        }
    }
    let mut crc = flate2::Crc::new();
    crc.update(input);
    out.put_u32_le(crc.sum());
    // ISIZE is the input size modulo 2^32 (RFC 1952).
    out.put_u32_le(input.len() as u32);
    Ok(())
}

/// zstd with the C library at the configured level (Java's `compression.zstd.level` semantics:
/// the default is 3, negative levels are the fast ones). One frame with the content size in
/// its header, which every zstd decoder (zstd-jni in the broker, librdkafka) reads.
#[cfg(feature = "zstd-c")]
fn compress_zstd(
    ctx: &mut Compressors,
    level: Option<i32>,
    input: &[u8],
    out: &mut BytesMut,
) -> Result<()> {
    let level = level.unwrap_or(ZSTD_DEFAULT_LEVEL);
    let err = |e| compression_error("zstd").with_source(e);
    let cctx = match &mut ctx.zstd {
        Some((l, c)) if *l == level => c,
        slot => {
            let c = zstd::bulk::Compressor::new(level).map_err(err)?;
            &mut slot.insert((level, c)).1
        }
    };
    // Compress straight into `out`: grow it by the worst-case bound, then cut it back. The
    // zero fill of the bound is a memset, far cheaper than the compression itself.
    let at = out.len();
    out.resize(at + zstd::zstd_safe::compress_bound(input.len()), 0);
    match cctx.compress_to_buffer(input, &mut out[at..]) {
        Ok(n) => {
            out.truncate(at + n);
            Ok(())
        }
        Err(e) => {
            out.truncate(at);
            // A failed compression may leave the context mid-frame: drop it.
            ctx.zstd = None;
            Err(err(e))
        }
    }
}

/// zstd with pure-Rust ruzstd, which implements only its "Fastest" level (about zstd level 1);
/// a configured level is accepted and ignored.
#[cfg(not(feature = "zstd-c"))]
fn compress_zstd(
    _ctx: &mut Compressors,
    _level: Option<i32>,
    input: &[u8],
    out: &mut BytesMut,
) -> Result<()> {
    ruzstd::encoding::compress(
        input,
        out.writer(),
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    Ok(())
}

fn compress_xerial(input: &[u8], out: &mut BytesMut) -> Result<()> {
    out.extend_from_slice(&XERIAL_MAGIC);
    out.put_i32(1); // version
    out.put_i32(1); // minimum compatible version
    let mut enc = snap::raw::Encoder::new();
    for chunk in input.chunks(XERIAL_BLOCK_SIZE) {
        let len_at = out.len();
        let max = snap::raw::max_compress_len(chunk.len());
        out.resize(len_at + 4 + max, 0);
        let n = enc
            .compress(chunk, &mut out[len_at + 4..])
            .map_err(|e| compression_error("snappy").with_source(e))?;
        out.truncate(len_at + 4 + n);
        // n <= max_compress_len(32 KiB), far below i32::MAX.
        out[len_at..len_at + 4].copy_from_slice(&(n as i32).to_be_bytes());
    }
    Ok(())
}

/// Decompresses a records section, failing with [`ErrorKind::Compression`] if the result would
/// exceed `max_size` bytes.
pub fn decompress(codec: Compression, input: &[u8], max_size: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match codec {
        Compression::None => {
            if input.len() > max_size {
                return Err(too_large(max_size));
            }
            out.extend_from_slice(input);
        }
        Compression::Gzip => read_bounded(
            flate2::read::MultiGzDecoder::new(input),
            &mut out,
            max_size,
            "gzip",
        )?,
        Compression::Snappy => decompress_snappy(input, &mut out, max_size)?,
        Compression::Lz4 => {
            lz4_frame_check(input)?;
            read_bounded(
                lz4_flex::frame::FrameDecoder::new(input),
                &mut out,
                max_size,
                "lz4",
            )?
        }
        Compression::Zstd => decompress_zstd(input, &mut out, max_size)?,
    }
    Ok(out)
}

fn too_large(max_size: usize) -> Error {
    compression_error(format!(
        "decompressed records exceed the cap of {max_size} bytes"
    ))
}

/// Reads `r` to its end, appending to `out`, never letting `out` hold (or reserve) more than
/// `max_size` bytes; errors as soon as one byte more than the cap is produced.
fn read_bounded(mut r: impl Read, out: &mut Vec<u8>, max_size: usize, what: &str) -> Result<()> {
    const CHUNK: usize = 64 * 1024;
    // `len` is the logical length; `out[len..]` is zeroed scratch that the reader fills, so each
    // byte is zeroed once however small the reads are.
    let mut len = out.len();
    let limit = max_size.saturating_add(1);
    let result = loop {
        if len == out.len() {
            // Doubling keeps copies amortized; the cap (+1 to detect overflow) bounds it.
            let target = (out.len() * 2).max(len + CHUNK).min(limit);
            if target <= len {
                break Err(too_large(max_size));
            }
            out.reserve_exact(target - out.len());
            out.resize(target, 0);
        }
        match r.read(&mut out[len..]) {
            Ok(0) => break Ok(()),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                break Err(
                    compression_error(format!("{what}: corrupt compressed data")).with_source(e),
                )
            }
        }
        if len > max_size {
            break Err(too_large(max_size));
        }
    };
    out.truncate(len);
    result
}

/// Walks the LZ4 frame's block structure (without decompressing) to require the end mark:
/// `lz4_flex` treats input that stops at (or inside) a block-size field as a clean end, while
/// Java's `KafkaLZ4BlockInputStream` rejects it as a premature end of stream.
fn lz4_frame_check(input: &[u8]) -> Result<()> {
    let bad = |d: &str| compression_error(format!("lz4: {d}"));
    let flg = *input.get(4).ok_or_else(|| bad("truncated frame header"))?;
    let block_checksum = flg & 0x10 != 0;
    let content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    // magic (4), FLG, BD, optional content size (8), header checksum (1).
    let mut pos = 7 + if content_size { 8 } else { 0 };
    loop {
        let size = input
            .get(pos..)
            .and_then(|s| s.first_chunk::<4>())
            .map(|b| u32::from_le_bytes(*b))
            .ok_or_else(|| bad("frame ends without its end mark"))?;
        pos += 4;
        if size == 0 {
            let end = pos + if content_checksum { 4 } else { 0 };
            return if end <= input.len() {
                Ok(())
            } else {
                Err(bad("truncated content checksum"))
            };
        }
        pos += (size & 0x7fff_ffff) as usize + if block_checksum { 4 } else { 0 };
        if pos > input.len() {
            return Err(bad("block runs past the end of the input"));
        }
    }
}

fn decompress_snappy(input: &[u8], out: &mut Vec<u8>, max_size: usize) -> Result<()> {
    let mut dec = snap::raw::Decoder::new();
    let mut one = |block: &[u8], out: &mut Vec<u8>| -> Result<()> {
        let n = snap::raw::decompress_len(block)
            .map_err(|e| compression_error("snappy").with_source(e))?;
        if n > max_size - out.len() {
            return Err(too_large(max_size));
        }
        let at = out.len();
        out.resize(at + n, 0);
        let got = dec
            .decompress(block, &mut out[at..])
            .map_err(|e| compression_error("snappy").with_source(e))?;
        out.truncate(at + got);
        Ok(())
    };
    let framed = input.len() >= XERIAL_HEADER_LEN && input.starts_with(&XERIAL_MAGIC);
    if !framed {
        // librdkafka and others may write raw (unframed) Snappy.
        return one(input, out);
    }
    let mut rest = input.get(XERIAL_HEADER_LEN..).unwrap_or_default();
    while !rest.is_empty() {
        let (len, tail) = match rest.split_first_chunk::<4>() {
            Some((len, tail)) => (i32::from_be_bytes(*len), tail),
            None => return Err(compression_error("snappy: truncated xerial chunk length")),
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= tail.len())
            .ok_or_else(|| compression_error(format!("snappy: bad xerial chunk length {len}")))?;
        let (chunk, tail) = tail.split_at(len);
        one(chunk, out)?;
        rest = tail;
    }
    Ok(())
}

/// Decodes the one zstd frame at the start of `src`, advancing `src` past it.
type ZstdFrameDecoder = fn(&mut &[u8], &mut Vec<u8>, usize) -> Result<()>;

/// The frame decoder this build uses: the C library with `zstd-c`, else ruzstd.
#[cfg(feature = "zstd-c")]
const ZSTD_FRAME_DECODER: ZstdFrameDecoder = decode_zstd_frame_c;
#[cfg(not(feature = "zstd-c"))]
const ZSTD_FRAME_DECODER: ZstdFrameDecoder = decode_zstd_frame_ruzstd;

/// Decompresses one or more zstd frames (skippable frames are skipped).
fn decompress_zstd(input: &[u8], out: &mut Vec<u8>, max_size: usize) -> Result<()> {
    decompress_zstd_with(ZSTD_FRAME_DECODER, input, out, max_size)
}

/// [`decompress_zstd`] with a given frame decoder, so the tests can run both decoders in one
/// build.
fn decompress_zstd_with(
    decode_frame: ZstdFrameDecoder,
    input: &[u8],
    out: &mut Vec<u8>,
    max_size: usize,
) -> Result<()> {
    let mut rest = input;
    if rest.is_empty() {
        return Err(compression_error("zstd: empty input"));
    }
    while !rest.is_empty() {
        match zstd_frame_check(rest, max_size)? {
            ZstdFrame::Skippable(len) => {
                rest = rest.get(len..).unwrap_or_default();
                continue;
            }
            ZstdFrame::Data => {}
        }
        let mut src = rest;
        decode_frame(&mut src, out, max_size)?;
        if src.len() >= rest.len() {
            // No progress: never loop forever on a degenerate frame.
            return Err(compression_error("zstd: frame consumed no input"));
        }
        rest = src;
    }
    Ok(())
}

/// Decodes the one zstd frame at the start of `src` (advancing it past the frame) with the C
/// library.
#[cfg(feature = "zstd-c")]
fn decode_zstd_frame_c(src: &mut &[u8], out: &mut Vec<u8>, max_size: usize) -> Result<()> {
    // `&mut &[u8]` is a BufRead that the decoder consumes exactly as far as it read, so `src`
    // ends right after the frame; `single_frame` stops it there (our loop checks the window of
    // each following frame before decoding it). The C decoder's own window limit (2^27 by
    // default) stays in force as well.
    let dec = zstd::stream::read::Decoder::with_buffer(src)
        .map_err(|e| compression_error("zstd: decoder setup").with_source(e))?
        .single_frame();
    read_bounded(dec, out, max_size, "zstd")
}

/// Decodes the one zstd frame at the start of `src` (advancing it past the frame) with ruzstd.
/// Compiled with `zstd-c` too, for the tests that check both decoders against both encoders.
#[cfg(any(test, not(feature = "zstd-c")))]
fn decode_zstd_frame_ruzstd(src: &mut &[u8], out: &mut Vec<u8>, max_size: usize) -> Result<()> {
    let dec = ruzstd::decoding::StreamingDecoder::new(src)
        .map_err(|e| compression_error("zstd: bad frame header").with_source(e))?;
    read_bounded(dec, out, max_size, "zstd")
}

enum ZstdFrame {
    Data,
    Skippable(usize),
}

/// Parses a zstd frame header far enough to bound its window: ruzstd reserves the whole window
/// up front, so a hostile header declaring a huge window must be refused before ruzstd sees it.
fn zstd_frame_check(input: &[u8], max_size: usize) -> Result<ZstdFrame> {
    let bad = |d: &str| compression_error(format!("zstd: {d}"));
    let magic = input
        .first_chunk::<4>()
        .map(|m| u32::from_le_bytes(*m))
        .ok_or_else(|| bad("truncated frame"))?;
    if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
        let len = input
            .get(4..8)
            .and_then(|s| s.first_chunk::<4>())
            .map(|l| u32::from_le_bytes(*l) as usize)
            .ok_or_else(|| bad("truncated skippable frame"))?;
        return match len.checked_add(8) {
            Some(total) if total <= input.len() => Ok(ZstdFrame::Skippable(total)),
            _ => Err(bad("truncated skippable frame")),
        };
    }
    if magic != 0xFD2F_B528 {
        return Err(bad("bad frame magic"));
    }
    let descriptor = *input.get(4).ok_or_else(|| bad("truncated frame header"))?;
    let single_segment = descriptor & 0x20 != 0;
    let window = if single_segment {
        let fcs_len = match descriptor >> 6 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let dict_len = [0usize, 1, 2, 4][usize::from(descriptor & 3)];
        let at = 5 + dict_len;
        let field = input
            .get(at..at + fcs_len)
            .ok_or_else(|| bad("truncated frame header"))?;
        let mut v = [0u8; 8];
        v[..fcs_len].copy_from_slice(field);
        let size = u64::from_le_bytes(v);
        if fcs_len == 2 {
            size + 256
        } else {
            size
        }
    } else {
        let wd = *input.get(5).ok_or_else(|| bad("truncated frame header"))?;
        let log = 10 + u64::from(wd >> 3);
        let base = 1u64 << log.min(62);
        base + (base / 8) * u64::from(wd & 7)
    };
    let allowed = (max_size as u64).max(ZSTD_MIN_ALLOWED_WINDOW);
    if window > allowed {
        return Err(compression_error(format!(
            "zstd: window of {window} bytes exceeds the allowed {allowed}"
        )));
    }
    Ok(ZstdFrame::Data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for c in ALL {
            let mut out = BytesMut::new();
            assert!(compress(c, None, &data, &mut out).is_ok(), "{c}");
            let back = decompress(c, &out, DEFAULT_MAX_DECOMPRESSED_SIZE);
            assert_eq!(back.ok().as_deref(), Some(&data[..]), "{c}");
            // Empty input too.
            let mut out = BytesMut::new();
            assert!(compress(c, None, &[], &mut out).is_ok());
            assert_eq!(decompress(c, &out, 10).ok(), Some(Vec::new()), "{c} empty");
        }
    }

    #[test]
    fn cap_is_enforced_for_every_codec() {
        let data = vec![0u8; 1 << 20];
        for c in ALL {
            let mut out = BytesMut::new();
            assert!(compress(c, None, &data, &mut out).is_ok());
            let err = decompress(c, &out, (1 << 20) - 1).err();
            assert_eq!(
                err.map(|e| e.kind().clone()),
                Some(ErrorKind::Compression),
                "{c}"
            );
            assert!(decompress(c, &out, 1 << 20).is_ok(), "{c} exactly at cap");
        }
    }

    #[test]
    fn xerial_framing_matches_snappy_java_layout() {
        let mut out = BytesMut::new();
        assert!(compress(Compression::Snappy, None, b"hello hello hello", &mut out).is_ok());
        assert_eq!(&out[..8], &XERIAL_MAGIC);
        assert_eq!(&out[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        // Raw snappy is accepted as well.
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"raw data")
            .unwrap_or_default();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 100).ok(),
            Some(b"raw data".to_vec())
        );
    }

    #[test]
    fn lz4_frame_flags_are_what_kafka_reads() {
        let mut out = BytesMut::new();
        assert!(compress(Compression::Lz4, None, b"abc", &mut out).is_ok());
        assert_eq!(&out[..4], &[0x04, 0x22, 0x4d, 0x18]);
        // FLG: version 01, block independence, no checksums, no content size.
        assert_eq!(out[4], 0b0110_0000);
        // BD: 64 KiB blocks.
        assert_eq!(out[5], 0x40);
    }

    #[test]
    fn zstd_huge_window_is_refused_before_allocating() {
        // Magic, descriptor (no single segment), window descriptor with exponent 31 (2 TiB).
        let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 31 << 3, 0, 0, 0];
        let err = decompress(Compression::Zstd, &frame, 1 << 20).err();
        assert_eq!(err.map(|e| e.kind().clone()), Some(ErrorKind::Compression));
    }

    /// Every zstd frame decoder compiled into this build, by name.
    const ZSTD_DECODERS: &[(&str, ZstdFrameDecoder)] = &[
        ("ruzstd", decode_zstd_frame_ruzstd),
        #[cfg(feature = "zstd-c")]
        ("c", decode_zstd_frame_c),
    ];

    fn unzstd(decoder: ZstdFrameDecoder, input: &[u8], cap: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        decompress_zstd_with(decoder, input, &mut out, cap).map(|()| out)
    }

    /// Both decoders read both encoders' frames (ruzstd's, and ours: C zstd at several levels
    /// with `zstd-c`): brokers hand back what Java (zstd-jni, i.e. C zstd) or anyone else wrote,
    /// and a `--no-default-features` build decodes with ruzstd.
    #[test]
    fn zstd_cross_check_both_encoders_with_both_decoders() {
        let data = sample();
        let mut frames = vec![(
            "ruzstd-fastest".to_string(),
            ruzstd::encoding::compress_to_vec(
                &data[..],
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
        )];
        for level in [None, Some(-5), Some(1), Some(3), Some(9), Some(19)] {
            let mut out = BytesMut::new();
            assert!(compress(Compression::Zstd, level, &data, &mut out).is_ok());
            frames.push((format!("ours-{level:?}"), out.to_vec()));
        }
        for (enc, frame) in &frames {
            for (dec, decoder) in ZSTD_DECODERS {
                let back = unzstd(*decoder, frame, DEFAULT_MAX_DECOMPRESSED_SIZE);
                assert_eq!(back.ok().as_deref(), Some(&data[..]), "{enc} -> {dec}");
            }
        }
    }

    /// With the C library, the configured level is really used (KIP-390): a higher level gives
    /// a smaller frame on compressible data, and the C decoder agrees with ours.
    #[cfg(feature = "zstd-c")]
    #[test]
    fn zstd_level_is_honoured_and_matches_the_c_library() {
        let data = sample();
        let mut sizes = Vec::new();
        let mut ctx = Compressors::default();
        // Reuse one context across level changes, as a producer with several topics would.
        for level in [1, 19, 3, 3, -5] {
            let mut out = BytesMut::new();
            assert!(
                compress_with(&mut ctx, Compression::Zstd, Some(level), &data, &mut out).is_ok()
            );
            let c = zstd::bulk::decompress(&out, data.len());
            assert_eq!(c.ok().as_deref(), Some(&data[..]), "level {level}");
            // The C library's own one-shot output at that level is byte-identical.
            let expected = zstd::bulk::compress(&data, level).unwrap_or_default();
            assert_eq!(&out[..], &expected[..], "level {level}");
            sizes.push(out.len());
        }
        assert!(
            sizes[1] < sizes[0],
            "level 19 should beat level 1: {sizes:?}"
        );
        assert!(
            sizes[4] >= sizes[2],
            "level -5 should not beat level 3: {sizes:?}"
        );
        // Output is appended after what `out` already holds.
        let mut out = BytesMut::from(&b"head"[..]);
        assert!(compress(Compression::Zstd, None, b"tail", &mut out).is_ok());
        assert_eq!(&out[..4], b"head");
        assert_eq!(
            decompress(Compression::Zstd, &out[4..], 100).ok(),
            Some(b"tail".to_vec())
        );
    }

    /// Concatenated frames and skippable frames, mixing both encoders.
    #[test]
    fn zstd_multiple_frames_and_skippable_frames() {
        let mut input = BytesMut::new();
        assert!(compress(Compression::Zstd, None, b"first ", &mut input).is_ok());
        // Skippable frame: magic 0x184D2A5x, length 3, payload.
        input.extend_from_slice(&[0x53, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        input.extend_from_slice(&ruzstd::encoding::compress_to_vec(
            &b"second"[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        for (dec, decoder) in ZSTD_DECODERS {
            assert_eq!(
                unzstd(*decoder, &input, 100).ok(),
                Some(b"first second".to_vec()),
                "{dec}"
            );
        }
    }

    /// Malformed zstd input from the network is an error, never a panic or a hang, for both
    /// decoders: every truncation of a valid frame, every single-byte corruption of a small
    /// one, garbage behind a valid magic, and trailing garbage.
    #[test]
    fn malformed_zstd_is_an_error_not_a_panic() {
        let data = sample();
        let mut frame = BytesMut::new();
        assert!(compress(Compression::Zstd, None, &data[..20_000], &mut frame).is_ok());
        let mut small = BytesMut::new();
        assert!(compress(Compression::Zstd, None, &data[..3_000], &mut small).is_ok());
        for (dec, decoder) in ZSTD_DECODERS {
            for cut in (0..frame.len()).step_by(7).chain([frame.len() - 1]) {
                let r = unzstd(*decoder, &frame[..cut], DEFAULT_MAX_DECOMPRESSED_SIZE);
                assert!(r.is_err(), "{dec}: truncated at {cut} of {}", frame.len());
            }
            for i in 0..small.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = small.to_vec();
                    bad[i] ^= flip;
                    // A flipped literal may still decode; it must not panic, and must respect
                    // the cap.
                    if let Ok(out) = unzstd(*decoder, &bad, 4_096) {
                        assert!(out.len() <= 4_096, "{dec}");
                    }
                }
            }
            let mut rng = fastrand::Rng::with_seed(9);
            for len in [1usize, 5, 6, 12, 64, 1000] {
                for _ in 0..20 {
                    let mut junk: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
                    if len >= 4 {
                        junk[..4].copy_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
                    }
                    let _ = unzstd(*decoder, &junk, 1 << 20);
                }
            }
            // Trailing garbage after a good frame is an error, not silently ignored.
            let mut trailing = small.to_vec();
            trailing.extend_from_slice(b"junk");
            assert!(unzstd(*decoder, &trailing, 1 << 20).is_err(), "{dec}");
        }
    }

    /// A frame that really holds more than the cap fails at the cap, for both decoders.
    #[test]
    fn zstd_output_is_bounded_by_the_cap() {
        let zeros = vec![0u8; 4 << 20];
        let mut frame = BytesMut::new();
        assert!(compress(Compression::Zstd, Some(3), &zeros, &mut frame).is_ok());
        // 4 MiB of zeros compresses to a few hundred bytes: a bomb against a 1 MiB cap.
        assert!(frame.len() < 4096, "{}", frame.len());
        for (dec, decoder) in ZSTD_DECODERS {
            let err = unzstd(*decoder, &frame, 1 << 20).err();
            assert_eq!(
                err.map(|e| e.kind().clone()),
                Some(ErrorKind::Compression),
                "{dec}"
            );
            assert_eq!(
                unzstd(*decoder, &frame, 4 << 20).ok(),
                Some(zeros.clone()),
                "{dec}"
            );
        }
    }

    /// The reused deflate state gives the same member as a fresh one, at every level change,
    /// the level is really used (KIP-390), and incompressible input (which needs more output room
    /// than the first guess) still comes out whole.
    #[test]
    fn gzip_state_is_reused_and_levels_are_honoured() {
        let data = sample();
        let mut rng = fastrand::Rng::with_seed(3);
        let noise: Vec<u8> = (0..100_000).map(|_| rng.u8(..)).collect();
        let mut ctx = Compressors::default();
        let mut sizes = Vec::new();
        for level in [Some(1), Some(9), Some(9), None, Some(-1), Some(6)] {
            for input in [&data[..], &noise[..], &[]] {
                let mut out = BytesMut::from(&b"xx"[..]);
                let r = compress_with(&mut ctx, Compression::Gzip, level, input, &mut out);
                assert!(r.is_ok(), "{level:?}: {r:?}");
                assert_eq!(&out[..2], b"xx");
                let mut fresh = BytesMut::new();
                assert!(compress(Compression::Gzip, level, input, &mut fresh).is_ok());
                assert_eq!(&out[2..], &fresh[..], "{level:?}");
                // The same header as flate2's GzEncoder at that level (the deflate blocks
                // differ: GzEncoder streams, so its last block is an empty final one).
                let l = level.filter(|&l| l > 0).map_or(6, i32::unsigned_abs);
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(l));
                let reference = gz.write_all(input).and_then(|()| gz.finish());
                let reference = reference.unwrap_or_default();
                assert_eq!(reference.get(..10), fresh.get(..10), "{level:?}");
                let mut back = Vec::new();
                let read = flate2::read::GzDecoder::new(&out[2..]).read_to_end(&mut back);
                assert!(read.is_ok(), "{level:?}: {read:?}");
                assert_eq!(back, input, "{level:?}");
                if input.len() == data.len() {
                    sizes.push(out.len());
                }
            }
        }
        assert!(
            sizes[1] < sizes[0],
            "level 9 should beat level 1: {sizes:?}"
        );
        assert_eq!(sizes[3], sizes[5], "unset means 6: {sizes:?}");
        assert_eq!(sizes[4], sizes[5], "-1 means 6: {sizes:?}");
    }

    #[test]
    fn levels_are_validated() {
        assert!(validate_level(Compression::Gzip, Some(9)).is_ok());
        assert!(validate_level(Compression::Gzip, Some(10)).is_err());
        assert!(validate_level(Compression::Snappy, Some(1)).is_err());
        assert!(validate_level(Compression::Zstd, Some(3)).is_ok());
    }
}
