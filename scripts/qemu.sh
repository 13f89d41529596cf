#!/usr/bin/env bash
# Boot an ESP folder in QEMU with OVMF: the one place that knows memmon's
# QEMU command line. `make run`, `make debug`, the integration tests and the
# boot benchmark all come through here.
#
#   scripts/qemu.sh [--mem SIZE] [--esp DIR] [--workdir DIR] [--serial stdio|unix:PATH]
#                   [--monitor PATH] [--no-exit-device] [--gdb] [-- extra QEMU args]
#
# --mem       guest RAM, e.g. 1G, 64G, 256G (default 1G); above 16 GiB the RAM
#             comes from a memory backend with reserve=off, so the host only
#             backs what the guest touches.
# --esp       folder holding EFI/BOOT/BOOTX64.EFI (default build/esp)
# --workdir   where the private OVMF variable store and ESP copy go
#             (default build/run); the caller owns and removes it
# --serial    stdio (default): COM1 on this terminal, multiplexed with QEMU's
#             monitor (Ctrl-A c switches, Ctrl-A x quits, Ctrl-C goes to
#             memmon); unix:PATH: COM1 on a unix socket QEMU listens on and
#             waits for before starting the guest
# --monitor   QEMU's human monitor (HMP) on a unix socket at PATH
#             (default: WORKDIR/qemu-monitor.sock)
# --no-exit-device  leave out isa-debug-exit (to test halt's fallbacks)
# --gdb       stop before the first instruction, gdb stub on tcp::1234
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mem=1G
esp=$here/build/esp
workdir=$here/build/run
serial=stdio
monitor=
exit_device=1
gdb=0
extra=()

while [ $# -gt 0 ]; do
	case "$1" in
	--mem) mem=$2; shift 2 ;;
	--esp) esp=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--serial) serial=$2; shift 2 ;;
	--monitor) monitor=$2; shift 2 ;;
	--no-exit-device) exit_device=0; shift ;;
	--gdb) gdb=1; shift ;;
	--) shift; extra=("$@"); break ;;
	*) echo "qemu.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
for f in "$ovmf_code" "$ovmf_vars" "$esp/EFI/BOOT/BOOTX64.EFI"; do
	[ -e "$f" ] || { echo "qemu.sh: missing $f (make deps; make)" >&2; exit 2; }
done

mkdir -p "$workdir"
cp "$ovmf_vars" "$workdir/OVMF_VARS.fd"
rm -rf "$workdir/esp"
cp -r "$esp" "$workdir/esp"
[ -n "$monitor" ] || monitor=$workdir/qemu-monitor.sock

# Size in GiB, to decide on the memory backend.
case "$mem" in
*G|*g) gib=${mem%[Gg]} ;;
*M|*m) gib=$(( ${mem%[Mm]} / 1024 )) ;;
*) gib=0 ;;
esac

args=(
	-machine q35 -cpu qemu64,+pdpe1gb,+svm,+npt
	-drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code"
	-drive if=pflash,format=raw,unit=1,file="$workdir/OVMF_VARS.fd"
	-drive format=raw,file=fat:rw:"$workdir/esp"
	-nodefaults -display none -nic none -no-reboot
	-monitor unix:"$monitor",server=on,wait=off
)
if [ "$gib" -gt 16 ]; then
	args+=(-m "$mem" -object memory-backend-ram,id=ram0,size="$mem",reserve=off
		-machine memory-backend=ram0)
else
	args+=(-m "$mem")
fi
[ "$exit_device" = 1 ] && args+=(-device isa-debug-exit,iobase=0xf4,iosize=0x04)
case "$serial" in
stdio) args+=(-serial mon:stdio) ;;
unix:*) args+=(-chardev socket,id=ser0,path="${serial#unix:}",server=on,wait=on
	-serial chardev:ser0) ;;
*) echo "qemu.sh: --serial stdio or unix:PATH" >&2; exit 2 ;;
esac
[ "$gdb" = 1 ] && args+=(-s -S)

exec qemu-system-x86_64 "${args[@]}" "${extra[@]}"
