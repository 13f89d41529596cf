/*
 * What the command files share: the space commands (cmds_space.c) that the
 * table in cmds.c names, and the printing of walks and runs both use.
 */
#ifndef MEMMON_CMDS_H
#define MEMMON_CMDS_H

#include "console.h"
#include "pt.h"
#include "rights.h"

/* Page and entry sizes by level, as SPEC prints them: 4K, 2M, 1G. */
extern const char *const cmds_size_name[3];

/* Print each level of a walk (the lines `walk` and `pt N V` print). */
void cmds_print_walk(const struct pt_walk *w);

/* Print runs in SPEC's form, joining what SPEC calls one run, and count
 * the lines: feed cmds_run to pt_runs or space_runs with a zeroed struct
 * cmds_runs, then call cmds_runs_end. */
struct cmds_runs {
	uint64_t runs, pages;
	bool open; /* cur is a run not printed yet */
	struct pt_run cur;
};
bool cmds_run(void *ctx, const struct pt_run *r);
void cmds_runs_end(struct cmds_runs *d);

/* Free every run `alloc` took (reset); returns the frames freed. */
uint64_t cmds_free_allocs(void);

/* `pt N [V]`, and the spaces line of `mem`. */
err_t cmds_pt_space(struct con *c, int argc, char **argv);
void cmds_mem_spaces(void);

err_t cmd_space(struct con *c, int argc, char **argv);
err_t cmd_map(struct con *c, int argc, char **argv);
err_t cmd_grant(struct con *c, int argc, char **argv);
err_t cmd_region(struct con *c, int argc, char **argv);
err_t cmd_lookup(struct con *c, int argc, char **argv);
err_t cmd_mdb(struct con *c, int argc, char **argv);
err_t cmd_check(struct con *c, int argc, char **argv);
err_t cmd_peek(struct con *c, int argc, char **argv);
err_t cmd_poke(struct con *c, int argc, char **argv);
err_t cmd_park(struct con *c, int argc, char **argv);
err_t cmd_pool(struct con *c, int argc, char **argv);
err_t cmd_reset(struct con *c, int argc, char **argv);
err_t cmd_guest(struct con *c, int argc, char **argv);
err_t cmd_cpu(struct con *c, int argc, char **argv);

#endif
