; loop: counts forever. Adds 1 to a 64-bit little-endian counter at
; L + 0x1000 in an endless loop and never exits by itself, so the monitor
; sees it only when it stops the guest (or at an npf while page L + 0x1000
; is unmapped: the user maps it and the add is retried).
;
; Entry (all programs): 32-bit protected mode, flat segments, paging off,
; IF=0, EIP = EAX = L (the load address), ESP = 0.
; Inputs: EAX = L. The stack is never used.
; Memory: page L (code), page L + 0x1000 (the counter: low dword at +0,
; high dword at +4).
; Exits: none of its own; npf at L + 0x1000 if that page is not mapped.

bits 32
org 0

start:
	mov ebx, eax			; EBX = L for good
.again:
	add dword [ebx + 0x1000], 1	; low half
	adc dword [ebx + 0x1004], 0	; carry into the high half
	jmp .again
