; hello: memmon's first guest program. Prints the line
; "hello from a memmon guest\n" to the guest console (port 0xE9), one byte
; at a time, then halts.
;
; Entry (all programs): 32-bit protected mode, flat segments, paging off,
; IF=0, EIP = EAX = L (the load address), ESP = 0.
; Inputs: EAX = L. Nothing else; the stack is never used.
; Memory: page L only (code and string).
; Exits: 26 x io out 0xE9 (one per byte, the monitor emulates each and the
; guest goes on), then hlt; if resumed, hlt again, forever.

bits 32
org 0

start:
	lea esi, [eax + msg]		; the string, found through L
	mov ecx, msg_len
	mov edx, 0xE9			; the console port
.next:
	mov al, [esi]
	out dx, al			; one byte to the console
	inc esi
	dec ecx
	jnz .next
.halt:
	hlt
	jmp .halt

msg:	db "hello from a memmon guest", 10
msg_len equ $ - msg
