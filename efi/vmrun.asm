; The VMRUN stub (efi/svm.h): one guest run, from memmon's registers to the
; guest's and back. VMRUN itself saves and restores only RAX, RSP, RIP,
; RFLAGS, the control registers, EFER and the segment state in the host
; save area; every other general register is the guest's across the run, so
; this stub saves memmon's callee-saved ones and swaps the rest through
; struct plat_gprs (monitor/platform.h): rbx, rcx, rdx, rsi, rdi, rbp, r8-r15
; at offsets 0, 8, ... 104. FS, GS, TR, LDTR, KernelGsBase and the
; system-call MSRs are moved by VMSAVE/VMLOAD around the run, so a guest
; that loads its own TR or segments cannot leave them in memmon.

bits 64
default rel

section .text

G_RBX equ 0
G_RCX equ 8
G_RDX equ 16
G_RSI equ 24
G_RDI equ 32
G_RBP equ 40
G_R8  equ 48
G_R9  equ 56
G_R10 equ 64
G_R11 equ 72
G_R12 equ 80
G_R13 equ 88
G_R14 equ 96
G_R15 equ 104

; void svm_enter(uint64_t vmcb_pa, struct plat_gprs *g, uint64_t host_pa)
;        rdi = vmcb_pa, rsi = g, rdx = host_pa
global svm_enter
svm_enter:
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	push rdi                ; [rsp + 16] vmcb_pa
	push rdx                ; [rsp + 8]  host_pa
	push rsi                ; [rsp]      g

	clgi                    ; no interrupt or NMI reaches memmon from here on
	mov rax, rdx
	vmsave                  ; memmon's FS, GS, TR, LDTR and MSRs
	mov rax, rdi
	vmload                  ; the guest's

	mov rbx, [rsi + G_RBX]
	mov rcx, [rsi + G_RCX]
	mov rdx, [rsi + G_RDX]
	mov rdi, [rsi + G_RDI]
	mov rbp, [rsi + G_RBP]
	mov r8,  [rsi + G_R8]
	mov r9,  [rsi + G_R9]
	mov r10, [rsi + G_R10]
	mov r11, [rsi + G_R11]
	mov r12, [rsi + G_R12]
	mov r13, [rsi + G_R13]
	mov r14, [rsi + G_R14]
	mov r15, [rsi + G_R15]
	mov rsi, [rsi + G_RSI]

	sti                     ; with V_INTR_MASKING, memmon's IF gates physical
	vmrun                   ; interrupts while the guest runs; GIF=0 holds them
	                        ; from memmon before and after
	; #VMEXIT: RAX, RSP and RIP are memmon's again (rax = vmcb_pa), GIF=0.
	vmsave                  ; the guest's FS, GS, TR, LDTR and MSRs
	cli

	push rsi                ; the guest's rsi; g is at [rsp + 8] now
	mov rsi, [rsp + 8]
	mov [rsi + G_RBX], rbx
	mov [rsi + G_RCX], rcx
	mov [rsi + G_RDX], rdx
	mov [rsi + G_RDI], rdi
	mov [rsi + G_RBP], rbp
	mov [rsi + G_R8],  r8
	mov [rsi + G_R9],  r9
	mov [rsi + G_R10], r10
	mov [rsi + G_R11], r11
	mov [rsi + G_R12], r12
	mov [rsi + G_R13], r13
	mov [rsi + G_R14], r14
	mov [rsi + G_R15], r15
	pop rax
	mov [rsi + G_RSI], rax

	mov rax, [rsp + 8]      ; host_pa
	vmload                  ; memmon's FS, GS, TR, LDTR and MSRs back
	stgi                    ; interrupts still off (IF=0)

	add rsp, 24
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret

section .note.GNU-stack noalloc noexec nowrite progbits
