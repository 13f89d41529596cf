/*
 * The x86-64 page-table entry, in one place (AMD64 APM vol. 2, 5.3-5.4;
 * Intel SDM vol. 3A, 4.5). Every other file builds entries with the
 * constructors below and reads them through pte_kind and the accessors;
 * none tests a raw bit.
 *
 * Long mode, 4 levels of 512 entries; memmon numbers them by what one entry
 * covers: level 3 PML4 (512 GiB), level 2 PDPT (1 GiB), level 1 PD (2 MiB),
 * level 0 PT (4 KiB). A leaf is a level-0 entry, or a level-1/2 entry with
 * PS set (a 2 MiB / 1 GiB page).
 *
 *   bit  0  P    present
 *   bit  1  RW   writable (with CR0.WP, for the supervisor too)
 *   bit  2  US   user-accessible
 *   bit  3  PWT  write-through   } with PAT: the index of the PAT MSR entry
 *   bit  4  PCD  cache-disable   } that gives the memory type
 *   bit  5  A    accessed
 *   bit  6  D    dirty (leaves)
 *   bit  7  PS   page size (levels 1, 2); PAT (level 0)
 *   bit  8  G    global (leaves, with CR4.PGE)
 *   bits 11:9    ignored
 *   bit 12  PAT  (levels 1, 2 leaves; the frame address starts at bit 21)
 *   bits 51:12   next table or frame (4K-aligned; 2M/1G leaves: 21/30)
 *   bits 62:52   ignored in table entries: memmon keeps a count in 61:52
 *                (in leaves, 62:59 are protection keys when CR4.PKE is set)
 *   bit 63  XD   no-execute (with EFER.NXE)
 *
 * memmon's conventions: an absent entry is all zero; leaves are built with
 * A and D already set and table entries with A set, so the MMU never writes
 * to a table and a table stays exactly as memmon wrote it; table entries
 * are P|RW|US without XD, so that the leaf alone decides the rights; and a
 * table entry carries, in its ignored bits 61:52, how many of the 512
 * entries of the table it points to are present (0..512), so that an empty
 * or a full table is known without a scan, and a count changes with one add.
 */
#ifndef MEMMON_PTE_H
#define MEMMON_PTE_H

#include "types.h"

typedef uint64_t pte_t;

#define PT_LEVELS  4
#define PT_ENTRIES 512

/* Rights and attributes of a leaf, as the rest of memmon sees them. */
typedef uint32_t pt_attr_t;
#define PT_R      0x01u /* readable: every present x86 page is; always set */
#define PT_W      0x02u
#define PT_X      0x04u
#define PT_RIGHTS (PT_R | PT_W | PT_X)
#define PT_USER   0x08u
#define PT_GLOBAL 0x10u
/* The PAT index (0..7) in bits 7:5. With the power-on PAT MSR, which
 * memmon keeps: 0 write-back, 1 write-through, 2 UC-, 3 uncacheable. */
#define PT_CACHE_SHIFT 5
#define PT_CACHE(i)    ((pt_attr_t)(i) << PT_CACHE_SHIFT)
#define PT_CACHE_MASK  PT_CACHE(7)
#define PT_WB          PT_CACHE(0)
#define PT_WT          PT_CACHE(1)
#define PT_UCMINUS     PT_CACHE(2)
#define PT_UC          PT_CACHE(3)
#define PT_ATTR_MASK   (PT_RIGHTS | PT_USER | PT_GLOBAL | PT_CACHE_MASK)

enum pte_kind { PTE_ABSENT, PTE_TABLE, PTE_LEAF };

#define PTE_P     ((pte_t)1 << 0)
#define PTE_RW    ((pte_t)1 << 1)
#define PTE_US    ((pte_t)1 << 2)
#define PTE_PWT   ((pte_t)1 << 3)
#define PTE_PCD   ((pte_t)1 << 4)
#define PTE_A     ((pte_t)1 << 5)
#define PTE_D     ((pte_t)1 << 6)
#define PTE_PS    ((pte_t)1 << 7)
#define PTE_PAT4K ((pte_t)1 << 7)
#define PTE_G     ((pte_t)1 << 8)
#define PTE_PATLG ((pte_t)1 << 12)
#define PTE_XD    ((pte_t)1 << 63)
#define PTE_ADDR  ((pte_t)0x000ffffffffff000)

/*
 * The contracts below are ACSL, proved by `make prove` (Frama-C's WP with
 * z3 and cvc4, see docs/ARCHITECTURE.md). The logic functions name what an
 * entry holds, as the prover reads it, so that callers' contracts can say
 * what an entry means without testing raw bits either.
 */
