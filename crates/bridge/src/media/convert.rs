//! Conversions that turn WhatsApp media Connect chat refuses into media it accepts.
//!
//! - A voice note (Ogg/Opus) becomes a 16 kHz mono 16-bit PCM WAV, the audio format Connect chat
//!   attachments take (Amazon Connect Administrator Guide, "Enable attachments"). 16 kHz is the rate
//!   WhatsApp records speech at, so nothing audible is lost and the file stays a third of the size of
//!   a 48 kHz one.
//! - A sticker (WebP, possibly animated) becomes a PNG of its first frame.
//!
//! The input is whatever a customer's phone sent, so it is treated as hostile: every failure is a
//! [`ConvertError`], decoded sizes are capped before memory is committed to them, and a panic inside
//! a third-party codec is caught and reported as an error rather than taking the Lambda down.
//!
//! Both codecs are pure Rust (`opus-pure`, `image-webp`, `png`): no libopus, no libwebp, no
//! build script, so the Lambdas cross-compile to aarch64 with cargo-lambda/zig unchanged.

use std::io::Cursor;
use std::panic::{self, UnwindSafe};
use std::time::Duration;

use opus_pure::{MAX_PACKET_SAMPLES, OggOpusReader, OggPacket, Trim};

/// Sample rate of the WAV files produced from voice notes.
pub const WAV_SAMPLE_RATE: u32 = 16_000;

/// Longest audio [`ogg_opus_to_wav`] will decode. WhatsApp caps a voice note's size (16 MB), not
/// its length, and a low-bitrate Opus stream that size would decode to hours of PCM; this keeps the
/// decoded buffer to about 29 MB.
pub const MAX_AUDIO_DURATION: Duration = Duration::from_secs(15 * 60);

/// Largest sticker canvas [`webp_to_png`] will decode, in pixels. WhatsApp stickers are 512x512;
/// WebP headers can claim up to 16383x16383, which would be a 1 GiB RGBA buffer.
pub const MAX_IMAGE_PIXELS: u64 = 4096 * 4096;

/// The MIME type of what [`ogg_opus_to_wav`] produces, as Connect's chat widget names it.
pub const WAV_MIME: &str = "audio/wav";

/// The MIME type of what [`webp_to_png`] produces.
pub const PNG_MIME: &str = "image/png";

const WAV_HEADER_LEN: usize = 44;
const OGG_PAGE_HEADER_LEN: usize = 27;
const OGG_EOS_FLAG: u8 = 0x04;

/// Why a conversion could not be done. Each variant is a reason to fall back to describing the
/// media as text, never to drop the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The bytes are not an Ogg stream starting with valid Opus headers.
    #[error("not an Ogg/Opus stream: {0}")]
    NotOggOpus(String),
    /// The stream ends before its end-of-stream page, e.g. a partial download.
    #[error("the Ogg/Opus stream is truncated")]
    Truncated,
    /// A page or packet inside an otherwise valid stream does not decode.
    #[error("the Ogg/Opus stream is corrupt: {0}")]
    CorruptAudio(String),
    /// Surround (multistream) Opus; voice notes are mono and nothing in WhatsApp sends more.
    #[error("unsupported Opus channel layout: {channels} channels, mapping family {mapping_family}")]
    UnsupportedChannelLayout { channels: u8, mapping_family: u8 },
    /// The stream decodes to more audio than the allowed maximum.
    #[error("the audio is longer than the {}-second limit", limit.as_secs())]
    TooLong { limit: Duration },
    /// A well-formed stream with no audio after trimming the encoder delay.
    #[error("the Ogg/Opus stream contains no audio")]
    NoAudio,
    /// The bytes are not a decodable WebP image.
    #[error("not a decodable WebP image: {0}")]
    NotWebp(String),
    /// The WebP canvas is larger than [`MAX_IMAGE_PIXELS`].
    #[error("the image is {width}x{height}, larger than allowed")]
    ImageTooLarge { width: u32, height: u32 },
    /// PNG encoding failed; with an in-memory sink this means a bug, not bad input.
    #[error("could not encode PNG: {0}")]
    PngEncode(String),
    /// A codec panicked on this input. Kept apart from the other variants because it is a bug in
    /// the codec worth reporting upstream, even though the input is most likely malformed.
    #[error("the {0} decoder failed on this input")]
    DecoderPanicked(&'static str),
}

