/*
 * The frame allocator: a binary buddy system over one table of 16-byte
 * entries, one per frame, with lazily initialised table pages.
 *
 * Blocks. Every managed frame lies in exactly one block: an aligned run of
 * 2^order frames whose first frame (the head) has a non-zero state. Every
 * other entry of a block (an interior entry) is all zero. So the block holding frame i is found by
 * looking at the heads i could have, i rounded down to 2^0, 2^1, ...: the first entry with a state
 * is the head, if that block reaches i (block_of).
 *
 * Laziness. The table is allocated at takeover but never cleared: a byte per
 * table page (256 entries) says whether the page has been zeroed yet, and
 * an entry on a page not yet zeroed reads as all zero (peek). The first
 * write to a page zeroes it (at). Boot writes only block heads, a few per
 * region, so its cost does not grow with RAM.
 *
 * Runs. A run of n frames from frame s is laid out as maximal aligned
 * blocks from s: at each frame, the largest block aligned there that fits in
 * what is left (run_next_order). frame_alloc(count) takes a block of order
 * ceil(log2 count) and keeps count frames of it as a run from its start,
 * which is one used block per set bit of count, largest first; the rest goes
 * back to the free lists. frame_carve cuts a run into runs of their own, which
 * start at any frame. The run's first block carries FF_RUN and its length;
 * later blocks carry FF_CONT and the run's first frame. Blocks of the takeover (memmon's own, the
 * firmware's) carry neither and are never freed.
 *
 * The quick stack. Single frames go through a bounded LIFO of frame numbers
 * (F.stack, at most QUICK_MAX) in front of the buddy lists. kalloc pops it;
 * when it is empty, one block of up to QUICK_BLOCK frames is taken from the
 * lists (one split chain) and all its frames are pushed. kfree pushes; when
 * it is full, the bottom half goes back to the lists, every QUICK_BLOCK
 * entries that make up one aligned block as one block (one merge chain),
 * the others one by one. So a burst of single allocations splits a block
 * once per QUICK_BLOCK frames, a burst of frees merges once, and a
 * kalloc/kfree pair is a few stores. A frame on the stack is an order-0
 * block in state FS_QUICK, so every check made of a free frame (double
 * free, queries) sees it free; frames on the stack are
 * distinct (only an FS_USED frame is pushed, and pushing makes it
 * FS_QUICK). The fast path is plain arrays and fields: no unions, no casts.
 */
#include "frame.h"

#include "platform.h"

#define NIL           UINT32_MAX
#define PER_PAGE      FRAME_PER_PAGE    /* 256 entries per table page */
#define F             frame_core        /* the allocator's state (frame.h) */
#define QUICK_ORDER   FRAME_QUICK_ORDER /* refill blocks: up to 2^QUICK_ORDER frames */
#define QUICK_BLOCK   FRAME_QUICK_BLOCK
#define QUICK_MAX     FRAME_QUICK_MAX  /* the stack's capacity */
#define QUICK_KEEP    FRAME_QUICK_KEEP /* at most this many stay after a drain */
#define ORDER_BIT(o)  ((uint64_t)1 << (o))
#define FRAMES(order) ((uint64_t)1 << (order))
_Static_assert(FRAME_MAX_ORDER < 32, "frame numbers are 32 bits");
_Static_assert(QUICK_BLOCK <= QUICK_KEEP && QUICK_ORDER <= 8,
               "a refill fits an empty stack, and a refill block lies in one table page");

const char frame_err_nomem[] = "no free aligned block that large";
const char frame_err_count[] = "count must be 1 to 2^31 frames";
const char frame_err_owner[] = "that owner cannot take frames";
const char frame_err_align[] = "address is not page-aligned";
const char frame_err_unmanaged[] = "not RAM that memmon manages";
const char frame_err_double[] = "frame is free (a double free, or never allocated)";
const char frame_err_notrun[] = "not the first frame of an allocated run";
const char frame_err_size[] = "the run has a different length";
const char frame_err_foreign[] = "the run belongs to another owner";

struct frame_core F = {.head = {[0 ... FRAME_MAX_ORDER] = NIL}};

static const struct frame zero_entry;

