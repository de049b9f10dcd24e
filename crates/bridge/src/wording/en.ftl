# The bridge's own words in English. Every message here has the same id in es-419.ftl and pt-BR.ftl;
# crates/bridge/src/wording/mod.rs lists them and the variables each one gets.

## Lifecycle notices for the customer

notice-agent-joined = { $agent } has joined the chat.
notice-agent-left = { $agent } has left the chat.
notice-transferred = We're transferring you to someone who can help. Please stay with us.
notice-chat-ended = This chat has ended. Send us a message any time to start a new one.
notice-idle = Are you still there? This chat will close soon if we don't hear from you.
notice-auto-disconnect = This chat was closed because we didn't hear from you. Send us a message any time to start a new one.
notice-customer-ended = You've ended the chat. Send us a message any time to start a new one.
# Stands for the agent when Connect gives no display name.
agent-fallback = an agent

## Menus the customer taps (WhatsApp: button labels at most 20 characters)

menu-list-button = Choose an option
menu-time-button = Choose a time
menu-more-options = More options
menu-numbered-prompt = Reply with a number:

## Files: what the customer is told

file-kind-not-passed = Sorry, we could not pass this kind of file on to the agent.
file-not-passed = Sorry, we could not pass your file on to the agent.
file-not-converted = Sorry, we could not pass this file on to the agent.
file-too-large = Sorry, your file is too large to pass on (the limit is { $limit } MB). Could you send a smaller one?
agent-file-too-large = The agent sent you a file, "{ $name }", that is too large to pass on here (the limit is { $limit } MB). You may ask them for another way to receive it.
transcript-echo = 🎤 "{ $transcript }"

## Files: what the agent is told

transcript = 🎤 Transcription: { $transcript }
transcript-silent = 🎤 Transcription: (no speech recognised)
transcript-failed = 🎤 The transcript of this voice message is missing: transcription failed.
transcript-too-long = 🎤 The transcript of this voice message is missing: at { $seconds } s it is too long to transcribe here.
file-not-retrieved = ⚠️ The file could not be retrieved from WhatsApp.
file-upload-refused = [file: { $name }, { $format }, { $size }] The customer sent this file but the chat refused the upload.
agent-file-not-sent = "{ $name }" was not sent to the customer: it is larger than the { $limit } MB that can be passed on. The customer was told.
customer-file-too-large = The customer sent { $file } ({ $size }), larger than the { $limit } this chat can show.
customer-file-not-accepted = The customer sent { $file } ({ $format }, { $size }) in a format this chat cannot show.
customer-file-not-converted = The customer sent { $file } ({ $format }, { $size }) that could not be converted for this chat.
# $kind: document, voice, audio, image, sticker or video; $name: the document's name, or empty.
customer-file = { $kind ->
    [document] { $name ->
        [none] a document
       *[other] a document "{ $name }"
    }
    [voice] a voice message
    [audio] an audio file
    [image] a photo
    [sticker] a sticker
   *[video] a video
}
unknown-format = unknown format
# The label of a file in the chat: [label: name, type, size].
file-label = { $kind ->
    [document] file
    [voice] voice note
    [audio] audio
    [image] image
    [sticker] sticker
    [animated-sticker] animated sticker
   *[video] video
}

## What the customer sent that Connect cannot show

location-unnamed = Shared location
contacts-empty = [empty contact card]
contact-unnamed = Contact
contact-on-whatsapp = on WhatsApp
reaction-added = reacted { $emoji } to: { $quote }
reaction-added-unknown = reacted { $emoji } to a message
reaction-removed = removed their reaction from: { $quote }
reaction-removed-unknown = removed their reaction from a message
unsupported = [The customer sent something WhatsApp does not pass on to businesses: { $kind }]
unsupported-unknown = [The customer sent something WhatsApp does not pass on to businesses]
whatsapp-notice = [WhatsApp notice: { $body }]
whatsapp-notice-empty = [WhatsApp notice]
order = [order: { $items ->
    [one] { $items } item
   *[other] { $items } items
}]
form-submitted = [form submitted]

## Messages that did not reach the customer (notes for the agent)

delivery-failed = Your message { $quote } was not delivered
delivery-failed-unknown = A message was not delivered
reason-reengagement = more than 24 hours since the customer last wrote; only a template can reach them now
reason-undeliverable = undeliverable: the number may not be on WhatsApp, may have blocked this business, or may need to update WhatsApp
reason-error = WhatsApp error { $code }: { $detail }
reason-error-bare = WhatsApp error { $code }
reason-none = WhatsApp gave no reason
