#!/usr/bin/env bash
# make debug: boot memmon in QEMU with the gdb stub on, and run gdb with
# memmon's symbols loaded at the image base it prints at boot
# (scripts/memmon.gdb). gdb holds memmon's console: what memmon prints
# appears in this terminal, `memmon LINE` types a line at it.
#
#   scripts/debug.sh [--mem SIZE] [--port N] [--dir DIR]
#
# DIR (default build/debug) gets COM1's socket and log and QEMU's monitor
# socket. gdb reads its commands from the terminal, or from a pipe (the test
# in test/integration/test_tools.py does that).
set -euo pipefail
cd "$(dirname "$0")/.."
mem=1G
port=1234
dir=build/debug
while [ $# -gt 0 ]; do
	case "$1" in
	--mem) mem=$2; shift 2 ;;
	--port) port=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	*) echo "debug.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
mkdir -p "$dir"
rm -f "$dir/serial.sock" "$dir/serial.log"
scripts/qemu.sh --mem "$mem" --esp build/esp --workdir "$dir/w" --serial "unix:$dir/serial.sock" \
	--serial-log "$dir/serial.log" --monitor "$dir/qemu-monitor.sock" --gdbstub "$port" &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT
MEMMON_SERIAL=$dir/serial.sock MEMMON_GDB_PORT=$port gdb -q -x scripts/memmon.gdb
