; escape: a hostile guest that tries to get out. Each attempt below should
; exit to the monitor; the user skips past each, and the next one runs.
;
; Entry (all programs): 32-bit protected mode, flat segments, paging off,
; IF=0, EIP = EAX = L (the load address), ESP = 0.
; Inputs: EAX = L. EBX, ECX, EDX, ESI, EDI, EBP: up to six guest-physical
;   addresses (below 4 GiB) of monitor frames to attack, 0 = none.
; Memory (guest-physical):
;   L           code
;   L + 0x1000  PDPT (the first 32 bytes); the IDTR operand at +0xFF0
;   L + 0x2000  PD for the GiB that holds L: identity 2 MiB pages, except
;               one window entry
;   L + 0x2FFF must be in the same GiB as L (the PD is rewritten through the
;   identity map while paging is on).
; The window: the 2 MiB-aligned linear address W = (L & ~0x1FFFFF) ^
;   0x20000000, 512 MiB away from L's 2 MiB region and in the same GiB, so
;   never the code or the tables.
; Attempts and the exits they cause, in order:
;   1. paging off: dword 0x0BADC0DE to each non-zero frame address, in the
;      order EBX, ECX, EDX, ESI, EDI, EBP: an npf each
;   2. PAE paging on (no exit expected); then for g = 0, 1, ..., 1023 GiB:
;      window -> guest-physical g, write 0x0BADC0DE at W: 1024 npf exits at
;      guest-physical g (none where the monitor has that page mapped)
;   3. window -> physical 0xFFFFFF8000000000 (reserved bits in the PDE),
;      write at W: guest #PF (exception 14)
;   4. paging off again (no exit expected)
;   5. io: out 0xF4 byte 0x10; out 0x3F8 byte 'X'; out 0x64 byte 0xFE;
;      out 0x604 word 0x2000; in 0x604 word
;   6. wrmsr 0xC0000080 (EFER) = 0; 0xC0000082 (LSTAR) = L; 0x1B (APIC
;      base) = 0
;   7. cli, hlt: a hlt exit
;   8. int3: exception 3
;   9. mov ds, ax with AX = 0x10 (beyond the zero GDT limit): exception 13
;  10. lidt of a zero-limit IDT (no exit expected), then ud2: exception 6
;      (with no usable IDT, reflecting it would triple-fault)
;   then hlt, forever.

bits 32
org 0

; Write the poison to the frame in register %1, if it is not 0.
%macro POISON 1
	test %1, %1
	jz %%skip
	mov dword [%1], 0x0BADC0DE
%%skip:
%endmacro

start:
	; 1. The monitor frames, with paging off. EAX keeps L meanwhile.
	POISON ebx
	POISON ecx
	POISON edx
	POISON esi
	POISON edi
	POISON ebp
	mov ebp, eax			; EBP = L from here on

	; 2. PAE paging with our own tables.
	; PDPT: four entries, all absent but the one for L's GiB.
	cld
	lea edi, [ebp + 0x1000]
	xor eax, eax
	mov ecx, 8
	rep stosd
	mov ecx, ebp
	shr ecx, 30
	lea eax, [ebp + 0x2001]		; PD, present (PAE PDPTEs have no R/W bit)
	mov [ebp + 0x1000 + ecx * 8], eax

	; PD: L's GiB, 512 identity 2 MiB pages (present, writable, PS).
	lea edi, [ebp + 0x2000]
	mov eax, ebp
	and eax, 0xC0000000
	or eax, 0x83
	mov ecx, 512
.fill:
	mov [edi], eax
	mov dword [edi + 4], 0
	add eax, 0x200000
	add edi, 8
	dec ecx
	jnz .fill

	; EDI = W, the window; ESI = the address of its PD entry.
	mov edi, ebp
	and edi, 0xFFE00000
	xor edi, 0x20000000
	mov esi, edi
	shr esi, 21
	and esi, 511
	lea esi, [ebp + 0x2000 + esi * 8]

	; CR3 = the PDPT, CR4.PAE, then CR0.PG.
	lea eax, [ebp + 0x1000]
	mov cr3, eax
	mov eax, cr4
	or eax, 0x20			; PAE
	mov cr4, eax
	mov eax, cr0
	or eax, 0x80000000		; PG
	mov cr0, eax

	; Walk the window over every GiB below 2^40 (ECX = g in GiB).
	xor ecx, ecx
.probe:
	mov eax, ecx
	shl eax, 30			; address bits 31:30
	or eax, 0x83
	mov edx, ecx
	shr edx, 2			; address bits 39:32
	mov [esi], eax
	mov [esi + 4], edx
	invlpg [edi]
	mov dword [edi], 0x0BADC0DE	; npf at guest-physical g
	inc ecx
	cmp ecx, 1024
	jb .probe

	; 3. Beyond the guest's physical width: reserved bits, a guest #PF.
	mov dword [esi], 0x83
	mov dword [esi + 4], 0xFFFFFF80	; physical 0xFFFFFF8000000000
	invlpg [edi]
	mov dword [edi], 0x0BADC0DE	; #PF

	; 4. Paging off again, and PAE with it; segments stay flat.
	mov eax, cr0
	and eax, 0x7FFFFFFF
	mov cr0, eax
	mov eax, cr4
	and eax, ~0x20
	mov cr4, eax

	; 5. Port I/O.
	mov al, 0x10
	out 0xF4, al			; QEMU isa-debug-exit
	mov edx, 0x3F8
	mov al, 'X'
	out dx, al			; COM1
	mov al, 0xFE
	out 0x64, al			; 8042: pulse reset
	mov edx, 0x604
	mov eax, 0x2000
	out dx, ax			; ACPI PM1a control: S5 (power off)
	in ax, dx

	; 6. MSRs.
	mov ecx, 0xC0000080
	xor eax, eax
	xor edx, edx
	wrmsr				; EFER = 0
	mov ecx, 0xC0000082
	mov eax, ebp
	xor edx, edx
	wrmsr				; LSTAR = L
	mov ecx, 0x1B
	xor eax, eax
	xor edx, edx
	wrmsr				; APIC base = 0

	; 7. Halt with interrupts off.
	cli
	hlt

	; 8. A breakpoint.
	int3

	; 9. A #GP: selector 0x10 lies beyond the GDT limit (0).
	mov eax, 0x10
	mov ds, ax

	; 10. No IDT at all, then #UD: a triple fault if it were delivered.
	mov dword [ebp + 0x1FF0], 0	; limit 0, base 0
	mov word [ebp + 0x1FF4], 0
	lidt [ebp + 0x1FF0]
	ud2

.end:
	hlt
	jmp .end