/// A voice note converted for Connect: a complete RIFF/WAVE file and how long it plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// The whole file, header included: 16-bit little-endian PCM, mono, [`WAV_SAMPLE_RATE`].
    pub bytes: Vec<u8>,
    /// Playing time, exact to the sample.
    pub duration: Duration,
}

/// Decodes an Ogg/Opus voice note into a 16 kHz mono WAV, at most [`MAX_AUDIO_DURATION`] long.
pub fn ogg_opus_to_wav(bytes: &[u8]) -> Result<Wav, ConvertError> {
    ogg_opus_to_wav_capped(bytes, MAX_AUDIO_DURATION)
}

/// Playing time of an Ogg/Opus file from its last granule position (always a 48 kHz clock).
pub fn ogg_opus_duration(audio: &[u8]) -> Option<Duration> {
    let mut last = None;
    let mut i = 0;
    while i + 14 <= audio.len() {
        if &audio[i..i + 4] == b"OggS" {
            let g = i64::from_le_bytes(audio[i + 6..i + 14].try_into().ok()?);
            if g > 0 {
                last = Some(g);
            }
            i += 27;
        } else {
            i += 1;
        }
    }
    last.map(|g| Duration::from_secs_f64(g as f64 / 48_000.0))
}

/// [`ogg_opus_to_wav`] with a caller-chosen length cap, e.g. the longest WAV that still fits the
/// Connect attachment size limit, so no work is spent on audio that could not be delivered.
pub fn ogg_opus_to_wav_capped(bytes: &[u8], max_duration: Duration) -> Result<Wav, ConvertError> {
    let samples = contain_panic("Opus", || decode_mono_16k(bytes, max_duration))?;
    Ok(Wav {
        duration: Duration::from_nanos(samples.len() as u64 * (1_000_000_000 / u64::from(WAV_SAMPLE_RATE))),
        bytes: wav_file(&samples),
    })
}

/// Converts a WebP sticker to PNG. An animated sticker yields its first frame: Connect shows still
/// images only, and the first frame is what WhatsApp itself shows before playback starts.
pub fn webp_to_png(bytes: &[u8]) -> Result<Vec<u8>, ConvertError> {
    contain_panic("WebP", || webp_first_frame_to_png(bytes))
}

/// Runs a codec on untrusted bytes, turning a panic into an error so one bad file fails one
/// message instead of the whole Lambda invocation (which would then be retried with the same file).
fn contain_panic<T>(
    codec: &'static str,
    work: impl FnOnce() -> Result<T, ConvertError> + UnwindSafe,
) -> Result<T, ConvertError> {
    panic::catch_unwind(work).unwrap_or(Err(ConvertError::DecoderPanicked(codec)))
}

