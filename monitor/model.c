/*
 * model: SPEC section 1 executed as plainly as it reads (see model.h).
 *
 * Representation. One hash table (open addressing, linear probing, a
 * removed entry leaves a deleted marker until the next rebuild) of entries
 * keyed by (space n, page v). A live entry holds the mapping at n:v. Every
 * entry also heads the list of the entries derived from it directly, those
 * whose source is n:v, doubly linked through child / next / prev. Links
 * name entries by key, never by pointer, so the table can be rebuilt
 * anywhere without fixing them up.
 *
 * Every space also lists its live entries (through snext / sprev, by page
 * address), so that deleting a space costs what the space maps.
 *
 * A head is an entry that holds no mapping but heads a list: the missing
 * source of some mapping. Only model_set makes them (a mapping set before
 * its source, or its source removed alone); in a state that keeps the
 * invariants there are none. With them, "the list of n:v" is always
 * exactly the mappings whose source is n:v, whatever order model_set was
 * called in.
 *
 * Memory. The operations that add entries first call reserve() for the
 * most they can add; it grows the table (or rebuilds it without its
 * deleted markers) through the door, and is the only place that allocates
 * for the table. After it nothing allocates and no entry moves, so an
 * operation holds entry pointers until it returns, and model_err_nomem
 * always comes before any change.
 *
 * The operations assume invariants 1 and 2 hold, as they do for any state
 * the operations make from the boot state. On a state model_set broke they
 * still end and keep the table whole, but do not promise the definitions.
 */
#include "model.h"

const char model_err_nomem[] = "the model is out of memory";
const char model_err_invalid[] = "a source page holds no mapping";
const char model_err_nospace[] = "no such space";
const char model_err_exists[] = "the space exists already";
const char model_err_loop[] = "a mapping reaches itself";
const char model_err_noreal[] = "a mapping does not reach a frame";
const char model_err_notfn[] = "lookup is not a function";
const char model_err_rights[] = "a mapping has rights its source lacks";

#define NIL     UINT32_MAX /* a link to no entry (no key has this space) */
#define NO_PAGE UINT64_MAX /* a link to no page of a space (pages are aligned) */
#define NOSLOT  SIZE_MAX
#define RWX     RIGHTS_RWX
#define MIN_CAP 16

enum slot { SLOT_EMPTY, SLOT_DEAD, SLOT_LIVE, SLOT_HEAD };

struct model_entry {
	uint64_t v;                       /* key: page v of space n */
	uint64_t src;                     /* the mapping: source page, or frame if Real */
	uint64_t child_v, next_v, prev_v; /* links by key: first derived, siblings */
	uint64_t snext_v, sprev_v;        /* live: space n's list; NO_PAGE: none */
	uint32_t n;
	uint32_t src_space;               /* MODEL_REAL: Real */
	uint32_t child_n, next_n, prev_n; /* NIL: none */
	uint8_t state;                    /* enum slot; the door's zeroed memory is empty */
	uint8_t rights; /* rights.h's bits (model_set keeps more than 0xff as 0xff) */
};
_Static_assert(sizeof(struct model_entry) == 80, "an entry is 80 bytes");

struct model_space {
	uint64_t pages; /* live entries of the space */
	uint64_t first; /* the first of them, or NO_PAGE */
};

/* ---- memory -------------------------------------------------------------- */

static void *mem_alloc(const struct model *m, size_t bytes)
{
	return m->mem.alloc(m->mem.ctx, bytes);
}

static void mem_free(const struct model *m, void *p, size_t bytes)
{
	if (p)
		m->mem.free(m->mem.ctx, p, bytes);
}

/* ---- the table ----------------------------------------------------------- */

/* Most slots in use (live, heads, deleted markers) a table of cap slots
 * may have, so that a probe always meets an empty slot. */
static size_t limit(size_t cap)
{
	return cap - cap / 4;
}