/* The entry of a free frame on the quick stack. */
static const struct frame quick_entry = {.state = FS_QUICK};

const char *frame_owner_name(enum frame_owner o)
{
	static const char *const names[FRAME_OWNERS] = {
	    [FRAME_FREE] = "free",         [FRAME_MONITOR] = "monitor", [FRAME_PTABLE] = "ptables",
	    [FRAME_MDB] = "mdb",           [FRAME_CLIENT] = "clients",  [FRAME_CONSOLE] = "console",
	    [FRAME_FIRMWARE] = "firmware",
	};
	return (unsigned)o < FRAME_OWNERS ? names[o] : "?";
}

/* ---- the table ------------------------------------------------------------ */

/* Entry i for reading: a page never written reads as zero. */
/*@ requires table_ok && i < F.nframes;
    assigns \nothing;
    ensures \valid_read(\result);
    ensures zeroed(i) ==> \result == &F.tab[i];
    ensures !zeroed(i) ==> \result == &zero_entry;
*/
static inline const struct frame *peek(uint32_t i)
{
	return frame_page_zeroed(i) ? &F.tab[i] : &zero_entry;
}

/* Entry i for writing: its page is zeroed first if it never was. */
static inline struct frame *at(uint32_t i)
{
	if (!frame_page_zeroed(i)) {
		uint32_t p = i / PER_PAGE;
		__builtin_memset(&F.tab[(uint64_t)p * PER_PAGE], 0, PAGE_SIZE);
		F.zeroed[p] = 1;
		F.touched++;
	}
	return &F.tab[i];
}

/* The order of a run's block at frame pos, with *left (> 0) frames of the run
 * still to place, which it takes off: the largest block aligned at pos (its
 * lowest set bit) that fits (the top bit of *left), so the lowest set bit of
 * the two. From a start aligned to 2^ceil(log2 n) that is one block per set
 * bit of n, largest first. */
/*@ requires \valid(left) && *left > 0;
    assigns *left;
    ensures \result <= 63;
    ensures run_aligned: pos % (1 << \result) == 0;
    ensures run_left: *left == \old(*left) - (1 << \result);
*/
static inline unsigned run_next_order(uint64_t pos, uint64_t *left)
{
	uint64_t top = (uint64_t)1 << (63 - __builtin_clzll(*left));
	unsigned j = (unsigned)__builtin_ctzll(pos | top);

	*left -= FRAMES(j);
	return j;
}

/*@ assigns \nothing;
    ensures \result <= 64;
    ensures n <= 1 ==> \result == 0;
    ensures n > 1 ==> (1 << (\result - 1)) < n <= (1 << \result);
*/
static inline unsigned ceil_log2(uint64_t n)
{
	return n <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(n - 1);
}

void frame_junk(uint32_t i, uint64_t count, uint8_t byte)
{
	if (!FRAME_JUNK || count > FRAME_JUNK_MAX)
		return;
	for (uint64_t f = 0; f < count; f++)
		__builtin_memset(plat_pa_to_ptr(frame_pa((uint32_t)(i + f))), byte, PAGE_SIZE);
}

/* ---- free lists ------------------------------------------------------------ */

/* Make frame i the head of a free block of `order` at the front of its list. */
static void list_push(uint32_t i, unsigned order)
{
	struct frame *e = at(i);
	uint32_t next = F.head[order];

	*e = (struct frame){.next = next, .prev = NIL, .order = (uint8_t)order, .state = FS_FREE};
	if (next != NIL)
		F.tab[next].prev = i;
	F.head[order] = i;
	F.avail |= ORDER_BIT(order);
}

/* Unlink free block i from its list; its entry keeps its values. */
static void list_remove(uint32_t i)
{
	struct frame *e = &F.tab[i];
	unsigned o = e->order;

	if (e->prev != NIL)
		F.tab[e->prev].next = e->next;
	else
		F.head[o] = e->next;
	if (e->next != NIL)
		F.tab[e->next].prev = e->prev;
	if (F.head[o] == NIL)
		F.avail &= ~ORDER_BIT(o);
}

/*
 * Return block (i, order) to the free lists, merging it with its buddy for
 * as long as the buddy is a whole free block of the same order. Needs: the
 * block's interior entries are zero. Heads that become interior are zeroed.
 */
