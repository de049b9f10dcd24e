"""Extracts the input constraints of the operations the twin serves from botocore's service models.

Usage: python3 extract.py BOTOCORE_DATA_DIR SOURCE > constraints.json
(BOTOCORE_DATA_DIR is botocore/data of a botocore checkout, SOURCE names it, e.g. "botocore 1.43.67"). The output keeps, for each served
operation, the input shapes it reaches with only what validation needs (type, min, max, pattern,
enum, required members, member locations) and the member that carries each error's message.
Transcribe streaming is not in botocore (it is an event-stream, HTTP/2 service); its request headers
are appended by hand from the Smithy model (aws-models/transcribe-streaming.json of awslabs/aws-sdk-rust).
"""

import gzip
import json
import sys

SERVED = {
    "connect/2017-08-08": ["StartChatContact", "StartContactStreaming", "StopContact",
                           "DescribeInstance", "DescribeContactFlow", "CreateParticipant",
                           "UpdateContactAttributes"],
    "connectparticipant/2018-09-07": ["CreateParticipantConnection", "SendMessage", "SendEvent",
                                      "DisconnectParticipant", "GetTranscript", "StartAttachmentUpload",
                                      "CompleteAttachmentUpload", "GetAttachment"],
    "socialmessaging/2024-01-01": ["SendWhatsAppMessage", "GetWhatsAppMessageMedia",
                                   "PostWhatsAppMessageMedia", "ListLinkedWhatsAppBusinessAccounts",
                                   "GetLinkedWhatsAppBusinessAccount",
                                   "GetLinkedWhatsAppBusinessAccountPhoneNumber"],
    "lambda/2015-03-31": ["Invoke"],
    # Served by moto; the twin's moto proxy checks only that a body deserializes (JSON types).
    "dynamodb/2012-08-10": ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"],
}
KEEP = ("type", "min", "max", "pattern", "enum", "required")

# StartStreamTranscription's request headers (every member of its input but the audio stream, the
# payload), from the Smithy model of aws-sdk-transcribestreaming 1.126.0 (the version in Cargo.lock).
LANGUAGES = ["af-ZA", "am-ET", "ar-AE", "ar-SA", "be-BY", "bg-BG", "bn-IN", "bs-BA", "ca-ES", "ckb-IQ",
             "ckb-IR", "cs-CZ", "cy-WL", "da-DK", "de-CH", "de-DE", "el-GR", "en-AB", "en-AU", "en-GB",
             "en-IE", "en-IN", "en-NZ", "en-US", "en-WL", "en-ZA", "es-ES", "es-MX", "es-US", "et-ET",
             "eu-ES", "fa-AF", "fa-IR", "fi-FI", "fr-CA", "fr-FR", "gl-ES", "gu-IN", "he-IL", "hi-IN",
             "hr-HR", "ht-HT", "hu-HU", "hy-AM", "id-ID", "is-IS", "it-IT", "ja-JP", "jv-ID", "ka-GE",
             "kab-DZ", "kk-KZ", "km-KH", "kn-IN", "ko-KR", "lg-IN", "lt-LT", "lv-LV", "mk-MK", "ml-IN",
             "mr-IN", "ms-MY", "my-MM", "ne-NP", "nl-NL", "no-NO", "or-IN", "pa-IN", "pl-PL", "ps-AF",
             "pt-BR", "pt-PT", "ro-RO", "ru-RU", "si-LK", "sk-SK", "sl-SI", "so-SO", "sq-AL", "sr-RS",
             "su-ID", "sv-SE", "sw-BI", "sw-KE", "sw-RW", "sw-TZ", "sw-UG", "ta-IN", "te-IN", "th-TH",
             "tl-PH", "tr-TR", "uk-UA", "uz-UZ", "vi-VN", "zh-CN", "zh-HK", "zh-TW", "zu-ZA"]
NAME = "^[0-9a-zA-Z._-]+$"
NAMES = "^[a-zA-Z0-9,-._]+$"
HEADERS = {
    "LanguageCode": ("language-code", "LanguageCode"),
    "MediaSampleRateHertz": ("sample-rate", "MediaSampleRateHertz"),
    "MediaEncoding": ("media-encoding", "MediaEncoding"),
    "VocabularyName": ("vocabulary-name", "VocabularyName"),
    "SessionId": ("session-id", "SessionId"),
    "VocabularyFilterName": ("vocabulary-filter-name", "VocabularyFilterName"),
    "VocabularyFilterMethod": ("vocabulary-filter-method", "VocabularyFilterMethod"),
    "ShowSpeakerLabel": ("show-speaker-label", "Boolean"),
    "EnableChannelIdentification": ("enable-channel-identification", "Boolean"),
    "NumberOfChannels": ("number-of-channels", "NumberOfChannels"),
    "EnablePartialResultsStabilization": ("enable-partial-results-stabilization", "Boolean"),
    "PartialResultsStability": ("partial-results-stability", "PartialResultsStability"),
    "ContentIdentificationType": ("content-identification-type", "ContentIdentificationType"),
    "ContentRedactionType": ("content-redaction-type", "ContentRedactionType"),
    "PiiEntityTypes": ("pii-entity-types", "PiiEntityTypes"),
    "LanguageModelName": ("language-model-name", "ModelName"),
    "IdentifyLanguage": ("identify-language", "Boolean"),
    "LanguageOptions": ("language-options", "LanguageOptions"),
    "PreferredLanguage": ("preferred-language", "LanguageCode"),
    "IdentifyMultipleLanguages": ("identify-multiple-languages", "Boolean"),
    "VocabularyNames": ("vocabulary-names", "VocabularyNames"),
    "VocabularyFilterNames": ("vocabulary-filter-names", "VocabularyFilterNames"),
}