static size_t hash(uint32_t n, uint64_t v, size_t cap)
{
	uint64_t h = v + (uint64_t)n * 0x9e3779b97f4a7c15ull;

	/* MurmurHash3's finaliser */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (size_t)h & (cap - 1);
}

/* The entry (live or head) keyed n:v, or NULL. */
static struct model_entry *entry(const struct model *m, uint32_t n, uint64_t v)
{
	if (m->cap == 0 || n == NIL)
		return NULL;
	for (size_t i = hash(n, v, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct model_entry *e = &m->tab[i];
		if (e->state == SLOT_EMPTY)
			return NULL;
		if (e->state != SLOT_DEAD && e->n == n && e->v == v)
			return e;
	}
}

/* The mapping at n:v, or NULL: valid(n:v). */
static struct model_entry *live(const struct model *m, uint32_t n, uint64_t v)
{
	struct model_entry *e = entry(m, n, v);

	return e && e->state == SLOT_LIVE ? e : NULL;
}

/* Page v of space n's list (NO_PAGE: none). */
static struct model_entry *in_space(const struct model *m, uint32_t n, uint64_t v)
{
	return v == NO_PAGE ? NULL : live(m, n, v);
}

static struct model_entry *child(const struct model *m, const struct model_entry *e)
{
	return entry(m, e->child_n, e->child_v);
}

static struct model_entry *next(const struct model *m, const struct model_entry *e)
{
	return entry(m, e->next_n, e->next_v);
}

/* The entry e derives from directly (live, or a head), or NULL for Real. */
static struct model_entry *source(const struct model *m, const struct model_entry *e)
{
	return e->src_space == MODEL_REAL ? NULL : entry(m, e->src_space, e->src);
}

/*
 * The entry keyed n:v; a new one is a head with no list, which the caller
 * makes live or links under. Needs room: reserve() made it.
 */
static struct model_entry *insert(struct model *m, uint32_t n, uint64_t v)
{
	size_t i, hole = NOSLOT;
	struct model_entry *e;

	for (i = hash(n, v, m->cap);; i = (i + 1) & (m->cap - 1)) {
		e = &m->tab[i];
		if (e->state == SLOT_EMPTY)
			break;
		if (e->state == SLOT_DEAD) {
			if (hole == NOSLOT)
				hole = i;
		} else if (e->n == n && e->v == v) {
			return e;
		}
	}
	if (hole != NOSLOT) {
		e = &m->tab[hole];
		m->dead--;
	} else {
		CHECK(m->used + m->dead < limit(m->cap)); /* reserve() made room */
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->n = n;
	e->v = v;
	e->src_space = MODEL_REAL;
	e->child_n = e->next_n = e->prev_n = NIL;
	e->state = SLOT_HEAD;
	m->used++;
	return e;
}

/* Leave a deleted marker in e's slot. */
static void vacate(struct model *m, struct model_entry *e)
{
	e->state = SLOT_DEAD;
	m->used--;
	m->dead++;
}

/* Place a copy of e in a table of cap slots that does not hold its key. */
static void place(struct model_entry *tab, size_t cap, const struct model_entry *e)
{
	size_t i = hash(e->n, e->v, cap);

	while (tab[i].state != SLOT_EMPTY)
		i = (i + 1) & (cap - 1);
	__builtin_memcpy(&tab[i], e, sizeof(*e));
}

/* The smallest table (a power of two) that holds `entries` at most half
 * full, or 0 when that is beyond any memory. */
static size_t cap_for(uint64_t entries)
{
	size_t cap = MIN_CAP;

	if (entries > SIZE_MAX / 4 / sizeof(struct model_entry))
		return 0;
	while (cap / 2 < entries)
		cap *= 2;
	return cap;
}

/*
 * Room for k more entries (keys not in the table now). Grows the table, or
 * rebuilds it without deleted markers, when it has not; model_err_nomem
 * (nothing changed) when the door has no memory for that.
 */
static err_t reserve(struct model *m, uint64_t k)
{
	const size_t in_use = m->used + m->dead;
	struct model_entry *tab;
	size_t cap;

	if (m->cap && in_use <= limit(m->cap) && k <= limit(m->cap) - in_use)
		return NULL;
	if (k > SIZE_MAX / 4 / sizeof(struct model_entry))
		return model_err_nomem;
	cap = cap_for(m->used + k);
	if (!cap)
		return model_err_nomem;
	tab = mem_alloc(m, cap * sizeof(*tab));
	if (!tab)
		return model_err_nomem;
	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].state == SLOT_LIVE || m->tab[i].state == SLOT_HEAD)
			place(tab, cap, &m->tab[i]);
	mem_free(m, m->tab, m->cap * sizeof(*m->tab));
	m->tab = tab;
	m->cap = cap;
	m->dead = 0;
	return NULL;
}

