//! The media rules, case by case: every WhatsApp type and size against Connect's defaults and limits.

use super::*;
use crate::media::convert::{PNG_MIME, WAV_MIME};
use crate::wording::english as bridge_wording;

fn inbound(kind: MediaKind, mime: &str, size: u64) -> InboundMedia<'_> {
    InboundMedia {
        kind,
        mime_type: mime,
        size,
        voice: false,
        filename: None,
    }
}

fn decide(media: InboundMedia<'_>) -> InboundFileAction {
    inbound_action(&media, &ConnectLimits::default())
}

#[test]
fn mime_types_are_normalised() {
    assert_eq!(canonical_mime("audio/ogg; codecs=opus", None), Some("audio/ogg"));
    assert_eq!(canonical_mime(" IMAGE/JPG ", None), Some("image/jpeg"));
    assert_eq!(canonical_mime("audio/x-wav", None), Some("audio/wav"));
    assert_eq!(canonical_mime("text/rtf", None), Some("application/rtf"));
    assert_eq!(canonical_mime("video/3gp", None), Some("video/3gpp"));
    assert_eq!(
        canonical_mime("application/zip", Some("a.pdf")),
        None,
        "a real type wins"
    );
    assert_eq!(
        canonical_mime("application/octet-stream", Some("Report.PDF")),
        Some("application/pdf")
    );
    assert_eq!(canonical_mime("", Some("sheet.xlsx")), Some(xlsx()));
    assert_eq!(canonical_mime("", Some("pdf")), None, "a bare word is not an extension");
    assert_eq!(canonical_mime("", None), None);
}

fn xlsx() -> &'static str {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
}

#[test]
fn connect_accepts_exactly_its_listed_types() {
    let limits = ConnectLimits::default();
    for mime in [
        "text/csv",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "image/jpeg",
        "application/pdf",
        "image/png",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "text/plain",
        "audio/wav",
        "application/vnd.ms-excel",
        xlsx(),
        "video/mp4",
        "video/quicktime",
        "image/heic",
        "application/rtf",
    ] {
        assert!(limits.accepts(mime), "{mime}");
    }
    for mime in [
        "audio/ogg",
        "image/webp",
        "audio/aac",
        "audio/mpeg",
        "video/3gpp",
        "application/zip",
        "",
    ] {
        assert!(!limits.accepts(mime), "{mime}");
    }
}

#[test]
fn voice_notes_and_ogg_audio_are_converted_to_wav() {
    let voice = InboundMedia {
        voice: true,
        ..inbound(MediaKind::Audio, "audio/ogg; codecs=opus", 40_000)
    };
    assert_eq!(decide(voice), InboundFileAction::ConvertToWav);
    assert_eq!(
        decide(inbound(MediaKind::Audio, "audio/ogg", 40_000)),
        InboundFileAction::ConvertToWav
    );
    let unlabelled = InboundMedia {
        voice: true,
        ..inbound(MediaKind::Audio, "", 40_000)
    };
    assert_eq!(decide(unlabelled), InboundFileAction::ConvertToWav);
    // Size of the Ogg input is bounded by WhatsApp's audio limit, not Connect's.
    assert_eq!(
        decide(inbound(MediaKind::Audio, "audio/ogg", 17 * MB)),
        InboundFileAction::TooLarge {
            limit: WHATSAPP_AUDIO_MAX_BYTES
        }
    );
    assert_eq!(
        decide(inbound(MediaKind::Audio, "audio/ogg", 16 * MB)),
        InboundFileAction::ConvertToWav
    );
}

#[test]
fn stickers_and_webp_images_are_converted_to_png() {
    assert_eq!(
        decide(inbound(MediaKind::Sticker, "image/webp", 30_000)),
        InboundFileAction::ConvertToPng
    );
    assert_eq!(
        decide(inbound(MediaKind::Sticker, "", 30_000)),
        InboundFileAction::ConvertToPng
    );
    assert_eq!(
        decide(inbound(MediaKind::Image, "image/webp", 30_000)),
        InboundFileAction::ConvertToPng
    );
    assert_eq!(
        decide(inbound(MediaKind::Sticker, "image/webp", 21 * MB)),
        InboundFileAction::TooLarge {
            limit: CONNECT_DEFAULT_MAX_BYTES
        }
    );
}

