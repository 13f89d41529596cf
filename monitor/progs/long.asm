; long: builds its own 4-level page tables, enters long mode and then
; counts in a qword above 4 GiB, reporting each value with vmmcall.
;
; Entry (all programs): 32-bit protected mode, flat segments, paging off,
; IF=0, EIP = EAX = L (the load address), ESP = 0.
; Inputs: EAX = L. Nothing else.
; Memory (guest-physical):
;   L           code and GDT; only read and executed, never written, so it
;               may be mapped read+execute only
;   L + 0x1000  PML4: entry 0 -> PDPT
;   L + 0x2000  PDPT: entry L>>30 -> PD at L + 0x3000, entry 4 -> PD at
;               L + 0x4000. Its unused tail holds the GDTR operand (at
;               +0xFF0) and the small stack for the far return (ESP =
;               L + 0x2FE0, 8 bytes used)
;   L + 0x3000  PD: the GiB that holds L, identity, 2 MiB pages
;   L + 0x4000  PD: the GiB at 4 GiB, identity, 2 MiB pages
;   0x100000000 the counter (a qword), reached only in 64-bit mode
; L + 0x4FFF must be below 4 GiB, and L + 0x2FFF in the same GiB as L (the
; stack and GDTR operand are reached through the identity map of L's GiB
; once paging is on).
; Exits, in order:
;   npf for each of L + 0x1000 .. L + 0x4000 not yet mapped (retried)
;   wrmsr ECX = 0xC0000080 (EFER), EDX:EAX = 0x100 (LME): the user sets
;     EFER for the guest and skips the wrmsr
;   npf at 0x100000000 until the user maps that page (retried)
;   then vmmcall with RAX = the new counter value, and after each resume
;   another vmmcall with the next value (1, 2, 3, ... from a zero page)

bits 32
org 0

start:
	mov ebx, eax			; EBX = L for good

	; Zero the four table pages.
	cld
	lea edi, [ebx + 0x1000]
	xor eax, eax
	mov ecx, 4 * 0x1000 / 4
	rep stosd

	; PML4[0] = PDPT, present + writable.
	lea eax, [ebx + 0x2003]
	mov [ebx + 0x1000], eax

	; PDPT[L >> 30] = the PD for L's GiB; PDPT[4] = the PD for 4 GiB.
	mov ecx, ebx
	shr ecx, 30
	lea eax, [ebx + 0x3003]
	mov [ebx + 0x2000 + ecx * 8], eax
	lea eax, [ebx + 0x4003]
	mov [ebx + 0x2000 + 4 * 8], eax

	; PD for L's GiB: 512 identity 2 MiB pages (present, writable, PS).
	lea edi, [ebx + 0x3000]
	mov eax, ebx
	and eax, 0xC0000000
	or eax, 0x83
	mov ecx, 512
.low_gib:
	mov [edi], eax			; high dword stays 0
	add eax, 0x200000
	add edi, 8
	dec ecx
	jnz .low_gib

	; PD for the GiB at 4 GiB: the same with address bit 32 set.
	lea edi, [ebx + 0x4000]
	mov eax, 0x83
	mov ecx, 512
.high_gib:
	mov [edi], eax
	mov dword [edi + 4], 1		; bits 63:32 of the address
	add eax, 0x200000
	add edi, 8
	dec ecx
	jnz .high_gib

	; The GDTR operand at L + 0x2FF0: limit, then base = L + gdt (the
	; upper dword of a 64-bit base is zero, for good measure).
	mov word [ebx + 0x2FF0], gdt_end - gdt - 1
	lea eax, [ebx + gdt]
	mov [ebx + 0x2FF2], eax
	mov dword [ebx + 0x2FF6], 0

	; CR3 = the PML4, then CR4.PAE.
	lea eax, [ebx + 0x1000]
	mov cr3, eax
	mov eax, cr4
	or eax, 0x20			; PAE
	mov cr4, eax

	; EFER.LME. This exits: the user sets EFER and skips the wrmsr.
	mov ecx, 0xC0000080
	mov eax, 0x100
	xor edx, edx
	wrmsr

	; Paging on (PE stays set): the CPU is now in compatibility mode.
	mov eax, cr0
	or eax, 0x80000000		; PG
	mov cr0, eax

	; Load the GDT and far-return into its 64-bit code segment.
	lgdt [ebx + 0x2FF0]
	lea esp, [ebx + 0x2FE0]
	push dword 0x08			; CS = the 64-bit code descriptor
	lea eax, [ebx + long64]
	push eax
	retf

; The GDT: the null descriptor and one 64-bit code segment (selector 8:
; present, DPL 0, execute/read, L=1, D=0, G=1). The accessed bit is preset
; so that loading CS never writes to this page.
align 8
gdt:
	dq 0
	dq 0x00AF9B000000FFFF
gdt_end:

bits 64
long64:
	mov rcx, 0x100000000
	mov rax, [rcx]			; npf here until that page is mapped
	add rax, 1
	mov [rcx], rax
	mov rax, [rcx]			; read back what was stored
	vmmcall				; report RAX
	jmp long64