/* ---- the derivation lists ------------------------------------------------- */

/* Put live Virtual e first in its source's list (a head if the source has
 * no entry: only model_set gets there). */
static void enlist(struct model *m, struct model_entry *e)
{
	struct model_entry *p = insert(m, e->src_space, e->src);
	struct model_entry *first = child(m, p);

	e->next_n = p->child_n;
	e->next_v = p->child_v;
	e->prev_n = NIL;
	if (first) {
		first->prev_n = e->n;
		first->prev_v = e->v;
	}
	p->child_n = e->n;
	p->child_v = e->v;
}

/* Take live Virtual e out of its source's list; a head whose list empties
 * goes. */
static void delist(struct model *m, struct model_entry *e)
{
	struct model_entry *p = source(m, e), *prev = entry(m, e->prev_n, e->prev_v);
	struct model_entry *nx = next(m, e);

	CHECK(p != NULL); /* a Virtual mapping is in its source's list */
	if (prev) {
		prev->next_n = e->next_n;
		prev->next_v = e->next_v;
	} else {
		p->child_n = e->next_n;
		p->child_v = e->next_v;
	}
	if (nx) {
		nx->prev_n = e->prev_n;
		nx->prev_v = e->prev_v;
	}
	e->next_n = e->prev_n = NIL;
	if (p->state == SLOT_HEAD && p->child_n == NIL)
		vacate(m, p);
}

/* Set n:v to *mp, nothing else: what derives from n:v stays. Needs room for
 * two entries (n:v, and a head for a missing source). */
static void put(struct model *m, uint32_t n, uint64_t v, const struct model_map *mp)
{
	struct model_entry *e;

	CHECK(v != NO_PAGE); /* pages are aligned */
	e = insert(m, n, v);
	if (e->state == SLOT_LIVE) {
		if (e->src_space != MODEL_REAL)
			delist(m, e);
	} else {
		struct model_space *sp = &m->spaces[n];
		struct model_entry *first = in_space(m, n, sp->first);
		e->state = SLOT_LIVE;
		e->snext_v = sp->first;
		e->sprev_v = NO_PAGE;
		if (first)
			first->sprev_v = v;
		sp->first = v;
		sp->pages++;
	}
	e->src_space = mp->src_space;
	e->src = mp->src;
	e->rights = mp->rights > 0xff ? 0xff : (uint8_t)mp->rights;
	if (e->src_space != MODEL_REAL)
		enlist(m, e);
}

/* Remove the mapping of live e, nothing else; e stays as a head if
 * something still derives from it (only on a broken state). */
static void drop(struct model *m, struct model_entry *e)
{
	struct model_space *sp = &m->spaces[e->n];
	struct model_entry *sprev = in_space(m, e->n, e->sprev_v),
	                   *snext = in_space(m, e->n, e->snext_v);

	if (e->src_space != MODEL_REAL)
		delist(m, e);
	if (sprev)
		sprev->snext_v = e->snext_v;
	else
		sp->first = e->snext_v;
	if (snext)
		snext->sprev_v = e->sprev_v;
	sp->pages--;
	e->src_space = MODEL_REAL;
	e->rights = 0;
	if (e->child_n == NIL)
		vacate(m, e);
	else
		e->state = SLOT_HEAD;
}

