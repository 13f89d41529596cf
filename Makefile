# memmon: one Makefile for the UEFI image, the hosted build, tests and tools.
# `make help` lists the targets.

VERSION := 0.1.0
BUILD_ID := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
B := build

CLANG ?= clang
NASM ?= nasm
PYTHON := /usr/bin/python3
MEM ?= 1G
# Parallel jobs where make test may use every CPU: its builds and its fuzzers.
JOBS ?= $(shell nproc)

# One warning set for every build.
WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wvla
# The portable core: every C file of monitor/ and paging/.
CORE_SRC := $(sort $(wildcard monitor/*.c paging/*.c))
CORE_INC := -Imonitor -Ipaging -I$(B)/progs
# The built-in guest programs: flat binaries (nasm -f bin) turned into C
# arrays, which the core's guest layer lists (monitor/guest_progs.c).
PROGS := hello loop sum long escape
PROG_BIN := $(patsubst %,$(B)/progs/%.bin,$(PROGS))
PROG_C := $(B)/progs/progs.c
# The naive model is the tests' reference (lockstep, fuzzers); since check
# runs in place over the database, nothing in the monitor calls it, so the
# UEFI image leaves it out.
TEST_ONLY_SRC := monitor/model.c
# The build stamp lives in a generated header, rewritten only when it
# changes, so that `version` is never stale and nothing rebuilds needlessly.
DEFS := -include $(B)/build_id.h

# ---- the UEFI image ------------------------------------------------------
EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
# -ffreestanding: no libc; -fpic: gnu-efi links a relocatable PE;
# -fshort-wchar: UEFI's CHAR16 strings; -mno-red-zone: interrupts and
# exceptions write below RSP; -mno-sse -mno-mmx: no FPU state is set up;
# -maccumulate-outgoing-args: required for ms_abi calls into firmware;
# -fno-strict-aliasing: firmware structures are read through casts;
# GNU_EFI_USE_MS_ABI: call firmware directly with the ms_abi attribute.
EFI_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-stack-protector -fpic \
	-fshort-wchar -mno-red-zone -mno-sse -mno-mmx -maccumulate-outgoing-args \
	-fno-strict-aliasing -DGNU_EFI_USE_MS_ABI -isystem $(EFI_INC) -isystem $(EFI_INC)/x86_64 \
	$(CORE_INC) -Iefi $(DEFS)
# gnu-efi's link: a shared object (-shared -Bsymbolic: every reference bound
# inside the image, so only R_X86_64_RELATIVE relocations remain, which
# crt0's _relocate applies) with relocations kept apart per section
# (-znocombreloc), as gnu-efi's objcopy to PE expects.
EFI_LDFLAGS := -nostdlib -znocombreloc -T efi/memmon.lds --orphan-handling=error -shared -Bsymbolic \
	-L$(EFI_LIB) $(EFI_LIB)/crt0-efi-x86_64.o
EFI_SECTIONS := -j .text -j .rodata -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
	-j .rel.* -j .rela.* -j .reloc

EFI_SRC := efi/main.c efi/idmap.c efi/cpu.c efi/uart.c efi/platform_x86.c efi/svm.c efi/lib.c \
	efi/apic.c efi/smp.c efi/shoot.c
EFI_ASM := $(sort $(wildcard efi/*.asm))
EFI_OBJ := $(patsubst %.c,$(B)/efi-obj/%.o,$(filter-out $(TEST_ONLY_SRC),$(CORE_SRC)) $(PROG_C) $(EFI_SRC)) \
	$(patsubst %.asm,$(B)/efi-obj/%.o,$(EFI_ASM))
HELLO_OBJ := $(B)/efi-obj/efi/hello.o $(B)/efi-obj/efi/uart.o

# ---- the hosted build ------------------------------------------------------
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
HOST_CFLAGS := -std=gnu11 -O1 -g $(WARN) $(CORE_INC) -Itest/host $(DEFS)
HOST_SRC := $(CORE_SRC) $(PROG_C) test/host/platform_host.c
HOST_OBJ := $(patsubst %.c,$(B)/host-obj/%.o,$(HOST_SRC))

$(B)/build_id.h: FORCE
	@mkdir -p $(B)
	@echo '#define MEMMON_BUILD "$(BUILD_ID)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

.PHONY: FORCE all run image run-image debug test test-build check-layers unit fuzz fuzz-smoke integration prove prove-pt bench bench-frames bench-pt bench-space bench-boot bench-guest deps format check-format \
	analyze clean help
.DEFAULT_GOAL := all

all: $(B)/memmon.efi $(B)/esp/EFI/BOOT/BOOTX64.EFI $(B)/hello.efi $(B)/host/memmon-host

$(B)/progs/%.bin: monitor/progs/%.asm
	@mkdir -p $(dir $@)
	$(NASM) -f bin $< -o $@

$(PROG_C): $(PROG_BIN) scripts/progs_c.py
	$(PYTHON) scripts/progs_c.py $@ $(PROG_BIN)
$(B)/progs/progs.h: $(PROG_C)
$(B)/efi-obj/monitor/guest_progs.o $(B)/host-obj/monitor/guest_progs.o: $(B)/progs/progs.h

$(B)/efi-obj/%.o: %.c $(B)/build_id.h
	@mkdir -p $(dir $@)
	$(CC) $(EFI_CFLAGS) -MMD -c $< -o $@

$(B)/efi-obj/efi/%.o: efi/%.asm
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -g $< -o $@

$(B)/memmon.so: $(EFI_OBJ) efi/memmon.lds
	ld $(EFI_LDFLAGS) $(filter %.o,$^) -o $@ -lgnuefi

$(B)/hello.so: $(HELLO_OBJ) efi/memmon.lds
	ld $(EFI_LDFLAGS) $(filter %.o,$^) -o $@ -lgnuefi

# subsystem 10 = EFI application
$(B)/%.efi: $(B)/%.so
	objcopy $(EFI_SECTIONS) --target efi-app-x86_64 --subsystem=10 $< $@

$(B)/esp/EFI/BOOT/BOOTX64.EFI: $(B)/memmon.efi
	@mkdir -p $(dir $@)
	cp $< $@

$(B)/host-obj/%.o: %.c $(B)/build_id.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN) -MMD -c $< -o $@

$(B)/host/memmon-host: $(HOST_OBJ) $(B)/host-obj/test/host/main_host.o
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $^ -o $@

# ---- running -----------------------------------------------------------
# SCRIPT=FILE: memmon runs FILE as startup.mon at its first prompt.
SCRIPT ?=
run: all
	scripts/qemu.sh --mem $(MEM) --esp $(B)/esp $(if $(SCRIPT),--script $(SCRIPT)) \
	  || [ $$? -eq 33 ]  # 33: memmon's halt

# A raw GPT disk image with one EFI system partition (scripts/mkimage.sh),
# rebuilt each time so that SCRIPT= is always what it holds.
IMAGE := $(B)/memmon.img
image: $(B)/memmon.efi
	scripts/mkimage.sh $(IMAGE) $(B)/memmon.efi $(SCRIPT)

run-image: image
	scripts/qemu.sh --mem $(MEM) --image $(IMAGE) || [ $$? -eq 33 ]

# QEMU with its gdb stub on :$(GDB_PORT), and gdb with memmon's symbols
# loaded at the image base memmon prints at boot (scripts/memmon.gdb).
GDB_PORT ?= 1234
debug: all
	scripts/debug.sh --mem $(MEM) --port $(GDB_PORT)

# ---- tests ---------------------------------------------------------------
UNIT_TESTS := $(patsubst test/unit/%.c,$(B)/host/%,$(sort $(wildcard test/unit/test_*.c)))

# The test library (test/lib/): helpers every host test shares.
TESTLIB_SRC := test/lib/testlib.c
UNITLIB_SRC := $(TESTLIB_SRC) test/lib/unit.c

$(B)/host/test_%: test/unit/test_%.c $(HOST_OBJ) $(UNITLIB_SRC) $(wildcard test/unit/*.h test/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itest/lib $(SAN) $(filter-out %.h,$^) -lcmocka -o $@

# The shootdown protocol (efi/shoot.c) under threads, with ThreadSanitizer
# (which cannot share a build with AddressSanitizer).
$(B)/host/tsan_shoot: test/threads/test_shoot.c efi/shoot.c efi/shoot.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g $(WARN) -Iefi -fsanitize=thread -pthread $(filter %.c,$^) -o $@

unit: $(UNIT_TESTS) $(B)/host/tsan_shoot
	@for t in $(UNIT_TESTS) $(B)/host/tsan_shoot; do echo "== $$t"; $$t || exit 1; done

FUZZ_FLAGS := -std=gnu11 -O1 -g $(CORE_INC) -Itest/host $(DEFS) -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all
FUZZ_TARGETS := $(patsubst test/fuzz/%.c,$(B)/fuzz/%,$(sort $(wildcard test/fuzz/fuzz_*.c)))

$(B)/fuzz/%: test/fuzz/%.c $(HOST_SRC) $(TESTLIB_SRC) $(wildcard monitor/*.h paging/*.h test/host/*.h test/lib/*.h) $(B)/build_id.h
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_FLAGS) -Itest/lib $(WARN) $(filter %.c,$^) -o $@

FUZZ_SECONDS ?= 60
# How many targets run at once (each is one process); a target's log goes to
# build/fuzz/NAME.log and is printed whole when it fails.
FUZZ_JOBS ?= 1
# A long run of every fuzz target (make fuzz FUZZ_SECONDS=600).
fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do mkdir -p $(B)/corpus/$$(basename $$f); done
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} sh -c \
	  'n=$$(basename {}); {} -max_total_time=$(FUZZ_SECONDS) $(B)/corpus/$$n \
	   test/fuzz/seeds/$${n#fuzz_} > {}.log 2>&1 \
	   && echo "$$n: $$(grep "^Done" {}.log)" || { cat {}.log; echo "$$n: FAILED"; exit 1; }'

# The bounded run that `make test` includes, a target per CPU.
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20 FUZZ_JOBS=$(JOBS)

integration: all
	$(PYTHON) -m pytest -v test/integration

# The layer order (console -> guests -> spaces -> paging -> frames -> seam), checked on
# the includes, on the hosted objects' symbols (nm) and on the console's
# doors: scripts/check_layers.py says what it holds.
check-layers: $(HOST_OBJ)
	$(PYTHON) scripts/check_layers.py $(B)/host-obj

# What make test runs builds first, JOBS at a time: compile times do not
# depend on what else runs, unlike the provers' and QEMU's timeouts, so
# those run one at a time after it.
test-build:
	$(MAKE) -j$(JOBS) all $(UNIT_TESTS) $(B)/host/tsan_shoot $(FUZZ_TARGETS) \
	  $(B)/proof/test_bits $(B)/proof/why3.conf

test: check-format test-build check-layers analyze prove prove-pt unit fuzz-smoke integration

# ---- proofs ----------------------------------------------------------------
# Frama-C's WP over the contracts in pte.h, frame.c and pt.c (scripts/prove.py
# says what each unit proves); fails on any goal not proved and not on
# proof/known-unproved.txt. First the shift/mask facts the prover assumes
# (proof/bits.h) are checked by running them. WP finds z3 and cvc4 through a
# why3 configuration of its own under build/ (why3 config detect, once), so
# a fresh clone needs no ~/.why3.conf. PROVE_ALL=1 also tries the known-unproved.
$(B)/proof/test_bits: test/proof/test_bits.c paging/pte.h monitor/types.h $(B)/build_id.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) $(CORE_INC) $(DEFS) $< -o $@

$(B)/proof/why3.conf:
	@mkdir -p $(dir $@)
	WHY3CONFIG=$@.tmp why3 config detect >/dev/null && mv $@.tmp $@

prove: $(B)/proof/test_bits $(B)/proof/why3.conf $(B)/build_id.h
	$(B)/proof/test_bits
	$(PYTHON) scripts/prove.py $(if $(PROVE_ALL),--all) $(PROVE_UNITS)

# The rest of paging/pt.c and pt.h (unit pt_rest: every function that
# make prove's unit pt does not prove), so that prove and prove-pt together
# cover every function. A target of its own so that make prove keeps to its
# 3 minutes; pt_rest takes about 8 more (1592 goals, every one proved:
# proof/pt-all-todo.txt is empty). Both run in make test.
prove-pt: $(B)/proof/why3.conf $(B)/build_id.h
	$(PYTHON) scripts/prove.py $(if $(PROVE_ALL),--all) pt_rest

# Benchmarks: the core built as it runs (-O2, no sanitizers, no junk fill).
BENCH_CFLAGS := -std=gnu11 -O2 -g $(WARN) $(CORE_INC) -Itest/host $(DEFS) -DFRAME_JUNK=0
$(B)/bench/%: test/bench/%.c $(HOST_SRC) $(wildcard monitor/*.h paging/*.h test/host/*.h test/bench/*.h) $(B)/build_id.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(filter %.c,$^) -o $@

# The frame allocator's table and the page-table driver (1 GiB of
# simulated RAM each), the spaces layer (4 GiB, and 1 GiB for check), then
# boot times.
bench: bench-frames bench-pt bench-space bench-boot bench-guest
bench-frames: $(B)/bench/bench_frame
	$(B)/bench/bench_frame
bench-pt: $(B)/bench/bench_pt
	$(B)/bench/bench_pt
bench-space: $(B)/bench/bench_space
	$(B)/bench/bench_space
bench-boot: all
	$(PYTHON) scripts/bootbench.py --mem 1G,256G
# Guests under QEMU's TCG (an 8 GiB boot, for a GiB-aligned GiB of sigma0):
# vmmcall exits per second, npf -> map -> resume round trips, and reading
# 1 GiB through 4K, 2M and 1G nested pages (memmon's `guest bench`).
bench-guest: all
	$(PYTHON) scripts/memmon.py run --mem 8G scripts/examples/guestbench.mon

# ---- housekeeping ----------------------------------------------------------
deps:
	scripts/deps.sh

FORMAT_FILES := $(wildcard monitor/*.[ch] paging/*.[ch] efi/*.[ch] test/*/*.[ch])
format:
	clang-format -i $(FORMAT_FILES)

check-format:
	clang-format --dry-run --Werror $(FORMAT_FILES)

# cppcheck, then clang's analyzer (scan-build) over the hosted build without
# sanitizers; each fails on any report. A report is fixed, or the code says
# why it cannot happen in a form the analyzer reads (CHECK, returns_nonnull).
ANALYZE_SRC := $(HOST_SRC) test/host/main_host.c
analyze: $(B)/build_id.h $(B)/progs/progs.h
	cppcheck --error-exitcode=1 --enable=warning,portability --inline-suppr -q \
	  $(CORE_INC) -Itest/host monitor test/host
	@rm -rf $(B)/analyze && mkdir -p $(B)/analyze
	scan-build --status-bugs -o $(B)/analyze/reports sh -c 'for f in $(ANALYZE_SRC); do \
	  $$CC -std=gnu11 -O1 $(WARN) $(CORE_INC) -Itest/host $(DEFS) -c $$f -o $(B)/analyze/x.o \
	  || exit 1; done'

clean:
	rm -rf $(B)

help:
	@echo "make [all]      build build/memmon.efi, the ESP folder build/esp, the tools"
	@echo "make deps       install the Debian packages memmon needs (apt-get)"
	@echo "make run        boot memmon in QEMU/OVMF, console on this terminal (MEM=$(MEM))"
	@echo "make run SCRIPT=FILE   the same, FILE run as startup.mon at the first prompt"
	@echo "make image [SCRIPT=FILE]   build/memmon.img: a GPT disk image with an EFI system partition"
	@echo "make run-image  boot build/memmon.img in QEMU as a disk"
	@echo "make debug      boot with QEMU's gdb stub; gdb with memmon's symbols at its image base"
	@echo "make test       format check, every build in parallel (JOBS=$(JOBS)), layer check, analyzer,"
	@echo "                proofs, unit tests, fuzz smoke run (JOBS targets at once), QEMU integration tests"
	@echo "make check-layers   fail on an upward include or call, or a console that skips a layer"
	@echo "make unit | fuzz | integration   one part of it (fuzz: FUZZ_SECONDS=60 FUZZ_JOBS=1)"
	@echo "make bench      benchmarks: the frame allocator's table (bench-frames), the page-table"
	@echo "                driver (bench-pt), the spaces layer (bench-space), then boot time at"
	@echo "                1G and 256G against a minimal UEFI application (bench-boot)"
	@echo "make prove      prove the contracts (Frama-C WP, z3, cvc4; PROVE_ALL=1: the known-unproved too)"
	@echo "make analyze    cppcheck and clang's analyzer (scan-build), zero reports"
	@echo "make format | check-format | clean"

-include $(shell find $(B) -name '*.d' 2>/dev/null)
