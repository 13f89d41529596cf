#!/usr/bin/env bash
# Install every Debian package memmon needs to build, run and test.
# Idempotent: packages already present are left as they are, and apt is
# asked only when something is missing.
set -euo pipefail

packages=(
	make gcc binutils git           # the build
	gnu-efi nasm mtools             # the UEFI image
	qemu-system-x86 ovmf            # running it
	python3-pytest python3-pexpect  # integration tests (Debian's /usr/bin/python3)
	libcmocka-dev                   # unit tests
	clang libclang-rt-14-dev        # libFuzzer and the sanitizers
	clang-format cppcheck           # make check-format, make analyze
	gdisk                           # make image (sgdisk; mtools is above)
	graphviz                        # memmon.py draw (dot)
	gdb                             # make debug
	clang-tools                     # make analyze (scan-build)
	frama-c-base why3 z3 cvc4       # make prove (Frama-C's WP and its provers)
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#packages[@]} packages present"
	exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