static void block_free(uint32_t i, unsigned order)
{
	while (order < FRAME_MAX_ORDER) {
		uint64_t b = i ^ FRAMES(order);
		if (b + FRAMES(order) > F.nframes)
			break;
		const struct frame *be = peek((uint32_t)b);
		if (be->state != FS_FREE || be->order != order)
			break;
		list_remove((uint32_t)b);
		F.tab[b] = zero_entry;
		if (b < i) {
			if (frame_page_zeroed(i))
				F.tab[i] = zero_entry;
			i = (uint32_t)b;
		}
		order++;
	}
	list_push(i, order);
}

/* Take a free block of order >= k, split down to k (the upper halves go back
 * on the lists); returns its head, whose entry the caller overwrites, or
 * NIL when there is none. O(FRAME_MAX_ORDER). */
static uint32_t block_take(unsigned k)
{
	uint64_t m = F.avail >> k;

	if (!m)
		return NIL;
	unsigned o = k + (unsigned)__builtin_ctzll(m);
	uint32_t i = F.head[o];
	list_remove(i);
	while (o > k) {
		o--;
		list_push(i + (uint32_t)FRAMES(o), o);
	}
	return i;
}

/* ---- the quick stack ------------------------------------------------------------ */

/* Refill the empty quick stack with one free block, the smallest there is,
 * split down to QUICK_ORDER if it is larger (one split chain for up to
 * QUICK_BLOCK kallocs). Its frames are pushed highest first, so they are
 * handed out in address order, the first being the frame a buddy
 * allocation of one frame would take. False when no frame is free. */
/* Push the n frames from i (entries t) on the empty stack, highest first. */
static inline __attribute__((always_inline)) void quick_fill(struct frame *t, uint32_t i,
                                                             uint32_t n)
{
	for (uint32_t f = 0; f < n; f++) /* two loops: each one kind of store */
		t[f] = quick_entry;
	for (uint32_t f = 0; f < n; f++)
		F.stack[f] = i + n - 1 - f;
	F.depth = n;
}

static __attribute__((noinline)) bool quick_refill(void)
{
	CHECK(F.depth == 0);
	if (!F.avail)
		return false;
	unsigned o = (unsigned)__builtin_ctzll(F.avail);
	if (o > QUICK_ORDER)
		o = QUICK_ORDER;
	uint32_t i = block_take(o);
	struct frame *t = at(i); /* the block lies in one table page */
	if (o == QUICK_ORDER)
		quick_fill(t, i, QUICK_BLOCK); /* the usual case: a fixed count, vector stores */
	else
		quick_fill(t, i, (uint32_t)FRAMES(o));
	return true;
}

/* Whether quick entry e is bare: all but its state zero, as refills and
 * pushes write it (frame_quick_entry), so that the drain clears a whole
 * block by its states alone. For the audit. */
static bool quick_bare(const struct frame *e)
{
	return !e->next && !e->prev && !e->spare && !e->order && !e->owner && !e->flags;
}

/* Whether the QUICK_BLOCK stack entries from position p are all in one
 * aligned block of QUICK_ORDER; the entries being distinct frames, they are
 * then the whole block. */
static bool quick_whole(uint32_t p)
{
	const uint32_t *s = &F.stack[p];
	uint32_t b = s[0] >> QUICK_ORDER, differ = 0;

	/* all QUICK_BLOCK entries, s[0] too: a whole number of vectors, no
	 * branch and no remainder loop */
	for (uint32_t j = 0; j < QUICK_BLOCK; j++)
		differ |= (s[j] >> QUICK_ORDER) ^ b;
	return !differ;
}

/* Give frames from the bottom of the quick stack back to the buddy lists
 * until at least n have gone or the stack is empty: every QUICK_BLOCK
 * entries in a row that make one aligned block as that block, each other
 * frame alone; the frames left move down. Out of line, so that the
 * single-frame paths need no saved registers; not cold, which would have
 * GCC compile it for size (no vectors, a rep stos for the clearing), and a
 * burst of frees drains once every QUICK_MAX - QUICK_KEEP pushes. */
