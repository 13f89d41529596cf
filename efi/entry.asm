; The few things C cannot say: interrupt entry stubs, the GDT reload, the
; stack switch, and saving/resuming a register context for fault recovery.
; Position-independent (RIP-relative) because gnu-efi links a PIC image.

bits 64
default rel

extern trap_dispatch

section .text

; ---- interrupt and exception entry ------------------------------------
; 256 stubs, each 16 bytes, so stub N is at isr_stubs + 16*N. The CPU
; pushes an error code for vectors 8, 10-14, 17, 21, 29 and 30; every
; other stub pushes a zero in its place so that struct trap_frame
; (efi/cpu.h) has one shape.

%macro STUB 1
align 16
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17) || (%1 == 21) || (%1 == 29) || (%1 == 30)
	push qword %1
%else
	push qword 0
	push qword %1
%endif
	jmp isr_common
%endmacro

global isr_stubs
align 16
isr_stubs:
%assign v 0
%rep 256
	STUB v
%assign v v+1
%endrep

isr_common:
	push r15
	push r14
	push r13
	push r12
	push r11
	push r10
	push r9
	push r8
	push rbp
	push rdi
	push rsi
	push rdx
	push rcx
	push rbx
	push rax
	mov rdi, rsp            ; struct trap_frame *
	cld
	call trap_dispatch      ; returns only for events that resume
	pop rax
	pop rbx
	pop rcx
	pop rdx
	pop rsi
	pop rdi
	pop rbp
	pop r8
	pop r9
	pop r10
	pop r11
	pop r12
	pop r13
	pop r14
	pop r15
	add rsp, 16             ; vector and error code
	iretq

; ---- void x86_load_tables(const void *gdtr, const void *idtr, uint16_t cs,
;                           uint16_t ds, uint16_t tss)
;        rdi = gdtr, rsi = idtr, dx = cs, cx = ds, r8w = tss
; Loads GDT, segments, TSS and IDT back to back: between lgdt and lidt the
; firmware's IDT (whose gates name the firmware's code selector) is still
; live, so that window is kept to a few instructions.
global x86_load_tables
x86_load_tables:
	lgdt [rdi]
	mov ds, cx
	mov es, cx
	mov ss, cx
	xor eax, eax
	mov fs, ax
	mov gs, ax
	ltr r8w
	movzx rdx, dx
	push rdx
	lea rax, [rel .reloaded]
	push rax
	retfq                   ; far return reloads CS
.reloaded:
	lidt [rsi]
	ret

; ---- void x86_switch_stack(void *top, void (*fn)(void *), void *arg)
; Runs fn(arg) on the new stack; fn never returns.
global x86_switch_stack
x86_switch_stack:
	mov rsp, rdi
	xor ebp, ebp
	mov rdi, rdx
	call rsi
.dead:
	cli
	hlt
	jmp .dead

; ---- int x86_save_ctx(struct x86_ctx *c)  returns 0, or v from resume
; ---- void x86_resume_ctx(struct x86_ctx *c, int v)  never returns
; struct x86_ctx: rbx rbp r12 r13 r14 r15 rsp rip ss. SS is part of it
; because under QEMU an exception taken on an interrupt stack was seen to
; leave SS null, and a resume jumps back without the iretq that would have
; restored it.
global x86_save_ctx
x86_save_ctx:
	mov [rdi + 0], rbx
	mov [rdi + 8], rbp
	mov [rdi + 16], r12
	mov [rdi + 24], r13
	mov [rdi + 32], r14
	mov [rdi + 40], r15
	lea rdx, [rsp + 8]      ; the caller's rsp after we return
	mov [rdi + 48], rdx
	mov rdx, [rsp]          ; our return address
	mov [rdi + 56], rdx
	xor edx, edx
	mov dx, ss
	mov [rdi + 64], rdx
	xor eax, eax
	ret

global x86_resume_ctx
x86_resume_ctx:
	mov rbx, [rdi + 0]
	mov rbp, [rdi + 8]
	mov r12, [rdi + 16]
	mov r13, [rdi + 24]
	mov r14, [rdi + 32]
	mov r15, [rdi + 40]
	mov rdx, [rdi + 64]
	mov ss, dx
	mov rsp, [rdi + 48]
	mov eax, esi
	jmp [rdi + 56]

section .note.GNU-stack noalloc noexec nowrite progbits
