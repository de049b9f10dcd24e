#!/usr/bin/env bash
# Instructions per event of each benchmark case, counted by callgrind: repeatable where the benchmark's
# timings are not (a shared 2-core machine changes speed by half from one minute to the next), so an A/B
# of a change to the handlers is read here (docs/performance.md, "Instructions per event").
#
#   scripts/bench-instructions.sh [BIN_DIR]   (default: the release build; `make bench-instructions`)
#
# The benchmark runs as usual, with small counts, but each handler runs under valgrind. Before each
# case the benchmark announces it on stderr; the handlers' counters are dumped (and zeroed) there, so
# each dump holds exactly the case that just ended. Timings printed by such a run mean nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin_dir=$(cd "${1:-$target/release}" && pwd)
events=${EVENTS:-100}
out=$target/bench/instructions
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/bin"
for name in whatsapp-handler connect-handler; do
  cat >"$out/bin/$name" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file=$out/$name.%p "$bin_dir/$name"
EOF
  chmod +x "$out/bin/$name"
done

dump_all() {
  for pid in $(pgrep -f "callgrind.*$out/" || true); do
    callgrind_control --dump="$1" "$pid" >/dev/null 2>&1 || true
  done
}

ended=init
"$bin_dir/bench" --bin-dir "$out/bin" --starts 1 --events "$events" --media-events 2 --latency-events 1 \
  --out "$out/results.json" 2>&1 >/dev/null | while IFS= read -r line; do
  echo "$line" >&2
  case "$line" in
    *"] "*" × "*) dump_all "$ended"; ended=$(sed -E 's/.*× ([a-z0-9_]+).*/\1/' <<<"$line") ;;
    *"MB videos"*) dump_all "$ended"; ended=videos ;;
  esac
done

printf '\n%-18s %-24s %14s\n' handler case "instr./event"
for name in whatsapp-handler connect-handler; do
  for dump in "$out/$name".*.[0-9]*; do
    case_name=$(sed -n 's/^desc: Trigger: dump //p' "$dump")
    totals=$(sed -n 's/^totals: //p' "$dump")
    case "$case_name" in
      init | videos | "") continue ;;
      inbound_image_1mb | voice_note) n=2 ;;
      *) n=$events ;;
    esac
    printf '%-18s %-24s %14d\n' "$name" "$case_name" $((totals / n))
  done
done