TRANSCRIBE = {
    "messageKey": "Message",
    "errors": {},
    "operations": {"StartStreamTranscription": "StartStreamTranscriptionRequest"},
    "shapes": {
        "StartStreamTranscriptionRequest": {
            "type": "structure",
            "required": ["MediaSampleRateHertz", "MediaEncoding"],
            "members": {member: {"shape": shape, "location": "header", "name": f"x-amzn-transcribe-{name}"}
                        for member, (name, shape) in HEADERS.items()},
        },
        "LanguageCode": {"type": "string", "enum": LANGUAGES},
        "MediaSampleRateHertz": {"type": "integer", "min": 8000, "max": 48000},
        "MediaEncoding": {"type": "string", "enum": ["pcm", "ogg-opus", "flac", "g711-alaw", "g711-ulaw",
                                                      "g729"]},
        "VocabularyName": {"type": "string", "min": 1, "max": 200, "pattern": NAME},
        "SessionId": {"type": "string", "min": 36, "max": 36,
                      "pattern": "^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$"},
        "VocabularyFilterName": {"type": "string", "min": 1, "max": 200, "pattern": NAME},
        "VocabularyFilterMethod": {"type": "string", "enum": ["remove", "mask", "tag"]},
        "Boolean": {"type": "boolean"},
        "NumberOfChannels": {"type": "integer", "min": 2},
        "PartialResultsStability": {"type": "string", "enum": ["high", "medium", "low"]},
        "ContentIdentificationType": {"type": "string", "enum": ["PII"]},
        "ContentRedactionType": {"type": "string", "enum": ["PII"]},
        "PiiEntityTypes": {"type": "string", "min": 1, "max": 300, "pattern": "^[A-Z_, ]+$"},
        "ModelName": {"type": "string", "min": 1, "max": 200, "pattern": NAME},
        "LanguageOptions": {"type": "string", "min": 1, "max": 200, "pattern": "^[a-zA-Z-,]+$"},
        "VocabularyNames": {"type": "string", "min": 1, "max": 3000, "pattern": NAMES},
        "VocabularyFilterNames": {"type": "string", "min": 1, "max": 3000, "pattern": NAMES},
    },
}


def service(model, operations):
    shapes, errors = {}, {}

    def visit(name):
        if name in shapes:
            return
        src = model["shapes"][name]
        out = {k: src[k] for k in KEEP if k in src}
        shapes[name] = out
        if src["type"] == "structure":
            out["members"] = {}
            for member, ref in src["members"].items():
                kept = {"shape": ref["shape"]}
                if "location" in ref:
                    kept["location"] = ref["location"]
                if "locationName" in ref:
                    kept["name"] = ref["locationName"]
                out["members"][member] = kept
                visit(ref["shape"])
        elif src["type"] == "list":
            out["member"] = src["member"]["shape"]
            visit(out["member"])
        elif src["type"] == "map":
            out["key"], out["value"] = src["key"]["shape"], src["value"]["shape"]
            visit(out["key"])
            visit(out["value"])

    ops = {}
    for op in operations:
        spec = model["operations"][op]
        ops[op] = spec["input"]["shape"]
        visit(ops[op])
        for err in spec.get("errors", []):
            members = model["shapes"][err["shape"]].get("members", {})
            errors[err["shape"]] = "Message" if "Message" in members else "message"
    keys = list(errors.values())
    default = max(set(keys), key=keys.count)
    return {"messageKey": default, "errors": dict(sorted(errors.items())), "operations": ops,
            "shapes": dict(sorted(shapes.items()))}


def load(path):
    """A model file, or its gzipped copy (newer botocore releases ship some models compressed)."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        with gzip.open(path + ".gz", "rt") as f:
            return json.load(f)


def main():
    data = sys.argv[1]
    out = {"source": sys.argv[2], "services": {}}
    for path, operations in SERVED.items():
        model = load(f"{data}/{path}/service-2.json")
        out["services"][path.split("/")[0]] = service(model, operations)
    out["services"]["transcribe"] = TRANSCRIBE
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
