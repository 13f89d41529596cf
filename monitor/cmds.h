/*
 * What the command files share: the space commands (cmds_space.c) that the
 * table in cmds.c names, and the printing of walks and runs both use.
 */
#ifndef MEMMON_CMDS_H
#define MEMMON_CMDS_H

#include "console.h"
#include "pt.h"

/* Print each level of the walk of v in `pt` (the lines `walk` prints). */
void cmds_print_walk(const struct pt *pt, uint64_t v);

/* Print pt's runs below `limit` in SPEC's form; count them. */
struct cmds_runs {
	uint64_t runs, pages;
};
void cmds_runs_print(const struct pt *pt, uint64_t limit, struct cmds_runs *out);

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

#endif
