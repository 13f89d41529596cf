#!/usr/bin/env bash
# Boot an ESP folder in QEMU with OVMF: the one place that knows memmon's
# QEMU command line. `make run`, `make debug`, the integration tests and the
# boot benchmark all come through here.
#
#   scripts/qemu.sh [--mem SIZE] [--smp N] [--esp DIR | --image FILE] [--script FILE] [--workdir DIR]
#                   [--serial stdio|unix:PATH] [--serial-log FILE] [--monitor PATH]
#                   [--no-exit-device] [--gdb | --gdbstub PORT] [-- extra QEMU args]
#
# --mem       guest RAM, e.g. 1G, 64G, 256G (default 1G); above 16 GiB the RAM
#             comes from a memory backend with reserve=off, so the host only
#             backs what the guest touches.
# --smp       CPUs (default 4: memmon starts them all; CPU 0 serves the console)
# --esp       folder holding EFI/BOOT/BOOTX64.EFI (default build/esp), served
#             to the firmware as a FAT disk (a copy in WORKDIR)
# --image     a raw disk image (make image: GPT, one EFI system partition)
#             booted as the machine's disk instead of --esp; QEMU writes to a
#             temporary overlay (snapshot=on), never to FILE
# --script    put FILE on the ESP copy as startup.mon, which memmon runs at
#             its first prompt (--esp only; make image takes SCRIPT= itself)
# --workdir   where the private OVMF variable store and ESP copy go
#             (default build/run); the caller owns and removes it
# --serial    stdio (default): COM1 on this terminal, multiplexed with QEMU's
#             monitor (Ctrl-A c switches, Ctrl-A x quits, Ctrl-C goes to
#             memmon); unix:PATH: COM1 on a unix socket QEMU listens on and
#             waits for before starting the guest
# --serial-log  with --serial unix:PATH, also write everything COM1 sends to
#             FILE (make debug reads memmon's image base there)
# --monitor   QEMU's human monitor (HMP) on a unix socket at PATH
#             (default: WORKDIR/qemu-monitor.sock)
# --no-exit-device  leave out isa-debug-exit (to test halt's fallbacks)
# --gdb       stop before the first instruction, gdb stub on tcp::1234
# --gdbstub PORT  gdb stub on tcp::PORT, the guest runs at once (make debug)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mem=1G
smp=4
esp=$here/build/esp
image=
script=
serial_log=
workdir=$here/build/run
serial=stdio
monitor=
exit_device=1
gdb=0
gdb_port=
extra=()

while [ $# -gt 0 ]; do
	case "$1" in
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--esp) esp=$2; shift 2 ;;
	--image) image=$2; shift 2 ;;
	--script) script=$2; shift 2 ;;
	--serial-log) serial_log=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--serial) serial=$2; shift 2 ;;
	--monitor) monitor=$2; shift 2 ;;
	--no-exit-device) exit_device=0; shift ;;
	--gdb) gdb=1; shift ;;
	--gdbstub) gdb=2; gdb_port=$2; shift 2 ;;
	--) shift; extra=("$@"); break ;;
	*) echo "qemu.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
boot=$esp/EFI/BOOT/BOOTX64.EFI
[ -z "$image" ] || boot=$image
for f in "$ovmf_code" "$ovmf_vars" "$boot" ${script:+"$script"}; do
	[ -e "$f" ] || { echo "qemu.sh: missing $f (make deps; make)" >&2; exit 2; }
done
if [ -n "$image" ] && [ -n "$script" ]; then
	echo "qemu.sh: --script goes with --esp (make image SCRIPT=FILE puts one in an image)" >&2
	exit 2
fi

mkdir -p "$workdir"
cp "$ovmf_vars" "$workdir/OVMF_VARS.fd"
if [ -n "$image" ]; then
	disk=(-drive format=raw,file="$image",snapshot=on)
else
	rm -rf "$workdir/esp"
	cp -r "$esp" "$workdir/esp"
	rm -f "$workdir/esp/startup.mon"
	[ -z "$script" ] || cp "$script" "$workdir/esp/startup.mon"
	disk=(-drive format=raw,file=fat:rw:"$workdir/esp")
fi
[ -n "$monitor" ] || monitor=$workdir/qemu-monitor.sock

# Size in GiB, to decide on the memory backend.
case "$mem" in
*G|*g) gib=${mem%[Gg]} ;;
*M|*m) gib=$(( ${mem%[Mm]} / 1024 )) ;;
*) gib=0 ;;
esac

args=(
	-machine q35 -cpu qemu64,+pdpe1gb,+svm,+npt -smp "$smp"
	-drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code"
	-drive if=pflash,format=raw,unit=1,file="$workdir/OVMF_VARS.fd"
	"${disk[@]}"
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
unix:*) args+=(-chardev socket,id=ser0,path="${serial#unix:}",server=on,wait=on${serial_log:+,logfile=$serial_log}
	-serial chardev:ser0) ;;
*) echo "qemu.sh: --serial stdio or unix:PATH" >&2; exit 2 ;;
esac
[ "$gdb" = 1 ] && args+=(-s -S)
[ "$gdb" = 2 ] && args+=(-gdb tcp:127.0.0.1:"$gdb_port")

exec qemu-system-x86_64 "${args[@]}" "${extra[@]}"