/* ---- the single-page operations of SPEC section 1 -------------------------- */

/*
 * unmap n v, n:v being live r: remove every mapping derived from r, however
 * indirectly. Post-order without a stack: go down first children to a leaf,
 * remove it, go on with its next sibling, or else with its parent, which
 * then has no children left. Returns how many were removed. (r is met
 * again only if it lies on a loop; the walk stops there.)
 */
static uint64_t unmap1(struct model *m, struct model_entry *r)
{
	uint64_t removed = 0;
	struct model_entry *c = child(m, r);

	while (c && c != r) {
		struct model_entry *d = child(m, c);
		if (d) {
			c = d;
			continue;
		}
		struct model_entry *nx = next(m, c), *parent = source(m, c);
		drop(m, c);
		removed++;
		c = nx ? nx : parent;
	}
	return removed;
}

/* flush n v, n:v being live r: unmap, then remove r. Returns how many
 * mappings were removed. */
static uint64_t flush1(struct model *m, struct model_entry *r)
{
	uint64_t removed = unmap1(m, r);

	drop(m, r);
	return removed + 1;
}

/* map n v n2 v2 R. True when n2:v2 was set. Needs room for one entry. */
static bool map1(struct model *m, uint32_t n, uint64_t v, uint32_t n2, uint64_t v2, unsigned rights)
{
	struct model_entry *e = live(m, n, v), *t;

	if (!e)
		return false; /* n:v not valid: nothing */
	t = live(m, n2, v2);
	if (t)
		flush1(m, t);
	e = live(m, n, v);
	if (!e)
		return false; /* the flush took n:v */
	const struct model_map mp = {.src_space = n, .src = v, .rights = e->rights & rights};
	put(m, n2, v2, &mp);
	return true;
}

/* grant n v n2 v2 R. True when n2:v2 was set. Needs room for one entry. */
static bool grant1(struct model *m, uint32_t n, uint64_t v, uint32_t n2, uint64_t v2,
                   unsigned rights)
{
	struct model_entry *e = live(m, n, v), *t;
	bool set = false;

	if (!e)
		return false; /* n:v not valid: nothing */
	const struct model_map mp = {
	    .src_space = e->src_space, .src = e->src, .rights = e->rights & rights};
	t = live(m, n2, v2);
	if (t)
		flush1(m, t);
	if (live(m, n, v)) {
		put(m, n2, v2, &mp);
		set = true;
	}
	e = live(m, n, v);
	if (e)
		flush1(m, e);
	return set;
}

/*
 * protect n v R, n:v being live r: rights &= R at r and at everything
 * derived from it, in pre-order without a stack. Returns how many mappings'
 * rights changed.
 */
static uint64_t protect1(struct model *m, struct model_entry *r, unsigned rights)
{
	uint64_t changed = 0;
	struct model_entry *c = r, *s;

	for (;;) {
		if ((c->rights & rights) != c->rights) {
			c->rights &= rights;
			changed++;
		}
		s = child(m, c);
		if (!s) {
			/* up to the nearest ancestor within r's tree with a next sibling */
			while (c != r && !(s = next(m, c)))
				c = source(m, c);
			if (c == r)
				break;
		}
		c = s;
		if (c == r)
			break; /* r lies on a loop */
	}
	return changed;
}

/* ---- spaces ------------------------------------------------------------------ */

bool model_space_exists(const struct model *m, uint32_t n)
{
	return n < m->max_spaces && m->exists[n];
}

err_t model_init(struct model *m, const struct model_mem *mem, unsigned max_spaces)
{
	__builtin_memset(m, 0, sizeof(*m));
	if (max_spaces == 0)
		return model_err_nospace;
	m->mem = *mem;
	m->max_spaces = max_spaces;
	m->exists = mem_alloc(m, max_spaces * sizeof(*m->exists));
	m->spaces = mem_alloc(m, max_spaces * sizeof(*m->spaces));
	if (!m->exists || !m->spaces) {
		model_destroy(m);
		return model_err_nomem;
	}
	for (unsigned n = 0; n < max_spaces; n++)
		m->spaces[n].first = NO_PAGE;
	m->exists[0] = true;
	return NULL;
}