#[test]
fn accepted_types_attach_as_is_up_to_the_limit() {
    let cases = [
        (MediaKind::Image, "image/jpeg", "image/jpeg"),
        (MediaKind::Image, "image/png", "image/png"),
        (MediaKind::Video, "video/mp4", "video/mp4"),
        (MediaKind::Document, "application/pdf", "application/pdf"),
        (MediaKind::Document, "text/plain", "text/plain"),
        (MediaKind::Document, xlsx(), xlsx()),
        (MediaKind::Document, "audio/x-wav", "audio/wav"),
    ];
    for (kind, mime, content_type) in cases {
        assert_eq!(
            decide(inbound(kind, mime, 20 * MB)),
            InboundFileAction::Attach { content_type },
            "{mime}"
        );
        assert_eq!(
            decide(inbound(kind, mime, 20 * MB + 1)),
            InboundFileAction::TooLarge {
                limit: CONNECT_DEFAULT_MAX_BYTES
            },
            "{mime}"
        );
    }
    let raised = ConnectLimits { max_bytes: 100 * MB };
    let big_pdf = inbound(MediaKind::Document, "application/pdf", 50 * MB);
    assert_eq!(
        inbound_action(&big_pdf, &raised),
        InboundFileAction::Attach {
            content_type: "application/pdf"
        }
    );
}