fn decode_mono_16k(bytes: &[u8], max_duration: Duration) -> Result<Vec<i16>, ConvertError> {
    // The reader names the symptom ("stream ends inside a page", "CRC mismatch"); whether the
    // cause is a cut-short download is told by the page chain, which for a whole file reaches an
    // end-of-stream page.
    let truncated = || bytes.starts_with(b"OggS") && !reaches_end_of_stream(bytes);
    let mut reader = OggOpusReader::new(Cursor::new(bytes)).map_err(|e| {
        if truncated() {
            ConvertError::Truncated
        } else {
            ConvertError::NotOggOpus(e.to_string())
        }
    })?;
    let head = reader.head().clone();
    if head.mapping_family != 0 {
        return Err(ConvertError::UnsupportedChannelLayout {
            channels: head.channel_count,
            mapping_family: head.mapping_family,
        });
    }
    let channels = usize::from(head.channel_count);

    // Opus decoders output 16 kHz natively (RFC 6716): SILK, which carries speech, runs at 16 kHz
    // internally, and CELT zeroes everything above the output Nyquist before synthesis. Asking the
    // decoder for 16 kHz is therefore both exact and alias-free, with no separate resampler.
    let rate = WAV_SAMPLE_RATE as i32;
    let corrupt = |e: opus_pure::Error| ConvertError::CorruptAudio(e.to_string());
    // The header's decoder carries its output gain, which RFC 7845 §5.1 asks players to apply.
    let mut decoder = head.decoder(rate).map_err(corrupt)?;
    // Pre-skip (encoder delay) off the front and the final granule's end-trim off the back, so the
    // WAV is exactly the recorded audio and its duration matches what WhatsApp showed.
    let mut trim = Trim::new(&head, rate, channels).map_err(corrupt)?;

    let max_samples =
        usize::try_from(max_duration.as_millis() * u128::from(WAV_SAMPLE_RATE) / 1000).unwrap_or(usize::MAX);
    let mut block = vec![0i16; MAX_PACKET_SAMPLES * channels];
    let mut packet = OggPacket::default();
    let mut mono: Vec<i16> = Vec::new();
    while reader.read_packet_into(&mut packet).map_err(|e| {
        if truncated() {
            ConvertError::Truncated
        } else {
            corrupt(e)
        }
    })? {
        // decode_s16 soft-clips like libopus's opus_decode, so loud notes do not wrap around.
        let decoded = decoder
            .decode_s16(&packet.data, MAX_PACKET_SAMPLES, &mut block)
            .map_err(corrupt)?;
        let kept = trim.keep(&packet, &block[..decoded * channels]);
        if mono.len() + kept.len() / channels > max_samples {
            return Err(ConvertError::TooLong { limit: max_duration });
        }
        if channels == 1 {
            mono.extend_from_slice(kept);
        } else {
            // The mean of two i16 always fits an i16, so the downmix cannot clip.
            mono.extend(
                kept.chunks_exact(2)
                    .map(|lr| ((i32::from(lr[0]) + i32::from(lr[1])) / 2) as i16),
            );
        }
    }
    // The reader reports a clean end when the bytes run out on a page boundary, which is also what
    // a download cut short at that point looks like; only the end-of-stream flag tells them apart.
    if truncated() {
        return Err(ConvertError::Truncated);
    }
    if mono.is_empty() {
        return Err(ConvertError::NoAudio);
    }
    Ok(mono)
}

/// Whether the Ogg pages chain, header to header, to a page flagged end-of-stream that lies wholly
/// inside `bytes`. Only the framing is read here; checking CRCs is the reader's job.
fn reaches_end_of_stream(bytes: &[u8]) -> bool {
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + OGG_PAGE_HEADER_LEN) {
        if &header[..4] != b"OggS" {
            return false;
        }
        let segments = usize::from(header[26]);
        let Some(lacing) = bytes.get(at + OGG_PAGE_HEADER_LEN..at + OGG_PAGE_HEADER_LEN + segments) else {
            return false;
        };
        let end = at + OGG_PAGE_HEADER_LEN + segments + lacing.iter().map(|&l| usize::from(l)).sum::<usize>();
        if end > bytes.len() {
            return false;
        }
        if header[5] & OGG_EOS_FLAG != 0 {
            return true;
        }
        at = end;
    }
    false
}

