#!/usr/bin/env bash
# Regenerates the small media samples under tests/media/ that the bridge's media tests read.
#
# The generated files are committed, so tests never need these tools; run this only to change a
# sample. Everything comes from Debian packages (espeak-ng, opus-tools, sox, webp), so the samples
# are real encoder output rather than hand-made bytes: a WhatsApp voice note is Ogg/Opus from
# libopus, and a sticker is WebP from libwebp.
#
# Usage: scripts/make-test-media.sh            (writes into tests/media/)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo_root/tests/media"
mkdir -p "$out"

need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v opusenc >/dev/null || need+=(opus-tools)
command -v sox >/dev/null || need+=(sox)
{ command -v cwebp >/dev/null && command -v img2webp >/dev/null; } || need+=(webp)
if ((${#need[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        echo "missing tools; install with: sudo apt-get install -y ${need[*]}" >&2
        exit 1
    fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A fixed serial number and no encoder comments keep re-runs byte-stable, so a regenerated sample
# only shows up in git when its content really changed.
opus_flags=(--serial 1 --discard-comments --quiet)

# Voice note as WhatsApp records it: mono speech, 16 kHz input rate in OpusHead, low bitrate.
espeak-ng -v en -s 150 -w "$work/speech.wav" \
    "Hello, I would like to check the status of my order, please."
sox -R "$work/speech.wav" -r 16000 -c 1 -b 16 "$work/voice-16k.wav" trim 0 3
opusenc "${opus_flags[@]}" --bitrate 16 --speech "$work/voice-16k.wav" "$out/voice-note.ogg"

# Stereo 48 kHz music-like file: a different tone per channel so a downmix has something to mix.
sox -R -n -r 48000 -c 2 -b 16 "$work/stereo.wav" synth 2 sine 440 sine 660 gain -6
opusenc "${opus_flags[@]}" --bitrate 48 --music "$work/stereo.wav" "$out/stereo-48k.ogg"

# Sticker: a spectrogram is a convenient non-trivial picture that only needs sox. 320x257 is
# deliberately not square so a swapped width/height would be caught.
sox -R "$work/voice-16k.wav" -n spectrogram -r -x 320 -y 257 -o "$work/frame1.png"
cwebp -quiet -q 60 "$work/frame1.png" -o "$out/sticker.webp"

# Animated sticker: two frames of the same size; the bridge keeps the first.
sox -R "$work/stereo.wav" -n remix 1 spectrogram -r -x 320 -y 257 -o "$work/frame2.png"
img2webp -loop 0 -lossy -q 50 -d 200 "$work/frame1.png" -d 200 "$work/frame2.png" \
    -o "$out/sticker-animated.webp"

ls -l "$out"