void frame_quick_drain(uint32_t n)
{
	uint32_t p = 0, depth = F.depth;

	while (p < n && p < depth) {
		if (p + QUICK_BLOCK <= depth && quick_whole(p)) {
			uint32_t b = F.stack[p] & ~(QUICK_BLOCK - 1);
			/* quick entries are bare (FS_QUICK and zero), so clearing
			 * the states makes the block's entries interior */
			for (uint32_t f = 0; f < QUICK_BLOCK; f++)
				F.tab[b + f].state = FS_NONE;
			block_free(b, QUICK_ORDER);
			p += QUICK_BLOCK;
		} else {
			uint32_t i = F.stack[p];
			F.tab[i] = zero_entry;
			block_free(i, 0);
			p++;
		}
	}
	__builtin_memmove(&F.stack[0], &F.stack[p], (depth - p) * sizeof(F.stack[0]));
	F.depth = depth - p;
}

uint64_t frame_quick(void)
{
	return F.depth;
}

/* The head of the block holding frame i, or NIL if i is in no block. */
/*@ requires table_ok && i < F.nframes;
    assigns \nothing;
    ensures \result == NIL || (\result <= i && i - \result < (1 << F.tab[\result].order));
*/
static uint32_t block_of(uint32_t i)
{
	for (unsigned j = 0; j <= FRAME_MAX_ORDER; j++) {
		uint32_t h = i & ~(uint32_t)(FRAMES(j) - 1);
		const struct frame *e = peek(h);
		if (e->state != FS_NONE)
			return e->order >= j ? h : NIL;
	}
	return NIL;
}

/* ---- takeover --------------------------------------------------------------- */

/* Lay frames [i, i+pages) out as maximal aligned blocks of `owner`, and
 * count them. */
static void add_range(uint64_t i, uint64_t pages, enum frame_owner owner)
{
	if (owner == FRAME_FIRMWARE) {
		F.firmware += pages;
	} else {
		F.total += pages;
		if (owner != FRAME_FREE)
			F.owned[owner] += pages;
	}
	while (pages) {
		unsigned o = 63 - (unsigned)__builtin_clzll(pages);
		if (i && (unsigned)__builtin_ctzll(i) < o)
			o = (unsigned)__builtin_ctzll(i);
		if (o > FRAME_MAX_ORDER)
			o = FRAME_MAX_ORDER;
		if (owner == FRAME_FREE)
			block_free((uint32_t)i, o);
		else
			*at((uint32_t)i) = (struct frame){
			    .order = (uint8_t)o, .state = FS_USED, .owner = (uint8_t)owner};
		i += FRAMES(o);
		pages -= FRAMES(o);
	}
}

/*
 * Lay out the table's frames [tbase, tbase + need) (tpages of table, then
 * the page map) as memmon's, except the table pages whose 256 frames are all
 * outside every range (a hole, such as q35's PCI hole below 4 GiB): nothing
 * ever reads or writes them (peek reads the page map first; at is only called
 * for frames in blocks), so their frames are free. Returns the frames kept.
 */
static uint64_t add_table(uint64_t tbase, uint64_t tpages, uint64_t need,
                          const struct frame_range *r, size_t n)
{
	uint64_t kept = 0, from = 0, p = 0; /* pages [from, p) are kept, not yet laid out */

	for (size_t k = 0; k <= n; k++) {
		uint64_t first = tpages, last = need; /* past the ranges: the page map */
		if (k < n) {
			uint64_t b = r[k].base >> PAGE_SHIFT, e = b + r[k].pages;
			if (e > F.nframes)
				e = F.nframes;
			if (b >= e)
				continue;
			first = b / PER_PAGE; /* pages [first, last) describe range k */
			last = (e - 1) / PER_PAGE + 1;
		}
		if (first > p) { /* pages [p, first) describe a hole */
			add_range(tbase + from, p - from, FRAME_MONITOR);
			add_range(tbase + p, first - p, FRAME_FREE);
			kept += p - from;
			from = p = first;
		}
		if (last > p)
			p = last;
	}
	add_range(tbase + from, p - from, FRAME_MONITOR);
	return kept + p - from;
}