/*@ logic integer pt_size_of(integer level) = 1 << (12 + 9 * level);
    logic integer pte_addr_of(integer e) = e & 0x000ffffffffff000;
    logic integer pte_count_of(integer e) = (e >> 52) & 0x3ff;
    logic integer pte_frame_of(integer e, integer level) =
      e & 0x000ffffffffff000 & (uint64_t)~(pt_size_of(level) - 1);
    predicate pte_present(integer e) = (e & 1) != 0;
    predicate pte_is_leaf(integer e, integer level) =
      pte_present(e) && (level == 0 || (e & 0x80) != 0);
    predicate pte_is_table(integer e, integer level) =
      pte_present(e) && level != 0 && (e & 0x80) == 0;
    logic integer pte_attr_of(integer e, integer level) =
      (uint32_t)(1 | (e & 2) | ((e & 4) << 1) | (((uint64_t)~e & (1 << 63)) >> 61) |
                 ((e & 0x100) >> 4) | ((e & 0x18) << 2) |
                 (level != 0 ? (e & 0x1000) >> 5 : e & 0x80));
*/

/* Bytes one entry at `level` covers: 4K, 2M, 1G, 512G. */
/*@ requires level < PT_LEVELS;
    assigns \nothing;
    ensures \result == pt_size_of(level);
    ensures level == 0 ==> \result == 0x1000;
    ensures level == 1 ==> \result == 0x200000;
    ensures level == 2 ==> \result == 0x40000000;
    ensures level == 3 ==> \result == 0x8000000000;
*/
static inline uint64_t pt_level_size(unsigned level)
{
	return (uint64_t)1 << (PAGE_SHIFT + 9 * level);
}

/* Index of address `va` (48-bit) in the table at `level`. */
/*@ requires level < PT_LEVELS;
    assigns \nothing;
    ensures \result < PT_ENTRIES;
    ensures index_value: \result == (va / pt_size_of(level)) % PT_ENTRIES;
*/
static inline unsigned pt_index(uint64_t va, unsigned level)
{
	return (unsigned)(va >> (PAGE_SHIFT + 9 * level)) & (PT_ENTRIES - 1);
}

/*@ assigns \nothing;
    ensures \result == PTE_ABSENT <==> !pte_present(e);
    ensures \result == PTE_LEAF <==> pte_is_leaf(e, level);
    ensures \result == PTE_TABLE <==> pte_is_table(e, level);
*/
static inline enum pte_kind pte_kind(pte_t e, unsigned level)
{
	if (!(e & PTE_P))
		return PTE_ABSENT;
	if (level == 0 || (e & PTE_PS))
		return PTE_LEAF;
	return PTE_TABLE;
}

#define PTE_COUNT_SHIFT 52
#define PTE_COUNT_ONE   ((pte_t)1 << PTE_COUNT_SHIFT)

/* A table entry pointing at the table at `table`, which has `count`
 * present entries. */
/*@ requires count <= PT_ENTRIES;
    assigns \nothing;
    ensures table_kind: \forall integer level; 0 < level ==> pte_is_table(\result, level);
    ensures table_addr: pte_addr_of(\result) == pte_addr_of(table.pa);
    ensures table_count: pte_count_of(\result) == count;
    ensures table_no_xd: (\result & PTE_XD) == 0;
*/
static inline pte_t pte_table(paddr_t table, unsigned count)
{
	return (pa_addr(table) & PTE_ADDR) | PTE_P | PTE_RW | PTE_US | PTE_A |
	       ((pte_t)count << PTE_COUNT_SHIFT);
}

/*@ assigns \nothing;
    ensures \result == pte_count_of(table_entry);
    ensures \result <= 0x3ff;
*/
static inline unsigned pte_count(pte_t table_entry)
{
	return (unsigned)(table_entry >> PTE_COUNT_SHIFT) & 0x3ff;
}

/*@ requires count <= PT_ENTRIES;
    assigns \nothing;
    ensures with_count_kind: \forall integer level; 0 < level ==> pte_is_table(\result, level);
    ensures with_count_addr: pte_addr_of(\result) == pte_addr_of(table_entry);
    ensures pte_count_of(\result) == count;
*/
static inline pte_t pte_with_count(pte_t table_entry, unsigned count)
{
	return pte_table(pa_init(table_entry & PTE_ADDR), count);
}

