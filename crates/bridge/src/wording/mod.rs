//! The bridge's own words: every text it says to a customer or to an agent, in the language of the
//! business number, from a message catalogue.
//!
//! The built-in catalogues (English, Latin American Spanish, Brazilian Portuguese) are Fluent files
//! compiled into the binary: Fluent gives each language its own plural rules and lets a message choose
//! its wording by a variable (a document with or without a name), so no sentence is glued together from
//! English-shaped pieces. Operators override any message in the same syntax (`MESSAGES`, a number's
//! `messages` in `NUMBER_ROUTES`, the older `NOTICE_*` variables); an override is checked when the
//! configuration is read, so a typo fails the cold start instead of reaching a customer.
//!
//! [`Text`] lists every message with the variables it gets; a test renders each one in each language.

mod overrides;

pub use overrides::{Overrides, legacy_notice_overrides, parse_overrides};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::fmt;

pub use fluent_bundle::FluentValue as Arg;

/// A language the bridge speaks, by its BCP 47 tag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Language {
    #[default]
    En,
    /// Latin American Spanish.
    Es419,
    /// Brazilian Portuguese.
    PtBr,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::En, Language::Es419, Language::PtBr];

    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es419 => "es-419",
            Language::PtBr => "pt-BR",
        }
    }

    /// `en`, `es-419` or `pt-BR` (any case).
    pub fn parse(tag: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag.trim()))
            .ok_or_else(|| format!("must be one of en, es-419, pt-BR (got '{}')", tag.trim()))
    }

    fn catalogue(self) -> &'static str {
        match self {
            Language::En => include_str!("en.ftl"),
            Language::Es419 => include_str!("es-419.ftl"),
            Language::PtBr => include_str!("pt-BR.ftl"),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

macro_rules! texts {
    ($($(#[$doc:meta])* $name:ident = $id:literal [$($var:literal),*]),* $(,)?) => {
        /// Every message of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Text {
            $($(#[$doc])* $name,)*
        }

        impl Text {
            pub const ALL: &'static [Text] = &[$(Text::$name,)*];

            /// The message's id in the catalogues and in overrides.
            pub fn id(self) -> &'static str {
                match self {
                    $(Text::$name => $id,)*
                }
            }

            /// The variables the bridge passes to this message.
            pub fn variables(self) -> &'static [&'static str] {
                match self {
                    $(Text::$name => &[$($var),*],)*
                }
            }
        }
    };
}

texts! {
    NoticeAgentJoined = "notice-agent-joined" ["agent"],
    NoticeAgentLeft = "notice-agent-left" ["agent"],
    NoticeTransferred = "notice-transferred" [],
    NoticeChatEnded = "notice-chat-ended" [],
    NoticeIdle = "notice-idle" [],
    NoticeAutoDisconnect = "notice-auto-disconnect" [],
    NoticeCustomerEnded = "notice-customer-ended" [],
    AgentFallback = "agent-fallback" [],
    MenuListButton = "menu-list-button" [],
    MenuTimeButton = "menu-time-button" [],
    MenuMoreOptions = "menu-more-options" [],
    MenuNumberedPrompt = "menu-numbered-prompt" [],
    FileKindNotPassed = "file-kind-not-passed" [],
    FileNotPassed = "file-not-passed" [],
    FileNotConverted = "file-not-converted" [],
    FileTooLarge = "file-too-large" ["limit"],
    AgentFileTooLarge = "agent-file-too-large" ["name", "limit"],
    TranscriptEcho = "transcript-echo" ["transcript"],
    Transcript = "transcript" ["transcript"],
    TranscriptSilent = "transcript-silent" [],
    TranscriptFailed = "transcript-failed" [],
    TranscriptTooLong = "transcript-too-long" ["seconds"],
    FileNotRetrieved = "file-not-retrieved" [],
    FileUploadRefused = "file-upload-refused" ["name", "format", "size"],
    AgentFileNotSent = "agent-file-not-sent" ["name", "limit"],
    CustomerFileTooLarge = "customer-file-too-large" ["file", "size", "limit"],
    CustomerFileNotAccepted = "customer-file-not-accepted" ["file", "format", "size"],
    CustomerFileNotConverted = "customer-file-not-converted" ["file", "format", "size"],
    /// `kind`: document, voice, audio, image, sticker or video; `name`: a document's name or `none`.
    CustomerFile = "customer-file" ["kind", "name"],
    UnknownFormat = "unknown-format" [],
    /// `kind`: as [`Text::CustomerFile`], or animated-sticker.
    FileLabel = "file-label" ["kind"],
    LocationUnnamed = "location-unnamed" [],
    ContactsEmpty = "contacts-empty" [],
    ContactUnnamed = "contact-unnamed" [],
    ContactOnWhatsapp = "contact-on-whatsapp" [],
    ReactionAdded = "reaction-added" ["emoji", "quote"],
    ReactionAddedUnknown = "reaction-added-unknown" ["emoji"],
    ReactionRemoved = "reaction-removed" ["quote"],
    ReactionRemovedUnknown = "reaction-removed-unknown" [],
    Unsupported = "unsupported" ["kind"],
    UnsupportedUnknown = "unsupported-unknown" [],
    WhatsappNotice = "whatsapp-notice" ["body"],
    WhatsappNoticeEmpty = "whatsapp-notice-empty" [],
    Order = "order" ["items"],
    FormSubmitted = "form-submitted" [],
    DeliveryFailed = "delivery-failed" ["quote"],
    DeliveryFailedUnknown = "delivery-failed-unknown" [],
    ReasonReengagement = "reason-reengagement" [],
    ReasonUndeliverable = "reason-undeliverable" [],
    ReasonError = "reason-error" ["code", "detail"],
    ReasonErrorBare = "reason-error-bare" ["code"],
    ReasonNone = "reason-none" [],
}

impl Text {
    /// The messages an operator may silence with an empty override: the lifecycle notices. Anything
    /// else empty would be a blank button or a note that says nothing.
    pub fn may_be_silent(self) -> bool {
        matches!(
            self,
            Text::NoticeAgentJoined
                | Text::NoticeAgentLeft
                | Text::NoticeTransferred
                | Text::NoticeChatEnded
                | Text::NoticeIdle
                | Text::NoticeAutoDisconnect
                | Text::NoticeCustomerEnded
        )
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.id() == id)
    }
}

/// What one business number says: a built-in catalogue with the operator's overrides on top.
pub struct Wording {
    language: Language,
    bundle: FluentBundle<FluentResource>,
    silent: Vec<Text>,
}

impl Wording {
    /// The built-in catalogue of `language`, as it ships.
    pub fn builtin(language: Language) -> Self {
        Self::new(language, &Overrides::default())
    }

    /// The catalogue of `language` with `overrides` (already checked by [`parse_overrides`]).
    pub fn new(language: Language, overrides: &Overrides) -> Self {
        let mut bundle = FluentBundle::new_concurrent(vec![language.tag().parse().unwrap_or_default()]);
        // Bidi isolation marks would reach WhatsApp as invisible characters around every name.
        bundle.set_use_isolating(false);
        // The catalogues are tested to parse whole; a resource with an error still keeps its good
        // entries, so nothing here can stop a handler.
        let builtin = FluentResource::try_new(language.catalogue().to_owned()).unwrap_or_else(|(partial, _)| partial);
        let _ = bundle.add_resource(builtin);
        if let Some(resource) = overrides.resource() {
            bundle.add_resource_overriding(resource);
        }
        Self {
            language,
            bundle,
            silent: overrides.silenced().to_vec(),
        }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// The text, or `None` when the operator silenced it.
    pub fn say(&self, text: Text, args: &[(&'static str, Arg<'_>)]) -> Option<String> {
        if self.silent.contains(&text) {
            return None;
        }
        Some(self.format(text, args).0)
    }

    /// The text of a message that cannot be silenced.
    pub fn word(&self, text: Text, args: &[(&'static str, Arg<'_>)]) -> String {
        self.say(text, args).unwrap_or_default()
    }

    /// The formatted text and whether Fluent reported errors (a missing message or variable).
    fn format(&self, text: Text, args: &[(&'static str, Arg<'_>)]) -> (String, bool) {
        let Some(pattern) = self.bundle.get_message(text.id()).and_then(|m| m.value()) else {
            return (String::new(), true);
        };
        let mut fluent_args = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        let mut errors = Vec::new();
        let out = self.bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        (out.into_owned(), !errors.is_empty())
    }
}

impl fmt::Debug for Wording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wording")
            .field("language", &self.language)
            .field("silent", &self.silent)
            .finish_non_exhaustive()
    }
}

impl Default for Wording {
    fn default() -> Self {
        Self::builtin(Language::En)
    }
}

/// The built-in English catalogue, for callers with no business number (fuzzing, defaults).
pub fn english() -> &'static Wording {
    static ENGLISH: std::sync::LazyLock<Wording> = std::sync::LazyLock::new(Wording::default);
    &ENGLISH
}

/// Example values for a message's variables, so every message can be rendered in a check.
fn sample_args(text: Text) -> Vec<(&'static str, Arg<'static>)> {
    text.variables()
        .iter()
        .map(|name| {
            let value: Arg<'static> = match *name {
                "limit" | "seconds" | "items" => Arg::from(7),
                "kind" => Arg::from("document"),
                other => Arg::from(format!("<{other}>")),
            };
            (*name, value)
        })
        .collect()
}

#[cfg(test)]
mod tests;
