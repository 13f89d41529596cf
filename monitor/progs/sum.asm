; sum: adds up a range of guest memory and reports the total. EAX becomes
; the sum, modulo 2^32, of the 32-bit little-endian words in
; [ESI, ESI + ECX); then vmmcall (the monitor prints rax), then hlt forever.
;
; Entry (all programs): 32-bit protected mode, flat segments, paging off,
; IF=0, EIP = EAX = L (the load address), ESP = 0.
; Inputs: ESI = start guest-physical address; ECX = length in bytes, a
; multiple of 4 (0 allowed: the sum is 0; any 1-3 trailing bytes are
; ignored). L itself is not needed. The stack is never used.
; Memory: page L (code) and the pages of the range, read only. Addresses
; wrap at 4 GiB.
; Exits: an npf for each unmapped page of the range (retried once the user
; maps it), then vmmcall with EAX = the sum, then hlt, forever.

bits 32
org 0

start:
	xor eax, eax			; the sum
	shr ecx, 2			; bytes to dwords
	jz .done
.next:
	add eax, [esi]
	add esi, 4
	dec ecx
	jnz .next
.done:
	vmmcall				; report EAX
.halt:
	hlt
	jmp .halt