/* The same table entry with one more / one fewer present entry below. */
/*@ requires pte_count_of(table_entry) < PT_ENTRIES;
    assigns \nothing;
    ensures pte_count_of(\result) == pte_count_of(table_entry) + 1;
    ensures count_inc_rest: (\result & 0xc00fffffffffffff) == (table_entry & 0xc00fffffffffffff);
*/
static inline pte_t pte_count_inc(pte_t table_entry)
{
	return table_entry + PTE_COUNT_ONE;
}
/*@ requires pte_count_of(table_entry) > 0;
    assigns \nothing;
    ensures pte_count_of(\result) == pte_count_of(table_entry) - 1;
    ensures count_dec_rest: (\result & 0xc00fffffffffffff) == (table_entry & 0xc00fffffffffffff);
*/
static inline pte_t pte_count_dec(pte_t table_entry)
{
	return table_entry - PTE_COUNT_ONE;
}

/* A leaf at `level` mapping the frame(s) at `pa` (aligned to the level's
 * size) with attributes `a`. Branch-free: pt_attr_t's bits are laid out so
 * that each lands on its entry bit with one shift. */
/*@ requires level < PT_LEVELS - 1;
    requires pa % pt_size_of(level) == 0 && pa < (1 << 52);
    requires (a & ~PT_ATTR_MASK) == 0;
    assigns \nothing;
    ensures leaf_kind: pte_is_leaf(\result, level);
    ensures leaf_frame: pte_frame_of(\result, level) == pa;
    ensures leaf_attr: pte_attr_of(\result, level) == (a | PT_R);
*/
static inline pte_t pte_leaf(unsigned level, uint64_t pa, pt_attr_t a)
{
	const pte_t x = a;

	return pa | PTE_P | PTE_A | PTE_D | (x & PT_W) /* RW */ | ((x & PT_USER) >> 1) /* US */ |
	       ((~x & PT_X) << 61) /* XD */ | ((x & PT_GLOBAL) << 4) /* G */ |
	       ((x & PT_CACHE(3)) >> 2) /* PWT, PCD */ |
	       (level ? ((x & PT_CACHE(4)) << 5) | PTE_PS : (x & PT_CACHE(4))) /* PAT, PS */;
}

/* The leaf `n` pages of its own size past leaf e at `level`: the same
 * attributes, the frame address advanced (it must stay below 2^52). */
/*@ requires level < PT_LEVELS - 1;
    requires pte_is_leaf(e, level);
    requires pte_frame_of(e, level) + n * pt_size_of(level) < (1 << 52);
    assigns \nothing;
    ensures next_kind: pte_is_leaf(\result, level);
    ensures next_frame:
      pte_frame_of(\result, level) == pte_frame_of(e, level) + n * pt_size_of(level);
    ensures next_attr: pte_attr_of(\result, level) == pte_attr_of(e, level);
*/
static inline pte_t pte_leaf_next(pte_t e, unsigned level, uint64_t n)
{
	return e + n * pt_level_size(level);
}

/* The next table of a table entry. */
/*@ assigns \nothing;
    ensures \result.pa == pte_addr_of(e);
*/
static inline paddr_t pte_next(pte_t e)
{
	return pa_init(e & PTE_ADDR);
}

/* The frame a leaf at `level` maps (its first byte). */
/*@ requires level < PT_LEVELS;
    assigns \nothing;
    ensures \result == pte_frame_of(e, level);
    ensures frame_aligned: \result % pt_size_of(level) == 0 && \result < (1 << 52);
*/
static inline uint64_t pte_frame(pte_t e, unsigned level)
{
	return e & PTE_ADDR & ~(pt_level_size(level) - 1);
}

/*@ assigns \nothing;
    ensures attr_value: \result == pte_attr_of(e, level);
    ensures attr_range: (\result & ~PT_ATTR_MASK) == 0 && (\result & PT_R) != 0;
*/
static inline pt_attr_t pte_attr(pte_t e, unsigned level)
{
	return (pt_attr_t)(PT_R | (e & PTE_RW) | ((e & PTE_US) << 1) | ((~e & PTE_XD) >> 61) |
	                   ((e & PTE_G) >> 4) | ((e & (PTE_PWT | PTE_PCD)) << 2) |
	                   (level ? (e & PTE_PATLG) >> 5 : (e & PTE_PAT4K)));
}

/* The shifts above rely on this layout. */
_Static_assert(PT_W == PTE_RW && PT_USER == PTE_US << 1 && PT_X == PTE_XD >> 61 &&
                   PT_GLOBAL == PTE_G >> 4 && PT_CACHE(3) == (PTE_PWT | PTE_PCD) << 2 &&
                   PT_CACHE(4) == PTE_PAT4K && PT_CACHE(4) == PTE_PATLG >> 5,
               "pt_attr_t bits line up with the entry's");

#endif