err_t frame_init(const struct frame_range *r, size_t n)
{
	uint64_t nframes = 0;

	for (size_t k = 0; k < n; k++) {
		CHECK(r[k].base % PAGE_SIZE == 0 && r[k].owner < FRAME_OWNERS);
		CHECK(k == 0 || r[k].base >= r[k - 1].base + r[k - 1].pages * PAGE_SIZE);
		uint64_t end = (r[k].base >> PAGE_SHIFT) + r[k].pages;
		if (r[k].pages && end > nframes)
			nframes = end;
	}
	if (nframes > FRAME_LIMIT)
		nframes = FRAME_LIMIT;

	/* The table and its page map, from the top of the highest free range
	 * that holds them. */
	uint64_t tpages = (nframes + PER_PAGE - 1) / PER_PAGE;
	uint64_t need = tpages + (tpages + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t tbase = 0; /* frame number */
	bool found = false;
	for (size_t k = n; k-- > 0 && !found;) {
		uint64_t b = r[k].base >> PAGE_SHIFT, e = b + r[k].pages;
		if (e > nframes)
			e = nframes;
		if (r[k].owner == FRAME_FREE && b < e && e - b >= need) {
			tbase = e - need;
			found = true;
		}
	}
	if (!found)
		return frame_err_nomem;

	F = (typeof(F)){.nframes = (uint32_t)nframes};
	for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++)
		F.head[o] = NIL;
	F.table = frame_pa((uint32_t)tbase);
	F.table_span = need;
	F.tab = plat_pa_to_ptr(F.table);
	F.zeroed = (uint8_t *)(void *)(F.tab + tpages * PER_PAGE);
	__builtin_memset(F.zeroed, 0, tpages);

	for (size_t k = 0; k < n; k++) {
		uint64_t b = r[k].base >> PAGE_SHIFT, e = b + r[k].pages;
		if (e > nframes)
			e = nframes;
		if (b >= e)
			continue;
		enum frame_owner o = r[k].owner;
		if (o == FRAME_FREE && tbase >= b && tbase < e) {
			/* the table's own range: free below, the table, free above */
			add_range(b, tbase - b, o);
			F.table_pages = add_table(tbase, tpages, need, r, n);
			add_range(tbase + need, e - tbase - need, o);
			continue;
		}
		add_range(b, e - b, o);
	}
	return NULL;
}

paddr_t frame_table_base(void)
{
	return F.table;
}

uint64_t frame_table_pages(void)
{
	return F.table_pages;
}

uint64_t frame_table_span(void)
{
	return F.table_span;
}

uint64_t frame_limit(void)
{
	return F.nframes;
}

/* ---- allocation --------------------------------------------------------------- */

/* Mark [i, i+count) (count > 0) as a run of `owner`, writing
 * the head of each of its blocks. Needs: the blocks' interior entries are
 * clear. Inlined, so that frame_alloc makes no call for it. */
static inline __attribute__((always_inline)) void mark_run(uint32_t i, uint64_t count,
                                                           enum frame_owner owner)
{
	uint32_t pos = i;

	for (uint64_t left = count; left;) {
		unsigned j = run_next_order(pos, &left);
		bool first = pos == i;
		*at(pos) = (struct frame){.next = first ? (uint32_t)count : i,
		                          .order = (uint8_t)j,
		                          .state = FS_USED,
		                          .owner = (uint8_t)owner,
		                          .flags = first ? FF_RUN : FF_CONT};
		pos += (uint32_t)FRAMES(j);
	}
}

err_t frame_kalloc_refill(enum frame_owner owner, paddr_t *out)
{
	if (!quick_refill())
		return frame_err_nomem;
	return frame_quick_pop(owner, out);
}

err_t frame_alloc(uint64_t count, enum frame_owner owner, paddr_t *out)
{
	if (count == 0 || count > FRAMES(FRAME_MAX_ORDER))
		return frame_err_count;
	if (!frame_can_own(owner))
		return frame_err_owner;
	if (count == 1)
		return kalloc(owner, out);

	unsigned k = ceil_log2(count);
	uint32_t i = block_take(k);
	if (i == NIL && F.depth) {
		frame_quick_drain(F.depth);
		i = block_take(k);
	}
	if (i == NIL)
		return frame_err_nomem;
	mark_run(i, count, owner);
	/* The rest of the block: maximal aligned blocks, growing. */
	for (uint64_t pos = i + count, end = i + FRAMES(k); pos < end;) {
		unsigned j = (unsigned)__builtin_ctzll(pos);
		block_free((uint32_t)pos, j);
		pos += FRAMES(j);
	}
	F.owned[owner] += count;
	frame_junk(i, count, FRAME_JUNK_ALLOC);
	*out = frame_pa(i);
	return NULL;
}

