"""Extracts the input constraints of the operations the twin serves from botocore's service models.

Usage: python3 extract.py BOTOCORE_DATA_DIR SOURCE > constraints.json
(BOTOCORE_DATA_DIR is botocore/data of a botocore checkout, SOURCE names it, e.g. "botocore 1.43.67"). The output keeps, for each served
operation, the input shapes it reaches with only what validation needs (type, min, max, pattern,
enum, required members, member locations) and the member that carries each error's message.
Transcribe streaming is not in botocore (it is an event-stream, HTTP/2 service); its request headers
are appended by hand from the Smithy model in awslabs/aws-sdk-rust (aws-models/transcribe-streaming.json).
"""

import json
import sys

SERVED = {
    "connect/2017-08-08": ["StartChatContact", "StartContactStreaming", "StopContact",
                           "DescribeInstance", "DescribeContactFlow"],
    "connectparticipant/2018-09-07": ["CreateParticipantConnection", "SendMessage", "SendEvent",
                                      "DisconnectParticipant", "GetTranscript", "StartAttachmentUpload",
                                      "CompleteAttachmentUpload", "GetAttachment"],
    "socialmessaging/2024-01-01": ["SendWhatsAppMessage", "GetWhatsAppMessageMedia",
                                   "PostWhatsAppMessageMedia", "ListLinkedWhatsAppBusinessAccounts",
                                   "GetLinkedWhatsAppBusinessAccount",
                                   "GetLinkedWhatsAppBusinessAccountPhoneNumber"],
    "lambda/2015-03-31": ["Invoke"],
}
KEEP = ("type", "min", "max", "pattern", "enum", "required")

# StartStreamTranscription's request headers the twin reads or that carry a constraint, from the
# Smithy model (LanguageCode enum, MediaSampleRateHertz range, LanguageOptions length and pattern...).
LANGUAGES = ["en-US", "en-GB", "es-US", "fr-CA", "fr-FR", "en-AU", "it-IT", "de-DE", "pt-BR", "ja-JP",
             "ko-KR", "zh-CN", "th-TH", "es-ES", "ar-SA", "pt-PT", "ca-ES", "ar-AE", "hi-IN", "zh-HK",
             "nl-NL", "no-NO", "sv-SE", "pl-PL", "fi-FI", "zh-TW", "en-IN", "en-IE", "en-NZ", "en-AB",
             "en-ZA", "en-WL", "de-CH", "af-ZA", "eu-ES", "hr-HR", "cs-CZ", "da-DK", "fa-IR", "gl-ES",
             "el-GR", "he-IL", "id-ID", "lv-LV", "ms-MY", "ro-RO", "ru-RU", "sr-RS", "sk-SK", "so-SO",
             "tl-PH", "uk-UA", "vi-VN", "zu-ZA"]


def header(name, shape):
    return {"shape": shape, "location": "header", "name": name}


TRANSCRIBE = {
    "messageKey": "Message",
    "errors": {},
    "operations": {"StartStreamTranscription": "StartStreamTranscriptionRequest"},
    "shapes": {
        "StartStreamTranscriptionRequest": {
            "type": "structure",
            "required": ["MediaSampleRateHertz", "MediaEncoding"],
            "members": {
                "LanguageCode": header("x-amzn-transcribe-language-code", "LanguageCode"),
                "MediaSampleRateHertz": header("x-amzn-transcribe-sample-rate", "MediaSampleRateHertz"),
                "MediaEncoding": header("x-amzn-transcribe-media-encoding", "MediaEncoding"),
                "SessionId": header("x-amzn-transcribe-session-id", "SessionId"),
                "ShowSpeakerLabel": header("x-amzn-transcribe-show-speaker-label", "Boolean"),
                "EnableChannelIdentification": header("x-amzn-transcribe-enable-channel-identification", "Boolean"),
                "EnablePartialResultsStabilization": header(
                    "x-amzn-transcribe-enable-partial-results-stabilization", "Boolean"),
                "PartialResultsStability": header("x-amzn-transcribe-partial-results-stability",
                                                  "PartialResultsStability"),
                "PiiEntityTypes": header("x-amzn-transcribe-pii-entity-types", "PiiEntityTypes"),
                "IdentifyLanguage": header("x-amzn-transcribe-identify-language", "Boolean"),
                "LanguageOptions": header("x-amzn-transcribe-language-options", "LanguageOptions"),
                "PreferredLanguage": header("x-amzn-transcribe-preferred-language", "LanguageCode"),
                "IdentifyMultipleLanguages": header("x-amzn-transcribe-identify-multiple-languages", "Boolean"),
            },
        },
        "LanguageCode": {"type": "string", "enum": LANGUAGES},
        "MediaSampleRateHertz": {"type": "integer", "min": 8000, "max": 48000},
        "MediaEncoding": {"type": "string", "enum": ["pcm", "ogg-opus", "flac"]},
        "SessionId": {"type": "string", "min": 36, "max": 36,
                      "pattern": "^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$"},
        "Boolean": {"type": "boolean"},
        "PartialResultsStability": {"type": "string", "enum": ["high", "medium", "low"]},
        "PiiEntityTypes": {"type": "string", "min": 1, "max": 300, "pattern": "^[A-Z_, ]+$"},
        "LanguageOptions": {"type": "string", "min": 1, "max": 200, "pattern": "^[a-zA-Z-,]+$"},
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


def main():
    data = sys.argv[1]
    out = {"source": sys.argv[2], "services": {}}
    for path, operations in SERVED.items():
        with open(f"{data}/{path}/service-2.json") as f:
            model = json.load(f)
        out["services"][path.split("/")[0]] = service(model, operations)
    out["services"]["transcribe"] = TRANSCRIBE
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