#[test]
fn documents_without_a_useful_type_are_judged_by_extension() {
    let media = InboundMedia {
        filename: Some("contract.docx"),
        ..inbound(MediaKind::Document, "application/octet-stream", 1_000)
    };
    assert_eq!(
        decide(media),
        InboundFileAction::Attach {
            content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
    );
}

#[test]
fn types_connect_cannot_show_are_described_not_dropped() {
    for (kind, mime) in [
        (MediaKind::Audio, "audio/aac"),
        (MediaKind::Audio, "audio/mpeg"),
        (MediaKind::Audio, "audio/amr"),
        (MediaKind::Video, "video/3gpp"),
        (MediaKind::Document, "application/zip"),
        (MediaKind::Document, ""),
    ] {
        let media = inbound(kind, mime, 50 * MB);
        assert_eq!(decide(media), InboundFileAction::NotAccepted, "{mime}");
        let text = describe_for_agent(bridge_wording(), &media, Some(InboundFileAction::NotAccepted)).unwrap();
        assert!(text.contains("cannot show") && text.contains("50.0 MB"), "{text}");
    }
}

#[test]
fn descriptions_name_what_was_sent() {
    let voice = InboundMedia {
        voice: true,
        ..inbound(MediaKind::Audio, "audio/ogg; codecs=opus", 2_500)
    };
    assert_eq!(
        describe_for_agent(bridge_wording(), &voice, None).unwrap(),
        "The customer sent a voice message (audio/ogg, 3 KB) that could not be converted for this chat."
    );
    let document = InboundMedia {
        filename: Some("../../etc/passwd\u{202e}fdp.exe"),
        ..inbound(MediaKind::Document, "application/pdf", 25 * MB)
    };
    let too_large = decide(document);
    assert_eq!(
        describe_for_agent(bridge_wording(), &document, Some(too_large)).unwrap(),
        "The customer sent a document \"passwdfdp.exe\" (25.0 MB), larger than the 20.0 MB this chat can show."
    );
    assert_eq!(
        describe_for_agent(bridge_wording(), &voice, Some(InboundFileAction::ConvertToWav)),
        None
    );
    let photo = inbound(MediaKind::Image, "image/jpeg", 10);
    assert_eq!(describe_for_agent(bridge_wording(), &photo, Some(decide(photo))), None);
}

#[test]
fn after_conversion_the_output_is_checked_against_the_limit() {
    let wav = inbound(MediaKind::Audio, WAV_MIME, 3 * MB);
    assert_eq!(decide(wav), InboundFileAction::Attach { content_type: WAV_MIME });
    let long_wav = inbound(MediaKind::Audio, WAV_MIME, 25 * MB);
    assert_eq!(
        decide(long_wav),
        InboundFileAction::TooLarge {
            limit: CONNECT_DEFAULT_MAX_BYTES
        }
    );
    let png = inbound(MediaKind::Sticker, PNG_MIME, 200_000);
    assert_eq!(decide(png), InboundFileAction::Attach { content_type: PNG_MIME });
}

#[test]
fn wav_duration_cap_follows_the_size_limit() {
    // 20 MB at 32,000 bytes a second, less the header, is just under 10 min 25 s.
    let cap = ConnectLimits::default().max_wav_duration();
    assert_eq!(cap.as_secs(), 624);
    assert!(44 + cap.as_millis() as u64 * 32 <= CONNECT_DEFAULT_MAX_BYTES);
    assert_eq!(
        ConnectLimits { max_bytes: 100 * MB }.max_wav_duration(),
        MAX_AUDIO_DURATION
    );
    assert_eq!(ConnectLimits { max_bytes: 0 }.max_wav_duration(), Duration::ZERO);
}

#[test]
fn from_whatsapp_reads_the_parsed_message() {
    let media = Media {
        kind: MediaKind::Audio,
        id: "123".to_owned(),
        mime_type: Some("audio/ogg; codecs=opus".to_owned()),
        sha256: None,
        caption: None,
        filename: None,
        voice: true,
        animated: false,
    };
    let inbound = InboundMedia::from_whatsapp(&media, 9_000);
    assert_eq!(inbound.mime_type, "audio/ogg; codecs=opus");
    assert!(inbound.voice);
    assert_eq!(inbound.size, 9_000);
}

#[test]
fn whatsapp_limits_per_type() {
    assert_eq!(whatsapp_max_bytes(MediaKind::Audio, false), 16_000_000);
    assert_eq!(whatsapp_max_bytes(MediaKind::Document, false), 100_000_000);
    assert_eq!(whatsapp_max_bytes(MediaKind::Image, false), 5_000_000);
    assert_eq!(whatsapp_max_bytes(MediaKind::Sticker, false), 100_000);
    assert_eq!(whatsapp_max_bytes(MediaKind::Sticker, true), 500_000);
    assert_eq!(whatsapp_max_bytes(MediaKind::Video, false), 16_000_000);

    for mime in [
        "audio/aac",
        "audio/amr",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg; codecs=opus",
    ] {
        assert!(whatsapp_accepts(MediaKind::Audio, mime), "{mime}");
    }
    assert!(whatsapp_accepts(MediaKind::Image, "image/jpeg"));
    assert!(whatsapp_accepts(MediaKind::Image, "image/png"));
    assert!(!whatsapp_accepts(MediaKind::Image, "image/webp"));
    assert!(whatsapp_accepts(MediaKind::Sticker, "image/webp"));
    assert!(whatsapp_accepts(MediaKind::Video, "video/mp4"));
    assert!(whatsapp_accepts(MediaKind::Video, "video/3gp"));
    assert!(!whatsapp_accepts(MediaKind::Video, "video/quicktime"));
    assert!(whatsapp_accepts(MediaKind::Document, "application/pdf"));
    assert!(whatsapp_accepts(MediaKind::Document, "text/plain"));
    assert!(!whatsapp_accepts(MediaKind::Document, "text/csv"));
    assert!(!whatsapp_accepts(MediaKind::Audio, "audio/wav"));
}

#[test]
fn agent_attachments_use_the_richest_whatsapp_type_that_fits() {
    assert_eq!(
        outbound_action("image/jpeg", 5 * MB, "a.jpg"),
        OutboundFileAction::Image
    );
    assert_eq!(outbound_action("image/png", 100, "a.png"), OutboundFileAction::Image);
    assert_eq!(
        outbound_action("video/mp4", 16 * MB, "clip.mp4"),
        OutboundFileAction::Video
    );
    assert_eq!(
        outbound_action("audio/mpeg", 1_000, "song.mp3"),
        OutboundFileAction::Audio
    );
    // Over the image limit: still delivered, as a document.
    assert_eq!(
        outbound_action("image/jpeg", 5 * MB + 1, "scan.jpg"),
        OutboundFileAction::Document {
            file_name: "scan.jpg".to_owned()
        }
    );
    assert_eq!(
        outbound_action("video/mp4", 16 * MB + 1, "long.mp4"),
        OutboundFileAction::Document {
            file_name: "long.mp4".to_owned()
        }
    );
}

#[test]
fn other_agent_attachments_go_as_documents_keeping_their_name() {
    let cases = [
        ("application/pdf", "Invoice 2024.pdf", "Invoice 2024.pdf"),
        (xlsx(), "budget.xlsx", "budget.xlsx"),
        ("text/csv", "export.csv", "export.csv"),
        ("audio/wav", "recording.wav", "recording.wav"),
        ("video/quicktime", "screen.mov", "screen.mov"),
        ("image/heic", "IMG_0001.HEIC", "IMG_0001.HEIC"),
        ("application/rtf", "letter", "letter.rtf"),
        ("application/pdf", "C:\\Users\\agent\\terms.pdf", "terms.pdf"),
        ("application/pdf", "...", "attachment.pdf"),
        ("application/x-unknown", "data.bin", "data.bin"),
    ];
    for (mime, name, expected) in cases {
        assert_eq!(
            outbound_action(mime, 20 * MB, name),
            OutboundFileAction::Document {
                file_name: expected.to_owned()
            },
            "{mime} {name}"
        );
    }
    assert_eq!(
        outbound_action("application/pdf", 100 * MB + 1, "huge.pdf"),
        OutboundFileAction::TooLarge {
            limit: WHATSAPP_DOCUMENT_MAX_BYTES
        }
    );
    assert_eq!(
        outbound_action("image/png", 101 * MB, "huge.png"),
        OutboundFileAction::TooLarge {
            limit: WHATSAPP_DOCUMENT_MAX_BYTES
        }
    );
}

#[test]
fn generated_names_follow_kind_and_type() {
    let cases = [
        (MediaKind::Audio, true, WAV_MIME, "voice-note-wamid123.wav"),
        (MediaKind::Audio, false, WAV_MIME, "audio-wamid123.wav"),
        (MediaKind::Image, false, "image/jpeg", "photo-wamid123.jpg"),
        (MediaKind::Image, false, "image/png", "photo-wamid123.png"),
        (MediaKind::Sticker, false, PNG_MIME, "sticker-wamid123.png"),
        (MediaKind::Video, false, "video/mp4", "video-wamid123.mp4"),
        (MediaKind::Document, false, "application/pdf", "document-wamid123.pdf"),
        (MediaKind::Document, false, "application/x-thing", "document-wamid123"),
    ];
    for (kind, voice, mime, expected) in cases {
        assert_eq!(file_name(kind, voice, mime, None, "wamid123"), expected);
    }
    assert_eq!(
        file_name(MediaKind::Image, false, "image/jpeg", None, "../x/\u{0}y"),
        "photo-xy.jpg",
        "ids are filtered too"
    );
    assert_eq!(file_name(MediaKind::Image, false, "image/jpeg", None, ""), "photo.jpg");
}

#[test]
fn customer_names_are_kept_with_the_right_extension() {
    let name = |mime, original| file_name(MediaKind::Document, false, mime, Some(original), "id1");
    assert_eq!(name("application/pdf", "Contrato firmado.pdf"), "Contrato firmado.pdf");
    assert_eq!(name("application/pdf", "Contrato firmado.PDF"), "Contrato firmado.PDF");
    assert_eq!(name("application/pdf", "Contrato"), "Contrato.pdf");
    assert_eq!(name("image/jpeg", "photo.jpeg"), "photo.jpeg");
    // Converted: a known but different extension is replaced, an unknown one kept.
    assert_eq!(name(WAV_MIME, "memo.ogg"), "memo.wav");
    assert_eq!(name(PNG_MIME, "cat.webp"), "cat.png");
    assert_eq!(name("application/pdf", "v1.2 final"), "v1.2 final.pdf");
    // Nothing usable left: fall back to a generated name.
    assert_eq!(name("application/pdf", "../.."), "document-id1.pdf");
    assert_eq!(name("application/pdf", "\u{202e}\u{7}"), "document-id1.pdf");
}

#[test]
fn sanitising_removes_paths_controls_and_disguises() {
    assert_eq!(sanitize_file_name("report.pdf").as_deref(), Some("report.pdf"));
    assert_eq!(sanitize_file_name("../../etc/passwd").as_deref(), Some("passwd"));
    assert_eq!(sanitize_file_name("..\\..\\boot.ini").as_deref(), Some("boot.ini"));
    assert_eq!(sanitize_file_name("a\u{0}b\nc\u{7f}d.txt").as_deref(), Some("abcd.txt"));
    assert_eq!(
        sanitize_file_name("invoice\u{202e}fdp.exe").as_deref(),
        Some("invoicefdp.exe")
    );
    assert_eq!(
        sanitize_file_name("a<b>c:d\"e|f?g*h.txt").as_deref(),
        Some("a_b_c_d_e_f_g_h.txt")
    );
    assert_eq!(sanitize_file_name(" .hidden ").as_deref(), Some("hidden"));
    assert_eq!(sanitize_file_name("trailing.").as_deref(), Some("trailing"));
    assert_eq!(
        sanitize_file_name("résumé 履歴書.pdf").as_deref(),
        Some("résumé 履歴書.pdf")
    );
    for empty in ["", "/", "..", " . ", "dir/", "\u{200b}"] {
        assert_eq!(sanitize_file_name(empty), None, "{empty:?}");
    }
}

#[test]
fn long_names_are_shortened_on_a_character_boundary_keeping_the_extension() {
    let long = format!("{}.pdf", "履".repeat(100)); // 300 bytes of stem
    let short = sanitize_file_name(&long).unwrap();
    assert!(short.len() <= MAX_FILE_NAME_BYTES, "{} bytes", short.len());
    assert!(short.ends_with("履.pdf"), "{short}");
    assert_eq!(
        short.len(),
        195 + 4,
        "65 whole three-byte characters, then the extension"
    );

    let no_extension = "x".repeat(500);
    assert_eq!(sanitize_file_name(&no_extension).unwrap().len(), MAX_FILE_NAME_BYTES);

    // Appending an extension to a name already at the limit stays within it.
    let at_limit = "y".repeat(MAX_FILE_NAME_BYTES);
    let named = file_name(MediaKind::Document, false, "application/pdf", Some(&at_limit), "id");
    assert!(named.len() <= MAX_FILE_NAME_BYTES && named.ends_with(".pdf"), "{named}");
}