fn wav_file(samples: &[i16]) -> Vec<u8> {
    let data_len = samples.len() * 2;
    // MAX_AUDIO_DURATION keeps this far below 4 GiB; a caller-chosen cap could not, so saturate
    // rather than wrap (a reader then stops at the real end of the data).
    let data_len_u32 = u32::try_from(data_len).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(WAV_HEADER_LEN + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&data_len_u32.saturating_add(36).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk length for plain PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // WAVE_FORMAT_PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // channels
    out.extend_from_slice(&WAV_SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(WAV_SAMPLE_RATE * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len_u32.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

fn webp_first_frame_to_png(bytes: &[u8]) -> Result<Vec<u8>, ConvertError> {
    // The WebP decoder tolerates a missing tail (lossy frames simply end early), which would turn
    // a cut-short download into a silently damaged sticker; the RIFF size says what should be there.
    if let Some(declared) = bytes.get(4..8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        && bytes.starts_with(b"RIFF")
        && (bytes.len() as u64) < u64::from(declared) + 8
    {
        return Err(ConvertError::NotWebp(format!(
            "truncated: {} of {} bytes present",
            bytes.len(),
            u64::from(declared) + 8
        )));
    }
    let not_webp = |e: image_webp::DecodingError| ConvertError::NotWebp(e.to_string());
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(not_webp)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(ConvertError::ImageTooLarge { width, height });
    }
    let size = decoder
        .output_buffer_size()
        .ok_or(ConvertError::ImageTooLarge { width, height })?;
    let mut pixels = vec![0u8; size];
    // For an animated WebP this composites the first frame onto the canvas.
    decoder.read_image(&mut pixels).map_err(not_webp)?;

    let color = if decoder.has_alpha() {
        png::ColorType::Rgba
    } else {
        png::ColorType::Rgb
    };
    let png_error = |e: png::EncodingError| ConvertError::PngEncode(e.to_string());
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&pixels).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOICE_NOTE: &[u8] = include_bytes!("../../../../tests/media/voice-note.ogg");
    const STEREO_48K: &[u8] = include_bytes!("../../../../tests/media/stereo-48k.ogg");
    const STICKER: &[u8] = include_bytes!("../../../../tests/media/sticker.webp");
    const STICKER_ANIMATED: &[u8] = include_bytes!("../../../../tests/media/sticker-animated.webp");

    /// The input's playing time by RFC 7845 arithmetic, independent of the decoder: the last page's
    /// granule position minus the OpusHead pre-skip, both counted at 48 kHz.
    fn declared_duration(ogg: &[u8]) -> Duration {
        let pre_skip = u64::from(u16::from_le_bytes([ogg[28 + 10], ogg[28 + 11]]));
        assert_eq!(
            &ogg[28..36],
            b"OpusHead",
            "first page holds OpusHead after a 1-segment table"
        );
        let mut at = 0;
        let mut last_granule = 0u64;
        while at < ogg.len() {
            assert_eq!(&ogg[at..at + 4], b"OggS");
            let granule = i64::from_le_bytes(ogg[at + 6..at + 14].try_into().unwrap());
            if granule >= 0 {
                last_granule = granule as u64;
            }
            let segments = usize::from(ogg[at + 26]);
            let body: usize = ogg[at + 27..at + 27 + segments].iter().map(|&l| usize::from(l)).sum();
            at += 27 + segments + body;
        }
        Duration::from_secs_f64((last_granule - pre_skip) as f64 / 48_000.0)
    }

    struct ParsedWav {
        channels: u16,
        sample_rate: u32,
        bits: u16,
        samples: Vec<i16>,
    }

    /// Reads the WAV back the way a strict player would, checking every size field.
    fn parse_wav(bytes: &[u8]) -> ParsedWav {
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32_at(4) as usize, bytes.len() - 8, "RIFF size");
        assert_eq!(&bytes[8..12], b"WAVE");
        assert_eq!(&bytes[12..16], b"fmt ");
        assert_eq!(u32_at(16), 16, "fmt chunk size");
        assert_eq!(u16_at(20), 1, "PCM");
        let (channels, sample_rate, bits) = (u16_at(22), u32_at(24), u16_at(34));
        assert_eq!(
            u32_at(28),
            sample_rate * u32::from(channels) * u32::from(bits / 8),
            "byte rate"
        );
        assert_eq!(u16_at(32), channels * bits / 8, "block align");
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(u32_at(40) as usize, bytes.len() - 44, "data size");
        let samples = bytes[44..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        ParsedWav {
            channels,
            sample_rate,
            bits,
            samples,
        }
    }

    /// Power of one frequency in the signal (Goertzel), normalised by length.
    fn tone_power(samples: &[i16], frequency: f64, rate: f64) -> f64 {
        let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency / rate).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in samples {
            let s0 = f64::from(x) + coefficient * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (samples.len() as f64).powi(2)
    }

    fn rms(samples: &[i16]) -> f64 {
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    }

    fn assert_within_5_percent(actual: Duration, expected: Duration) {
        let ratio = actual.as_secs_f64() / expected.as_secs_f64();
        assert!(
            (0.95..=1.05).contains(&ratio),
            "duration {actual:?}, expected {expected:?}"
        );
    }

    #[test]
    fn voice_note_becomes_16k_mono_wav_of_the_same_length() {
        let wav = ogg_opus_to_wav(VOICE_NOTE).unwrap();
        let parsed = parse_wav(&wav.bytes);
        assert_eq!((parsed.channels, parsed.sample_rate, parsed.bits), (1, 16_000, 16));

        let expected = declared_duration(VOICE_NOTE);
        assert!(
            (expected.as_secs_f64() - 3.0).abs() < 0.01,
            "sample is the 3 s clip: {expected:?}"
        );
        assert_within_5_percent(wav.duration, expected);
        // Trimming by granule makes it exact, not just close.
        assert_eq!(
            parsed.samples.len(),
            (expected.as_secs_f64() * 16_000.0).round() as usize
        );
        assert_eq!(wav.duration.as_nanos(), parsed.samples.len() as u128 * 62_500);
        assert!(
            rms(&parsed.samples) > 300.0,
            "speech, not silence: rms {}",
            rms(&parsed.samples)
        );
    }

    #[test]
    fn stereo_48k_is_downmixed_keeping_both_channels_at_the_right_pitch() {
        let wav = ogg_opus_to_wav(STEREO_48K).unwrap();
        let parsed = parse_wav(&wav.bytes);
        assert_eq!((parsed.channels, parsed.sample_rate), (1, 16_000));
        assert_within_5_percent(wav.duration, declared_duration(STEREO_48K));

        // Left carries 440 Hz and right 660 Hz: both must survive the downmix, at their own
        // frequencies (a wrong output rate would move them), well above an absent tone.
        let left = tone_power(&parsed.samples, 440.0, 16_000.0);
        let right = tone_power(&parsed.samples, 660.0, 16_000.0);
        let absent = tone_power(&parsed.samples, 1_000.0, 16_000.0);
        assert!(left > 1_000.0 * absent, "440 Hz {left} vs 1 kHz {absent}");
        assert!(right > 1_000.0 * absent, "660 Hz {right} vs 1 kHz {absent}");
        assert!(
            (0.5..2.0).contains(&(left / right)),
            "channels mixed evenly: {left} vs {right}"
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        // Every cut in the headers, every page boundary (which the Ogg reader alone would report
        // as a clean end of stream) and the bytes around it, and a spread of cuts mid-page.
        let mut cuts: Vec<usize> = (0..200).chain((200..VOICE_NOTE.len()).step_by(61)).collect();
        let mut at = 0;
        while at < VOICE_NOTE.len() {
            cuts.extend([at.saturating_sub(1), at, at + 1, at + 27]);
            let segments = usize::from(VOICE_NOTE[at + 26]);
            at += 27
                + segments
                + VOICE_NOTE[at + 27..at + 27 + segments]
                    .iter()
                    .map(|&l| usize::from(l))
                    .sum::<usize>();
        }
        for len in cuts.into_iter().filter(|&len| len < VOICE_NOTE.len()) {
            let result = ogg_opus_to_wav(&VOICE_NOTE[..len]);
            assert!(result.is_err(), "cut at {len} of {} decoded", VOICE_NOTE.len());
        }
        assert_eq!(
            ogg_opus_to_wav(&VOICE_NOTE[..VOICE_NOTE.len() - 1]),
            Err(ConvertError::Truncated)
        );
    }

    #[test]
    fn corrupted_bytes_are_errors() {
        let mut flipped = VOICE_NOTE.to_vec();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x5a;
        assert!(matches!(ogg_opus_to_wav(&flipped), Err(ConvertError::CorruptAudio(_))));

        assert!(matches!(ogg_opus_to_wav(b""), Err(ConvertError::NotOggOpus(_))));
        assert!(matches!(ogg_opus_to_wav(STICKER), Err(ConvertError::NotOggOpus(_))));
        let mut head_damaged = VOICE_NOTE.to_vec();
        head_damaged[30] = b'X'; // inside "OpusHead"; the CRC no longer matches either
        assert!(ogg_opus_to_wav(&head_damaged).is_err());
    }

    #[test]
    fn garbage_packets_in_a_valid_container_never_panic() {
        // CRCs are correct here, so the bytes reach the Opus decoder itself.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for channels in [1u8, 2] {
            for _ in 0..40 {
                let head = opus_pure::OpusHead::new(channels, 16_000).unwrap();
                let mut writer = opus_pure::OggOpusWriter::new(Vec::new(), head).unwrap();
                for _ in 0..5 {
                    let len = (next() % 300) as usize + 1;
                    let packet: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                    writer.write_packet_with_duration(&packet, 960).unwrap();
                }
                let ogg = writer.finish().unwrap();
                match ogg_opus_to_wav(&ogg) {
                    Ok(wav) => assert_eq!(parse_wav(&wav.bytes).channels, 1),
                    Err(ConvertError::CorruptAudio(_) | ConvertError::NoAudio) => {}
                    Err(other) => panic!("unexpected error {other:?}"),
                }
            }
        }
    }

    #[test]
    fn audio_longer_than_the_cap_is_refused() {
        assert_eq!(
            ogg_opus_to_wav_capped(VOICE_NOTE, Duration::from_secs(1)),
            Err(ConvertError::TooLong {
                limit: Duration::from_secs(1)
            })
        );
        assert!(ogg_opus_to_wav_capped(VOICE_NOTE, Duration::from_secs(4)).is_ok());
    }

    #[test]
    fn surround_streams_are_refused_by_name() {
        // An OpusHead for 3 channels (mapping family 1) on a stream otherwise like the voice note.
        let layout = opus_pure::ChannelLayout::surround(3, 1).unwrap();
        let head = opus_pure::OpusHead::for_layout(&layout, 48_000);
        let ogg = opus_pure::OggOpusWriter::new(Vec::new(), head)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(
            ogg_opus_to_wav(&ogg),
            Err(ConvertError::UnsupportedChannelLayout {
                channels: 3,
                mapping_family: 1
            })
        );
    }

    fn decode_png(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(Cursor::new(png_bytes)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        pixels.truncate(info.buffer_size());
        (info, pixels)
    }

    fn decode_webp(webp: &[u8]) -> ((u32, u32), Vec<u8>) {
        let mut decoder = image_webp::WebPDecoder::new(Cursor::new(webp)).unwrap();
        let mut pixels = vec![0; decoder.output_buffer_size().unwrap()];
        decoder.read_image(&mut pixels).unwrap();
        (decoder.dimensions(), pixels)
    }

    #[test]
    fn sticker_becomes_a_png_with_the_same_pixels() {
        let png_bytes = webp_to_png(STICKER).unwrap();
        let (info, pixels) = decode_png(&png_bytes);
        let ((width, height), webp_pixels) = decode_webp(STICKER);
        assert_eq!((info.width, info.height), (width, height));
        assert_eq!((info.width, info.height), (320, 257), "the committed sample's size");
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        assert_eq!(
            pixels, webp_pixels,
            "PNG is lossless, so the pixels are the decoded WebP's"
        );
    }

    #[test]
    fn animated_sticker_becomes_its_first_frame() {
        let mut decoder = image_webp::WebPDecoder::new(Cursor::new(STICKER_ANIMATED)).unwrap();
        assert!(
            decoder.is_animated() && decoder.num_frames() == 2,
            "sample is a 2-frame animation"
        );
        let mut first = vec![0; decoder.output_buffer_size().unwrap()];
        decoder.read_frame(&mut first).unwrap();
        let mut second = vec![0; first.len()];
        decoder.read_frame(&mut second).unwrap();
        assert_ne!(first, second, "frames differ, so the test can tell which one was kept");

        let (info, pixels) = decode_png(&webp_to_png(STICKER_ANIMATED).unwrap());
        assert_eq!((info.width, info.height), decoder.dimensions());
        assert_eq!(pixels, first);
    }

    #[test]
    fn broken_webp_is_an_error() {
        for len in [0, 4, 12, 20, 30, STICKER.len() / 2, STICKER.len() - 1] {
            assert!(
                matches!(webp_to_png(&STICKER[..len]), Err(ConvertError::NotWebp(_))),
                "cut at {len}"
            );
        }
        assert!(matches!(webp_to_png(VOICE_NOTE), Err(ConvertError::NotWebp(_))));
        let mut flipped = STICKER.to_vec();
        for i in (40..flipped.len()).step_by(97) {
            flipped[i] ^= 0xff;
        }
        // Lossy VP8 has no checksum, so damage may still decode to some picture; what matters is
        // that it never panics and any output is a valid PNG.
        if let Ok(png_bytes) = webp_to_png(&flipped) {
            decode_png(&png_bytes);
        }
    }

    #[test]
    fn oversized_webp_canvas_is_refused_before_decoding() {
        // A lossless (VP8L) header claiming 16000x16000, with no image data behind it.
        let (width, height) = (16_000u32, 16_000u32);
        let bits = (width - 1) | ((height - 1) << 14);
        let mut vp8l = vec![0x2f];
        vp8l.extend_from_slice(&bits.to_le_bytes());
        vp8l.extend_from_slice(&[0; 8]);
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&(4 + 8 + vp8l.len() as u32).to_le_bytes());
        webp.extend_from_slice(b"WEBPVP8L");
        webp.extend_from_slice(&(vp8l.len() as u32).to_le_bytes());
        webp.extend_from_slice(&vp8l);
        assert_eq!(webp_to_png(&webp), Err(ConvertError::ImageTooLarge { width, height }));
    }
}