/* Frame number of a page-aligned managed address, or an error. */
static err_t frame_index(paddr_t pa, uint32_t *i)
{
	uint64_t a = pa_addr(pa);

	if (a % PAGE_SIZE)
		return frame_err_align;
	if (a >> PAGE_SHIFT >= F.nframes)
		return frame_err_unmanaged;
	*i = (uint32_t)(a >> PAGE_SHIFT);
	return NULL;
}

/* The first frame of the allocated run holding frame i, or why there is
 * none: not managed, free, the firmware's, a block of the takeover. */
static err_t run_of(uint32_t i, uint32_t *start)
{
	uint32_t h = block_of(i);

	if (h == NIL)
		return frame_err_unmanaged;
	const struct frame *e = peek(h);
	if (e->state != FS_USED)
		return frame_err_double;
	if (e->owner == FRAME_FIRMWARE)
		return frame_err_unmanaged;
	if (e->flags & FF_RUN)
		*start = h;
	else if (e->flags & FF_CONT)
		*start = e->next;
	else
		return frame_err_notrun;
	return NULL;
}

/* Why frame i cannot be freed as the start of a run. */
static err_t not_a_run(uint32_t i)
{
	uint32_t start;
	err_t err = run_of(i, &start);

	return err ? err : frame_err_notrun;
}

/* Assumed by the proof of kfree (its general path), not proved. */
/*@ requires frame_ok;
    assigns F, F.tab[0 .. F.nframes - 1], F.zeroed[0 .. (F.nframes - 1) / PER_PAGE];
    ensures frame_ok && F.nframes == \old(F.nframes);
*/
/* Why the run of `count` frames at pa cannot be freed for `owner`, or NULL
 * (then *i is its first frame). Changes nothing. */
static err_t free_refused(paddr_t pa, uint64_t count, enum frame_owner owner, uint32_t *i)
{
	err_t err = frame_index(pa, i);

	if (err)
		return err;
	if (count == 0 || count > FRAMES(FRAME_MAX_ORDER))
		return frame_err_count;
	const struct frame *e = &F.tab[*i];
	if (!frame_page_zeroed(*i) || e->state != FS_USED || !(e->flags & FF_RUN))
		return not_a_run(*i);
	if (e->owner != owner)
		return frame_err_foreign;
	if (e->next != count)
		return frame_err_size;
	return NULL;
}

err_t frame_kfree_refused(paddr_t pa, enum frame_owner owner)
{
	uint32_t i;
	err_t err = free_refused(pa, 1, owner, &i);

	CHECK(err); /* else entry i is a one-frame run of owner, which is_single missed */
	return err;
}

err_t frame_free(paddr_t pa, uint64_t count, enum frame_owner owner)
{
	uint32_t i;
	err_t err = free_refused(pa, count, owner, &i);

	if (err)
		return err;
	F.owned[owner] -= count;
	frame_junk(i, count, FRAME_JUNK_FREE);
	if (count == 1) {
		frame_quick_push(i);
		return NULL;
	}
	uint32_t pos = i;
	for (uint64_t left = count; left;) {
		unsigned j = run_next_order(pos, &left);
		block_free(pos, j);
		pos += (uint32_t)FRAMES(j);
	}
	return NULL;
}

/*
 * Every interior entry of the run's blocks is clear.
 * Its blocks are the maximal aligned blocks inside [s, end), and any aligned
 * block inside [s, end) lies in one of them: so each block of a piece lies in
 * one block of the run, every head of the run is the head of a block of a
 * piece, and marking the pieces overwrites every old head and clears no
 * interior entry. A run has at most 2 * 32 blocks, so this writes
 * O(FRAME_MAX_ORDER) entries, and no frame.
 */
