//! Amazon Transcribe streaming for voice notes: the Ogg/Opus file is streamed as `ogg-opus` at
//! 48 kHz (the rate Opus always decodes at, and the value proven with WhatsApp notes), in small
//! chunks paced at the recording's own speed, as AWS asks for pre-recorded audio. Only final
//! results count. The stream is fused: the SDK polls it once more after its end. The whole
//! transcription is given the audio's streaming time and 30 s for the last results, never more than
//! the invocation has left less [`AFTER_TRANSCRIPTION`]: a slow service costs the transcript, not
//! the message.

use super::Boxed;
use crate::error::{FailureKind, PortError};
use crate::media::budget::{AFTER_TRANSCRIPTION, within_invocation};
use crate::media::convert::ogg_opus_duration;
use crate::media::ports::{TranscribeLanguage, Transcriber};
use crate::ports::PortResult;
use aws_sdk_transcribestreaming::error::ProvideErrorMetadata;
use aws_sdk_transcribestreaming::primitives::Blob;
use aws_sdk_transcribestreaming::types::error::AudioStreamError;
use aws_sdk_transcribestreaming::types::{
    AudioEvent, AudioStream, LanguageCode, MediaEncoding, TranscriptResultStream,
};
use futures_util::StreamExt;
use std::time::Duration;

const OP: &str = "StartStreamTranscription";
/// Bytes per AudioEvent: well under the service's frame limit.
pub const CHUNK_BYTES: usize = 8 * 1024;
/// Assumed bitrate when the file's length cannot be read (WhatsApp voice notes are ~16-32 kbit/s).
const FALLBACK_BYTES_PER_SECOND: f64 = 4_000.0;
/// How long the final results may take after the last chunk was sent.
const FINAL_RESULTS: Duration = Duration::from_secs(30);

pub struct TranscribeStreaming {
    client: aws_sdk_transcribestreaming::Client,
    /// 1.0 = real time; tests may go faster.
    speed: f64,
}

impl TranscribeStreaming {
    pub fn new(client: aws_sdk_transcribestreaming::Client, speed: f64) -> Self {
        Self {
            client,
            speed: if speed.is_finite() && speed > 0.0 { speed } else { 1.0 },
        }
    }
}

/// How long to wait between chunks so the audio flows at `speed` × real time.
fn chunk_interval(audio: &[u8], speed: f64) -> Duration {
    let bytes_per_second = ogg_opus_duration(audio)
        .filter(|d| !d.is_zero())
        .map_or(FALLBACK_BYTES_PER_SECOND, |d| audio.len() as f64 / d.as_secs_f64());
    Duration::from_secs_f64(CHUNK_BYTES as f64 / bytes_per_second / speed)
}

/// The time a whole transcription of `chunks` chunks `interval` apart is given (see the module doc).
fn stream_budget(interval: Duration, chunks: usize) -> Duration {
    let wanted = interval.saturating_mul(u32::try_from(chunks).unwrap_or(u32::MAX)) + FINAL_RESULTS;
    within_invocation(wanted, AFTER_TRANSCRIPTION)
}

fn stream_error(code: Option<&str>) -> PortError {
    let code = code.unwrap_or("stream error").to_owned();
    let kind = match code.as_str() {
        "BadRequestException" => FailureKind::Rejected,
        _ => FailureKind::Transient,
    };
    PortError::new(kind, OP, code)
}

impl Transcriber for TranscribeStreaming {
    async fn transcribe_ogg_opus(&self, audio: &[u8], language: &TranscribeLanguage) -> PortResult<String> {
        let interval = chunk_interval(audio, self.speed);
        let chunks: Vec<Vec<u8>> = audio.chunks(CHUNK_BYTES).map(<[u8]>::to_vec).collect();
        let total = stream_budget(interval, chunks.len());
        let stream = futures_util::stream::unfold((chunks.into_iter(), true), move |(mut rest, first)| async move {
            let chunk = rest.next()?;
            if !first {
                tokio::time::sleep(interval).await;
            }
            let event = AudioStream::AudioEvent(AudioEvent::builder().audio_chunk(Blob::new(chunk)).build());
            Some((Ok::<_, AudioStreamError>(event), (rest, false)))
        });
        let mut request = self
            .client
            .start_stream_transcription()
            .media_encoding(MediaEncoding::OggOpus)
            .media_sample_rate_hertz(48_000)
            .audio_stream(stream.fuse().into());
        request = match language {
            TranscribeLanguage::Fixed(code) => request.language_code(LanguageCode::from(code.as_str())),
            TranscribeLanguage::Identify(options) => {
                request.identify_language(true).language_options(options.join(","))
            }
        };
        let run = async {
            let mut out = request
                .send()
                .boxed()
                .await
                .map_err(|e| super::classify(OP, e, false))?;
            let mut text: Vec<String> = Vec::new();
            loop {
                match out.transcript_result_stream.recv().await {
                    Ok(Some(TranscriptResultStream::TranscriptEvent(event))) => {
                        let results = event.transcript().map(|t| t.results()).unwrap_or_default();
                        for result in results.iter().filter(|r| !r.is_partial()) {
                            if let Some(t) = result.alternatives().first().and_then(|a| a.transcript()) {
                                let t = t.trim();
                                if !t.is_empty() {
                                    text.push(t.to_owned());
                                }
                            }
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => return Err(stream_error(e.as_service_error().and_then(|s| s.code()))),
                }
            }
            Ok(text.join(" "))
        };
        let result = tokio::time::timeout(total, run)
            .await
            .unwrap_or_else(|_| Err(PortError::new(FailureKind::Transient, OP, "timeout")));
        crate::metrics::record(&crate::metrics::Metric::Transcription {
            audio: ogg_opus_duration(audio).unwrap_or_default(),
            failed: result.is_err(),
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::within_deadline;
    use crate::telemetry::now_ms;

    #[test]
    fn outside_an_invocation_the_audio_time_and_the_final_results_are_given() {
        assert_eq!(
            stream_budget(Duration::from_secs(1), 20),
            Duration::from_secs(20) + FINAL_RESULTS
        );
    }

    #[tokio::test]
    async fn the_transcription_budget_ends_before_the_invocation_does() {
        // 60 s of audio with 40 s left: what fits is 40 s less what posting the transcript needs.
        let budget = within_deadline(now_ms() + 40_000, async { stream_budget(Duration::from_secs(1), 60) }).await;
        assert!(budget <= Duration::from_secs(30), "{budget:?}");
        assert!(budget > Duration::from_secs(25), "{budget:?}");
        // A short note still gets its own time and the final results', far from the deadline.
        let budget = within_deadline(now_ms() + 300_000, async {
            stream_budget(Duration::from_millis(500), 6)
        })
        .await;
        assert_eq!(budget, Duration::from_secs(3) + FINAL_RESULTS);
        // With less than the margin left, nothing is started that could outlive the invocation.
        let budget = within_deadline(now_ms() + 5_000, async { stream_budget(Duration::from_secs(1), 3) }).await;
        assert_eq!(budget, Duration::ZERO);
    }
}
