//! Media that has to change shape on its way between WhatsApp and Amazon Connect chat.
//!
//! The two sides accept different file types (Meta's "Supported media types" for WhatsApp, "Enable
//! attachments" in the Amazon Connect Administrator Guide): a WhatsApp voice note is Ogg/Opus, which
//! Connect chat refuses, and a sticker is WebP, which Connect does not list either.
//! Dropping such messages would hide what the customer said, so this module decides what each
//! attachment becomes ([`policy`]) and performs the two conversions that make it deliverable
//! ([`convert`]).
//!
//! `policy` and `convert` are pure: bytes and metadata in, bytes and decisions out. [`service`] does the
//! I/O around them through the small interfaces in [`ports`] (EUM media, the media bucket, chat
//! attachments, Transcribe), implemented on the AWS SDK in `crate::aws`. The codecs are pure Rust so
//! the Lambdas keep cross-compiling to aarch64 without a C toolchain. [`budget`] bounds every
//! transfer and transcription by the time the invocation has left.

pub mod budget;
pub mod convert;
pub mod handler;
pub mod policy;
pub mod ports;
pub mod service;