err_t frame_carve(paddr_t pa, uint64_t count, enum frame_owner owner)
{
	uint32_t i, s;
	err_t err = frame_index(pa, &i);

	if (err)
		return err;
	if (count == 0 || count > FRAMES(FRAME_MAX_ORDER))
		return frame_err_count;
	err = run_of(i, &s);
	if (err)
		return err;
	const struct frame *r = &F.tab[s];
	uint64_t len = r->next, end = (uint64_t)s + len;
	if (r->owner != owner)
		return frame_err_foreign;
	if (i + count > end)
		return frame_err_size;

	const uint64_t cut[] = {s, i, i + count, end}; /* the pieces: [cut[k], cut[k + 1]) */
	for (unsigned k = 0; k < 3; k++)
		if (cut[k + 1] > cut[k])
			mark_run((uint32_t)cut[k], cut[k + 1] - cut[k], owner);
	return NULL;
}

/* ---- queries --------------------------------------------------------------------- */

err_t frame_query(paddr_t pa, struct frame_info *out)
{
	uint32_t i;
	err_t err = frame_index(pa, &i);

	*out = (struct frame_info){.owner = FRAME_FREE};
	if (err)
		return err == frame_err_unmanaged ? NULL : err;
	uint32_t h = block_of(i);
	if (h == NIL)
		return NULL;
	const struct frame *e = peek(h);
	out->managed = e->owner != FRAME_FIRMWARE;
	out->owner = e->state == FS_USED ? (enum frame_owner)e->owner : FRAME_FREE;
	out->block = frame_pa(h);
	out->order = e->order;
	if (e->state == FS_USED) {
		uint32_t run = e->flags & FF_CONT ? e->next : h;
		out->run = frame_pa(run);
		out->run_frames = e->flags & (FF_RUN | FF_CONT) ? peek(run)->next : 0;
		if (!out->run_frames)
			out->run = out->block;
	}
	return NULL;
}

static uint64_t free_count(void)
{
	uint64_t used = 0;

	for (unsigned o = FRAME_FREE + 1; o < FRAME_OWNERS; o++)
		used += F.owned[o];
	return F.total - used;
}

void frame_stats(struct frame_stats *s)
{
	frame_quick_drain(F.depth);
	*s = (struct frame_stats){
	    .total = F.total,
	    .free = free_count(),
	    .used = F.total - free_count(),
	    .firmware = F.firmware,
	    .table_pages_touched = F.touched,
	};
	for (unsigned o = 0; o < FRAME_OWNERS; o++)
		s->owned[o] = F.owned[o];
	s->owned[FRAME_FREE] = s->free;
	s->owned[FRAME_FIRMWARE] = F.firmware;
	if (F.avail) {
		unsigned o = 63 - (unsigned)__builtin_clzll(F.avail);
		s->largest = frame_pa(F.head[o]);
		s->largest_frames = FRAMES(o);
	}
}

/* ---- audit ------------------------------------------------------------------------ */

