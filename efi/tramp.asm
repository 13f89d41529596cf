; The trampoline: memmon's code that runs under a client's page tables, for
; peek, poke and park (monitor/platform.h: plat_access, plat_park).
;
; Assembled into the image, but never run there: efi/platform_x86.c copies
; [tramp_start, tramp_end) into the reserved code page at PLAT_RSV_BASE,
; fills the three slots at the end of the copy (tramp_gdtr, tramp_idtr,
; tramp_stack) and calls the copy through a function pointer. Every
; reference is relative to RIP and inside this blob, so the copy runs
; wherever it lies; the reserved pages are mapped at the same addresses in
; memmon's own tables and in every client's, so it survives the CR3 switch.
;
; int tramp_entry(uint64_t root, uint64_t va, uint64_t op, uint64_t value,
;                 struct tramp_out *out)           (SysV: rdi rsi rdx rcx r8)
;   op TRAMP_READ: out->value = [va]; TRAMP_WRITE: [va] = value;
;   TRAMP_PARK: wait for a byte on COM1 and consume it.
;   Returns 1 and out->vector = -1 when done; 0 when a CPU exception cut it
;   short, with out->vector, ->code (0 for vectors without an error code)
;   and ->addr (CR2). Clobbers only caller-saved registers.
;
; The switch, in order: RFLAGS saved on memmon's stack, interrupts off; RSP
; to the trampoline's stack, which holds the frame below (memmon's RSP,
; GDTR, IDTR, CR3, CR0 and `out`); CR0.WP set if it was clear; RFLAGS.AC set
; (were CR4.SMAP on, it would let the supervisor reach user pages); GDT and
; IDT to the copies in the reserved data page; CR3 = root. The way back
; undoes it in reverse. Between the lidt that installs the trampoline's IDT
; and the one that restores memmon's, RSP stays at the frame's base, so an
; exception anywhere in that window (the access itself, an NMI) lands in
; tramp_fault with the frame at a known place: tramp_fault records vector,
; error code and CR2, and irets (which also ends the NMI blocking an NMI
; starts) to tramp_resume, the same way back the normal path takes.
;
; The IDT's 32 gates (vectors 0-31) are interrupt gates, IST 0, selector
; 0x08, pointing at tramp_stubs + 16 * v. No privilege change and no IST
; means the CPU touches neither the TSS nor another stack: delivery reads
; only the IDT, the GDT's code descriptor and the current stack, all in
; reserved pages. The GDT copy's descriptors have their accessed bits set,
; so the CPU never writes to it (the data page is mapped read-only).

bits 64
default rel

TRAMP_READ  equ 0
TRAMP_WRITE equ 1
TRAMP_PARK  equ 2

; The frame at the base of the trampoline's stack.
F_GDTR  equ 0                   ; memmon's GDTR (10 bytes)
F_IDTR  equ 16                  ; memmon's IDTR (10 bytes)
F_CR3   equ 32
F_CR0   equ 40
F_RSP   equ 48                  ; memmon's RSP (its RFLAGS and return address above)
F_OUT   equ 56                  ; struct tramp_out * (in memmon's space)
F_SIZE  equ 64

; struct tramp_out (efi/tramp.h)
O_VALUE  equ 0
O_VECTOR equ 8
O_CODE   equ 16
O_ADDR   equ 24

COM1_DATA equ 0x3f8
COM1_LSR  equ 0x3fd             ; line status: bit 0 data ready

CR0_WP_BIT  equ 16
RFLAGS_AC   equ 1 << 18

section .text.tramp progbits alloc exec nowrite align=16

global tramp_start, tramp_end, tramp_stubs, tramp_gdtr, tramp_idtr, tramp_stack

tramp_start:                    ; the entry is the blob's first byte
	pushfq
	cli
	mov r10, rsp
	mov rsp, [rel tramp_stack]
	sub rsp, F_SIZE
	mov [rsp + F_RSP], r10
	mov [rsp + F_OUT], r8
	sgdt [rsp + F_GDTR]
	sidt [rsp + F_IDTR]
	mov rax, cr3
	mov [rsp + F_CR3], rax
	mov rax, cr0
	mov [rsp + F_CR0], rax
	bts rax, CR0_WP_BIT
	jc .wp_on
	mov cr0, rax
.wp_on:
	pushfq
	or qword [rsp], RFLAGS_AC
	popfq
	lgdt [rel tramp_gdtr]
	lidt [rel tramp_idtr]   ; from here to the lidt back, RSP is the frame
	mov cr3, rdi
	cmp edx, TRAMP_READ
	je .read
	cmp edx, TRAMP_WRITE
	je .write

	mov dx, COM1_LSR        ; TRAMP_PARK
.poll:
	in al, dx
	test al, 1
	jnz .byte
	pause
	jmp .poll
.byte:
	mov dx, COM1_DATA
	in al, dx
	movzx eax, al
	jmp .done
.read:
	mov rax, [rsi]
	jmp .done
.write:
	mov [rsi], rcx
.done:
	mov r9, -1              ; no vector
	xor r10d, r10d
	xor r11d, r11d

; rax value, r9 vector (-1: none), r10 error code, r11 CR2
tramp_resume:
	mov rdx, [rsp + F_CR3]
	mov cr3, rdx
	lgdt [rsp + F_GDTR]
	lidt [rsp + F_IDTR]
	mov rdx, [rsp + F_CR0]
	bt rdx, CR0_WP_BIT
	jc .wp_was_on
	mov cr0, rdx
.wp_was_on:
	mov r8, [rsp + F_OUT]
	mov rsp, [rsp + F_RSP]
	popfq                   ; memmon's RFLAGS: AC and IF as they were
	mov [r8 + O_VALUE], rax
	mov [r8 + O_VECTOR], r9
	mov [r8 + O_CODE], r10
	mov [r8 + O_ADDR], r11
	xor eax, eax
	cmp r9, -1
	sete al
	ret

; Vector and error code off the stack, CR2, then iretq to tramp_resume
; (the CPU's frame: RIP, CS, RFLAGS, RSP = the frame's base, SS).
tramp_fault:
	pop r9
	pop r10
	mov r11, cr2
	lea rax, [rel tramp_resume]
	mov [rsp], rax
	iretq

; 32 stubs of 16 bytes, as in entry.asm: a zero where the CPU pushes no
; error code, then the vector.
%macro TSTUB 1
align 16
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17) || (%1 == 21) || (%1 == 29) || (%1 == 30)
	push qword %1
%else
	push qword 0
	push qword %1
%endif
	jmp tramp_fault
%endmacro

align 16
tramp_stubs:
%assign v 0
%rep 32
	TSTUB v
%assign v v+1
%endrep

; Filled in the copy by efi/platform_x86.c (tramp_init).
align 16
tramp_stack:    dq 0            ; the top of the trampoline's stack
	dw 0, 0, 0              ; (pads each pseudo-descriptor's base to 8 bytes)
tramp_gdtr:     dw 0            ; limit, then base: the GDT copy
	dq 0
	dw 0, 0, 0
tramp_idtr:     dw 0            ; the trampoline's IDT
	dq 0
tramp_end:

section .note.GNU-stack noalloc noexec nowrite progbits