void model_destroy(struct model *m)
{
	mem_free(m, m->tab, m->cap * sizeof(*m->tab));
	mem_free(m, m->exists, m->max_spaces * sizeof(*m->exists));
	mem_free(m, m->spaces, m->max_spaces * sizeof(*m->spaces));
	mem_free(m, m->boot, m->boot_cap * sizeof(*m->boot));
	__builtin_memset(m, 0, sizeof(*m));
}

err_t model_sigma0(struct model *m, uint64_t pa, uint64_t pages)
{
	size_t bcap = m->boot_cap;
	void *nb = NULL;
	err_t e;

	if (pages == 0)
		return NULL;
	if (m->nboot == m->boot_cap) {
		bcap = bcap ? 2 * bcap : 8;
		nb = mem_alloc(m, bcap * sizeof(*m->boot));
		if (!nb)
			return model_err_nomem;
	}
	e = reserve(m, pages);
	if (e) {
		mem_free(m, nb, bcap * sizeof(*m->boot));
		return e;
	}
	if (nb) {
		if (m->boot)
			__builtin_memcpy(nb, m->boot, m->nboot * sizeof(*m->boot));
		mem_free(m, m->boot, m->boot_cap * sizeof(*m->boot));
		m->boot = nb;
		m->boot_cap = bcap;
	}
	m->boot[m->nboot].base = pa;
	m->boot[m->nboot].pages = pages;
	m->nboot++;
	for (uint64_t i = 0; i < pages; i++) {
		const struct model_map mp = {
		    .src_space = MODEL_REAL, .src = pa + i * PAGE_SIZE, .rights = RWX};
		put(m, 0, mp.src, &mp);
	}
	return NULL;
}

err_t model_set(struct model *m, uint32_t n, uint64_t v, const struct model_map *mp)
{
	struct model_entry *e;
	err_t err;

	if (!model_space_exists(m, n))
		return model_err_nospace;
	if (!mp) {
		e = live(m, n, v);
		if (e)
			drop(m, e);
		return NULL;
	}
	err = reserve(m, 2);
	if (err)
		return err;
	put(m, n, v, mp);
	return NULL;
}

err_t model_space_create(struct model *m, uint32_t n)
{
	if (n >= m->max_spaces)
		return model_err_nospace;
	if (m->exists[n])
		return model_err_exists;
	CHECK(m->spaces[n].pages == 0); /* deleted, it was flushed */
	m->exists[n] = true;
	return NULL;
}

/* Sigma0 (n == 0) cannot be deleted: model_err_nospace, as for a space
 * that does not exist. */
err_t model_space_delete(struct model *m, uint32_t n)
{
	if (n == 0 || !model_space_exists(m, n))
		return model_err_nospace;
	while (m->spaces[n].first != NO_PAGE)
		flush1(m, in_space(m, n, m->spaces[n].first));
	m->exists[n] = false;
	return NULL;
}

/* A fresh table holding sigma0's boot frames, then the old one goes. */
err_t model_reset(struct model *m)
{
	uint64_t total = 0;
	struct model_entry *tab;
	size_t cap;

	for (size_t k = 0; k < m->nboot; k++) {
		if (m->boot[k].pages > UINT64_MAX - total)
			return model_err_nomem;
		total += m->boot[k].pages;
	}
	cap = cap_for(total);
	if (!cap)
		return model_err_nomem;
	tab = mem_alloc(m, cap * sizeof(*tab));
	if (!tab)
		return model_err_nomem;
	mem_free(m, m->tab, m->cap * sizeof(*m->tab));
	m->tab = tab;
	m->cap = cap;
	m->used = m->dead = 0;
	for (unsigned n = 0; n < m->max_spaces; n++) {
		m->exists[n] = n == 0;
		m->spaces[n].pages = 0;
		m->spaces[n].first = NO_PAGE;
	}
	for (size_t k = 0; k < m->nboot; k++)
		for (uint64_t i = 0; i < m->boot[k].pages; i++) {
			const uint64_t pa = m->boot[k].base + i * PAGE_SIZE;
			const struct model_map mp = {
			    .src_space = MODEL_REAL, .src = pa, .rights = RWX};
			put(m, 0, pa, &mp);
		}
	return NULL;
}