err_t frame_audit(void)
{
	uint64_t nfree = 0, owned[FRAME_OWNERS] = {0}, firmware = 0;
	uint64_t blocks[FRAME_MAX_ORDER + 1] = {0}, quick = 0;

	for (uint64_t i = 0; i < F.nframes;) {
		if (!frame_page_zeroed((uint32_t)i)) {
			i = (i / PER_PAGE + 1) * PER_PAGE; /* nothing starts on an untouched page */
			continue;
		}
		const struct frame *e = &F.tab[i];
		if (e->state == FS_NONE) {
			i++;
			continue;
		}
		if (e->order > FRAME_MAX_ORDER || i % FRAMES(e->order) ||
		    i + FRAMES(e->order) > F.nframes)
			return "block misaligned or beyond the table";
		const uint64_t size = FRAMES(e->order);
		if (e->spare)
			return "block head with a spare field set";
		/* interior entries: all zero */
		for (uint64_t j = i + 1; j < i + size;) {
			if (!frame_page_zeroed((uint32_t)j)) {
				j = (j / PER_PAGE + 1) * PER_PAGE;
				continue;
			}
			const struct frame *t = &F.tab[j];
			if (t->state != FS_NONE || t->next || t->prev || t->spare || t->order ||
			    t->owner || t->flags)
				return "interior entry of a block is not clear";
			j++;
		}
		switch (e->state) {
		case FS_FREE:
			if (e->owner)
				return "free block with an owner";
			blocks[e->order]++;
			nfree += size;
			uint64_t b = i ^ size;
			if (e->order < FRAME_MAX_ORDER && b + size <= F.nframes &&
			    peek((uint32_t)b)->state == FS_FREE &&
			    peek((uint32_t)b)->order == e->order)
				return "two free buddies not merged";
			break;
		case FS_QUICK:
			/* bare: the drain clears only the state of a whole block */
			if (!quick_bare(e))
				return "quick frame that is not a bare single frame";
			quick++;
			nfree += 1;
			break;
		case FS_USED:
			if (e->owner == FRAME_FIRMWARE) {
				firmware += size;
			} else {
				if (e->owner == FRAME_FREE || e->owner >= FRAME_OWNERS)
					return "used block without an owner";
				owned[e->owner] += size;
			}
			if (e->flags & ~(FF_RUN | FF_CONT) || e->flags == (FF_RUN | FF_CONT))
				return "used block with unknown flags";
			if (e->flags & FF_CONT) {
				/* a later block of a run: the run's first block is before
				 * it and the run reaches past it */
				const struct frame *h = e->next < i ? peek(e->next) : NULL;
				if (!h || h->state != FS_USED || !(h->flags & FF_RUN) ||
				    h->owner != e->owner || (uint64_t)e->next + h->next < i + size)
					return "later block of a run outside its run";
			}
			if (e->flags & FF_RUN) {
				/* the run: maximal aligned blocks from its first frame */
				uint64_t left = e->next, pos = i;
				if (!left)
					return "run of no frames";
				if (e->prev)
					return "run head with a list link";
				while (left) {
					unsigned j = run_next_order(pos, &left);
					if (pos + FRAMES(j) > F.nframes)
						return "run beyond the table";
					const struct frame *rb = peek((uint32_t)pos);
					if (rb->state != FS_USED || rb->order != j ||
					    rb->owner != e->owner ||
					    (pos != i && (!(rb->flags & FF_CONT) || rb->next != i)))
						return "run whose blocks do not match its length";
					pos += FRAMES(j);
				}
			}
			break;
		default:
			return "entry in an unknown state";
		}
		i += size;
	}

	/* the lists: linked both ways, each block in the list of its order */
	for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++) {
		uint64_t seen = 0;
		uint32_t prev = NIL;
		for (uint32_t b = F.head[o]; b != NIL; prev = b, b = F.tab[b].next) {
			if (b >= F.nframes || F.tab[b].state != FS_FREE || F.tab[b].order != o ||
			    F.tab[b].prev != prev || ++seen > blocks[o])
				return "free list broken";
		}
		if (seen != blocks[o] || !!(F.avail & ORDER_BIT(o)) != (seen != 0))
			return "free list does not hold every free block of its order";
	}
	/* the quick stack: distinct quick frames, and every quick frame on it */
	if (F.depth >= QUICK_MAX)
		return "quick stack overfull";
	for (uint32_t p = 0; p < F.depth; p++) {
		uint32_t q = F.stack[p];
		if (q >= F.nframes || !frame_page_zeroed(q) || F.tab[q].state != FS_QUICK)
			return "quick stack holds a frame that is not a quick frame";
		for (uint32_t r = 0; r < p; r++)
			if (F.stack[r] == q)
				return "quick stack holds a frame twice";
	}
	if (F.depth != quick)
		return "quick stack count is wrong";

	owned[FRAME_FREE] = nfree;
	for (unsigned o = FRAME_FREE + 1; o < FRAME_OWNERS; o++)
		if (o != FRAME_FIRMWARE && owned[o] != F.owned[o])
			return "owner counts disagree with the blocks";
	if (nfree != free_count() || firmware != F.firmware)
		return "free or firmware counts disagree with the blocks";
	uint64_t sum = 0;
	for (unsigned o = 0; o < FRAME_OWNERS; o++)
		if (o != FRAME_FIRMWARE)
			sum += owned[o];
	if (sum != F.total)
		return "total is not the sum of its parts";
	return NULL;
}
