#!/usr/bin/env bash
# Build a raw disk image that boots memmon on any UEFI x86-64 machine: a GPT
# with one EFI system partition (FAT32) holding EFI/BOOT/BOOTX64.EFI (the
# removable-media path every UEFI firmware tries) and, when given, the
# startup script as startup.mon at the root. Only Debian tools, no root, no
# loop devices: truncate makes the file, sgdisk (gdisk) the partition table,
# mtools the file system inside it (addressed by offset, FILE@@OFFSET).
#
#   scripts/mkimage.sh OUT.img BOOTX64.EFI [STARTUP.MON]
#
# The image is 64 MiB: the partition starts at 1 MiB (sector 2048) and ends
# where GPT's backup table begins. Write it to a whole USB stick (not to a
# partition) with dd; see README.md.
set -euo pipefail

[ $# -ge 2 ] && [ $# -le 3 ] || { echo "usage: $0 OUT.img BOOTX64.EFI [STARTUP.MON]" >&2; exit 2; }
out=$1
efi=$2
script=${3:-}
size_mib=64
first=2048 # sectors of 512 bytes: the partition starts at 1 MiB

for f in "$efi" ${script:+"$script"}; do
	[ -f "$f" ] || { echo "mkimage: missing $f" >&2; exit 2; }
done
tmp=$out.tmp
rm -f "$tmp"
truncate -s ${size_mib}M "$tmp"
sgdisk --clear --new=1:$first:0 --typecode=1:ef00 --change-name=1:"EFI system partition" \
	"$tmp" >/dev/null
last=$(sgdisk -i 1 "$tmp" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
[ -n "$last" ] || { echo "mkimage: sgdisk made no partition" >&2; exit 1; }
fs="$tmp@@$((first * 512))"
mformat -i "$fs" -F -T $((last - first + 1)) -v MEMMON ::
mmd -i "$fs" ::/EFI ::/EFI/BOOT
mcopy -i "$fs" "$efi" ::/EFI/BOOT/BOOTX64.EFI
[ -z "$script" ] || mcopy -i "$fs" "$script" ::/startup.mon
sgdisk -v "$tmp" | grep -q "No problems found" || { sgdisk -v "$tmp" >&2; exit 1; }
mv "$tmp" "$out"
echo "mkimage: $out (${size_mib} MiB, GPT, ESP at sector $first: EFI/BOOT/BOOTX64.EFI${script:+, startup.mon})"