/* ---- queries ----------------------------------------------------------------- */

static void to_map(const struct model_entry *e, struct model_map *out)
{
	out->src_space = e->src_space;
	out->src = e->src;
	out->rights = e->rights;
}

bool model_get(const struct model *m, uint32_t n, uint64_t v, struct model_map *out)
{
	const struct model_entry *e = live(m, n, v);

	if (e && out)
		to_map(e, out);
	return e != NULL;
}

/* Follows at most as many links as there are entries, so a loop (only
 * model_set makes one) answers none. */
bool model_lookup(const struct model *m, uint32_t n, uint64_t v, uint64_t *pa, unsigned *rights)
{
	const struct model_entry *e = live(m, n, v);
	size_t steps = 0;

	if (!e)
		return false;
	const unsigned r = e->rights;
	while (e->src_space != MODEL_REAL) {
		if (++steps > m->used)
			return false;
		e = live(m, e->src_space, e->src);
		if (!e)
			return false;
	}
	if (pa)
		*pa = e->src;
	if (rights)
		*rights = r;
	return true;
}

void model_each(const struct model *m,
                bool (*fn)(void *ctx, uint32_t n, uint64_t v, const struct model_map *mp),
                void *ctx)
{
	for (size_t i = 0; i < m->cap; i++) {
		const struct model_entry *e = &m->tab[i];
		struct model_map mp;
		if (e->state != SLOT_LIVE)
			continue;
		to_map(e, &mp);
		if (!fn(ctx, e->n, e->v, &mp))
			return;
	}
}

uint64_t model_pages(const struct model *m, uint32_t n)
{
	return model_space_exists(m, n) ? m->spaces[n].pages : 0;
}

/* ---- the region commands ------------------------------------------------------ */

err_t model_map(struct model *m, uint32_t n, uint64_t v, uint32_t n2, uint64_t v2, uint64_t pages,
                unsigned rights, uint64_t *done)
{
	uint64_t set = 0;
	err_t e;

	if (done)
		*done = 0;
	if (!model_space_exists(m, n) || !model_space_exists(m, n2))
		return model_err_nospace;
	for (uint64_t i = 0; i < pages; i++)
		if (!live(m, n, v + i * PAGE_SIZE))
			return model_err_invalid;
	e = reserve(m, pages);
	if (e)
		return e;
	for (uint64_t i = 0; i < pages; i++)
		set += map1(m, n, v + i * PAGE_SIZE, n2, v2 + i * PAGE_SIZE, rights);
	if (done)
		*done = set;
	return NULL;
}

err_t model_grant(struct model *m, uint32_t n, uint64_t v, uint32_t n2, uint64_t v2, uint64_t pages,
                  unsigned rights, uint64_t *done)
{
	uint64_t set = 0;
	err_t e;

	if (done)
		*done = 0;
	if (!model_space_exists(m, n) || !model_space_exists(m, n2))
		return model_err_nospace;
	for (uint64_t i = 0; i < pages; i++)
		if (!live(m, n, v + i * PAGE_SIZE))
			return model_err_invalid;
	e = reserve(m, pages);
	if (e)
		return e;
	for (uint64_t i = 0; i < pages; i++)
		set += grant1(m, n, v + i * PAGE_SIZE, n2, v2 + i * PAGE_SIZE, rights);
	if (done)
		*done = set;
	return NULL;
}

