/*
 * Mnemonics of the x86-64 exception vectors (AMD64 APM vol. 2, table 8-1).
 * Data only, shared by the platform's fault dump and the console's error
 * line so that both name a vector the same way.
 */
#ifndef MEMMON_X86_EXC_H
#define MEMMON_X86_EXC_H

static inline const char *x86_exc_name(int vector)
{
	static const char *const names[32] = {
	    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
	    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XF", "#VE",  "#CP",
	    "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
	};

	return (vector >= 0 && vector < 32) ? names[vector] : "IRQ";
}

#endif
