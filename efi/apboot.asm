; The other CPUs' first code: from the real mode a startup IPI leaves them
; in, to long mode on memmon's own page tables (efi/smp.c starts them).
;
; Assembled into the image but never run there: efi_main copies
; [apboot_start, apboot_end) to the code page of the low area, a few pages
; below 1 MiB (a startup IPI names a page there: CS = page << 8, IP = 0).
; Every reference is relative to that page, whose address the CPU finds in
; CS, so the copy runs wherever the area lies. The area (efi/smp.h):
;
;   +0x0000  this code (read-only and executable in memmon's tables)
;   +0x1000  the data page smp.c fills for each CPU (offsets AD_* below)
;   +0x2000  a PML4, +0x3000 a PDPT, +0x4000 a PD: the first 2 MiB,
;            identity, one large page; only for the step into long mode,
;            because memmon's own PML4 may lie above 4 GiB, out of reach
;            of a 32-bit mov to CR3.
;
; The path: real mode; lgdt of the data page's GDT (32-bit base); CR0.PE;
; a far jump to 32-bit code; CR4.PAE, CR3 = the small PML4, EFER.LME and
; .NXE (memmon's tables use no-execute bits), CR0.PG: compatibility mode;
; a far jump to 64-bit code; CR3 = memmon's PML4 (this page is mapped there
; at its own address), CR0 and CR4 as CPU 0 has them; RSP = the CPU's
; stack; call entry(arg), which never returns.

bits 16
default abs

AD_GDT    equ 0x00              ; null, 32-bit code, data, 64-bit code
AD_GDTR   equ 0x20              ; limit (2), base (4)
AD_FAR32  equ 0x28              ; offset (4), selector (2)
AD_FAR64  equ 0x30              ; offset (4), selector (2)
AD_CR3    equ 0x38
AD_STACK  equ 0x40
AD_ENTRY  equ 0x48
AD_ARG    equ 0x50
AD_CR0    equ 0x58
AD_CR4    equ 0x60

DATA      equ 0x1000            ; the data page, from the code page
PML4      equ 0x2000
SEL_DATA  equ 0x10

MSR_EFER  equ 0xc0000080
EFER_LME  equ 1 << 8
EFER_NXE  equ 1 << 11

section .text

global apboot_start, apboot_end, apboot_pm32, apboot_lm64

apboot_start:
	cli
	cld
	mov ax, cs
	mov ds, ax
	xor ebx, ebx
	mov bx, ax
	shl ebx, 4              ; ebx = the code page's physical address
	o32 lgdt [DATA + AD_GDTR]
	mov eax, cr0
	or eax, 1               ; PE
	mov cr0, eax
	o32 jmp far [DATA + AD_FAR32]

bits 32
apboot_pm32:
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov eax, cr4
	or eax, 1 << 5          ; PAE
	mov cr4, eax
	lea eax, [ebx + PML4]
	mov cr3, eax
	mov ecx, MSR_EFER
	rdmsr
	or eax, EFER_LME | EFER_NXE
	wrmsr
	mov eax, cr0
	or eax, (1 << 31) | 1   ; PG, PE
	mov cr0, eax
	jmp far [ebx + DATA + AD_FAR64]

bits 64
apboot_lm64:
	mov rax, [rbx + DATA + AD_CR4]
	mov cr4, rax
	mov rax, [rbx + DATA + AD_CR3]
	mov cr3, rax            ; memmon's own tables from here on
	mov rax, [rbx + DATA + AD_CR0]
	mov cr0, rax
	mov rsp, [rbx + DATA + AD_STACK]
	mov rdi, [rbx + DATA + AD_ARG]
	mov rax, [rbx + DATA + AD_ENTRY]
	xor ebp, ebp
	call rax
.dead:
	cli
	hlt
	jmp .dead
apboot_end:

section .note.GNU-stack noalloc noexec nowrite progbits