err_t model_unmap(struct model *m, uint32_t n, uint64_t v, uint64_t pages, uint64_t *done)
{
	uint64_t removed = 0;

	if (done)
		*done = 0;
	if (!model_space_exists(m, n))
		return model_err_nospace;
	for (uint64_t i = 0; i < pages; i++) {
		struct model_entry *e = live(m, n, v + i * PAGE_SIZE);
		if (e)
			removed += unmap1(m, e);
	}
	if (done)
		*done = removed;
	return NULL;
}

err_t model_flush(struct model *m, uint32_t n, uint64_t v, uint64_t pages, uint64_t *done)
{
	uint64_t removed = 0;

	if (done)
		*done = 0;
	if (!model_space_exists(m, n))
		return model_err_nospace;
	for (uint64_t i = 0; i < pages; i++) {
		struct model_entry *e = live(m, n, v + i * PAGE_SIZE);
		if (e)
			removed += flush1(m, e);
	}
	if (done)
		*done = removed;
	return NULL;
}

err_t model_protect(struct model *m, uint32_t n, uint64_t v, uint64_t pages, unsigned rights,
                    uint64_t *done)
{
	uint64_t changed = 0;

	if (done)
		*done = 0;
	if (!model_space_exists(m, n))
		return model_err_nospace;
	for (uint64_t i = 0; i < pages; i++) {
		struct model_entry *e = live(m, n, v + i * PAGE_SIZE);
		if (e)
			changed += protect1(m, e, rights);
	}
	if (done)
		*done = changed;
	return NULL;
}

/* ---- check ---------------------------------------------------------------------- */

/* "N:0xV" into where (cap bytes, always terminated). */
static void name(char *where, size_t cap, uint32_t n, uint64_t v)
{
	char buf[40], tmp[20];
	size_t k = 0, t = 0;

	if (!where || cap == 0)
		return;
	do {
		tmp[t++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	while (t)
		buf[k++] = tmp[--t];
	buf[k++] = ':';
	buf[k++] = '0';
	buf[k++] = 'x';
	do {
		tmp[t++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (t)
		buf[k++] = tmp[--t];
	if (k > cap - 1)
		k = cap - 1;
	__builtin_memcpy(where, buf, k);
	where[k] = '\0';
}

static size_t slot_of(const struct model *m, const struct model_entry *e)
{
	return (size_t)(e - m->tab);
}

/*
 * The representation itself (not the model): every derivation list holds
 * exactly the live mappings whose source is its head, every space's list
 * exactly its live entries, both linked both ways; heads have a list; the
 * counts agree. A failure is a bug here, hence CHECK.
 */
static void audit(const struct model *m)
{
	size_t used = 0, dead = 0, live_n = 0, virt = 0, listed = 0, in_spaces = 0;

	for (size_t i = 0; i < m->cap; i++) {
		const struct model_entry *e = &m->tab[i];
		if (e->state == SLOT_EMPTY)
			continue;
		if (e->state == SLOT_DEAD) {
			dead++;
			continue;
		}
		used++;
		CHECK(e->state == SLOT_LIVE || e->child_n != NIL);
		if (e->state == SLOT_LIVE) {
			live_n++;
			virt += e->src_space != MODEL_REAL;
		}
		uint32_t pn = NIL;
		uint64_t pv = 0;
		for (const struct model_entry *c = child(m, e); c; c = next(m, c)) {
			CHECK(c->state == SLOT_LIVE);
			CHECK(c->src_space == e->n && c->src == e->v);
			CHECK(c->prev_n == pn && (pn == NIL || c->prev_v == pv));
			CHECK(++listed <= m->cap); /* the list ends */
			pn = c->n;
			pv = c->v;
		}
	}
	CHECK(used == m->used && dead == m->dead && listed == virt);
	CHECK(m->used + m->dead <= limit(m->cap) || m->cap == 0);
	for (unsigned n = 0; n < m->max_spaces; n++) {
		uint64_t pages = 0, pv = NO_PAGE;
		for (const struct model_entry *e = in_space(m, n, m->spaces[n].first); e;
		     e = in_space(m, n, e->snext_v)) {
			CHECK(m->exists[n] && e->sprev_v == pv);
			CHECK(++pages <= m->used); /* the list ends */
			pv = e->v;
		}
		CHECK(pages == m->spaces[n].pages);
		in_spaces += pages;
	}
	CHECK(in_spaces == live_n);
}

enum colour { WHITE, GREY, REACHES, FAILS };

/* The slot of the live mapping e derives from, or NOSLOT (Real, or no
 * such mapping in a space that exists). */
static size_t src_slot(const struct model *m, const struct model_entry *e)
{
	const struct model_entry *s;

	if (e->src_space == MODEL_REAL || !model_space_exists(m, e->src_space))
		return NOSLOT;
	s = live(m, e->src_space, e->src);
	return s ? slot_of(m, s) : NOSLOT;
}

err_t model_check(const struct model *m, char *where, size_t cap)
{
	uint8_t *col; /* enum colour per slot */
	size_t noreal = NOSLOT;
	err_t err = NULL;

	if (where && cap)
		where[0] = '\0';
	col = mem_alloc(m, m->cap ? m->cap : 1);
	if (!col)
		return model_err_nomem;
	audit(m);

	/*
	 * 1 and 2: from each mapping not yet coloured, follow the path, greying
	 * it, to Real or to a mapping already coloured (it reaches Real or not),
	 * or to a missing source (not); then colour the path with the answer.
	 * Meeting grey again is a loop. Each mapping is walked twice at most.
	 */
	for (size_t i = 0; i < m->cap && !err; i++) {
		if (m->tab[i].state != SLOT_LIVE || col[i] != WHITE)
			continue;
		enum colour answer = FAILS;
		size_t j = i;
		for (;;) {
			if (col[j] == GREY) {
				name(where, cap, m->tab[j].n, m->tab[j].v);
				err = model_err_loop;
				break;
			}
			if (col[j] != WHITE) {
				answer = col[j];
				break;
			}
			col[j] = GREY;
			if (m->tab[j].src_space == MODEL_REAL) {
				answer = REACHES;
				break;
			}
			const size_t s = src_slot(m, &m->tab[j]);
			if (s == NOSLOT) {
				if (noreal == NOSLOT)
					noreal = j;
				answer = FAILS;
				break;
			}
			j = s;
		}
		if (err)
			break;
		for (j = i; j != NOSLOT && col[j] == GREY; j = src_slot(m, &m->tab[j]))
			col[j] = answer;
	}
	if (!err && noreal != NOSLOT) {
		name(where, cap, m->tab[noreal].n, m->tab[noreal].v);
		err = model_err_noreal;
	}

	/* 3: each entry of a space that exists, the only one of its key (the
	 * first in its probe sequence), rights rwx at most and with r. */
	for (size_t i = 0; i < m->cap && !err; i++) {
		const struct model_entry *e = &m->tab[i];
		if (e->state != SLOT_LIVE)
			continue;
		if (!model_space_exists(m, e->n) || entry(m, e->n, e->v) != e ||
		    !(e->rights & RIGHTS_R) || (e->rights & ~RWX)) {
			name(where, cap, e->n, e->v);
			err = model_err_notfn;
		}
	}

	/* 4: rights within the source's (every source is live by now) */
	for (size_t i = 0; i < m->cap && !err; i++) {
		const struct model_entry *e = &m->tab[i], *s;
		if (e->state != SLOT_LIVE || e->src_space == MODEL_REAL)
			continue;
		s = live(m, e->src_space, e->src);
		CHECK(s != NULL);
		if (e->rights & ~s->rights) {
			name(where, cap, e->n, e->v);
			err = model_err_rights;
		}
	}
	mem_free(m, col, m->cap ? m->cap : 1);
	return err;
}
