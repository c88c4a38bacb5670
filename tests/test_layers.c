/* The layering of docs/DESIGN.md section 1, read from the sources' #include "..." lines: ops/ includes only
 * ops/; datasets/ and baselines/ include ops/ and themselves (not each other); bench/'s rooms stack up in the
 * order of `folders` below, each including ops/, datasets/, baselines/ and the rooms beneath it. Modules (a .c
 * and its .h are one module) include each other without a cycle, so that a module can be read, tested and
 * replaced from the bottom up. Paths are relative to the repository root, where the tests run. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#define MAX_MODULES 160
#define NAME_LEN 64

typedef struct Module {
    char dir[24], name[NAME_LEN];
    int deps[MAX_MODULES];
    int n_deps;
} Module;

typedef struct Graph {
    Module m[MAX_MODULES];
    int n;
} Graph;

/* Bottom up; from FIRST_ROOM on, the rooms of bench/. */
static const char *const folders[] = {
    "ops", "datasets", "baselines", "bench/io", "bench/harness", "bench/train", "bench/report", "bench/experiments",
    "bench/cli",
};
#define N_FOLDERS (int)(sizeof folders / sizeof folders[0])
#define FIRST_ROOM 3

/* Whether sources in folders[from] may include headers of folders[to]. */
static int may_include(int from, int to)
{
    if (from == to || to == 0) /* ops: everyone's base */
        return 1;
    return from >= FIRST_ROOM && to < from; /* a room: the libraries and the rooms beneath it */
}

static int find_module(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->m[i].name, name) == 0)
            return i;
    return -1;
}

/* "fff.c" -> "fff"; 0 if the file is neither a .c nor a .h. */
static int module_name(const char *file, char *out)
{
    size_t n = strlen(file);
    if (n < 3 || n - 2 >= NAME_LEN || file[n - 2] != '.' || (file[n - 1] != 'c' && file[n - 1] != 'h'))
        return 0;
    memcpy(out, file, n - 2);
    out[n - 2] = '\0';
    return 1;
}

static void add_modules(Graph *g, int folder)
{
    DIR *d = opendir(folders[folder]);
    cr_assert_not_null(d, "cannot open %s/ (run from the repository root)", folders[folder]);
    for (struct dirent *e; (e = readdir(d));) {
        char name[NAME_LEN];
        if (!module_name(e->d_name, name) || find_module(g, name) >= 0)
            continue;
        cr_assert_lt(g->n, MAX_MODULES);
        Module *m = &g->m[g->n++];
        snprintf(m->dir, sizeof m->dir, "%s", folders[folder]);
        snprintf(m->name, sizeof m->name, "%s", name);
    }
    closedir(d);
}

static int folder_index(const char *dir)
{
    for (int f = 0; f < N_FOLDERS; f++)
        if (strcmp(folders[f], dir) == 0)
            return f;
    return -1;
}

/* Adds module i's includes from one of its files (absent files are fine: a header-only module). */
static void read_includes(Graph *g, int i, const char *ext)
{
    Module *m = &g->m[i];
    char path[128], line[512];
    snprintf(path, sizeof path, "%s/%s.%s", m->dir, m->name, ext);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char header[NAME_LEN + 2], name[NAME_LEN];
        if (sscanf(line, " #include \"%65[^\"]\"", header) != 1 || !module_name(header, name))
            continue;
        int j = find_module(g, name);
        cr_expect_geq(j, 0, "%s includes \"%s\", which is in none of the folders", path,
                      header);
        if (j < 0 || j == i)
            continue;
        cr_expect(may_include(folder_index(m->dir), folder_index(g->m[j].dir)), "%s includes %s/%s: %s/ may not",
                  path, g->m[j].dir, header, m->dir);
        int seen = 0;
        for (int k = 0; k < m->n_deps; k++)
            seen |= m->deps[k] == j;
        if (!seen)
            m->deps[m->n_deps++] = j;
    }
    fclose(f);
}

static void build_graph(Graph *g)
{
    memset(g, 0, sizeof *g);
    for (int f = 0; f < N_FOLDERS; f++)
        add_modules(g, f);
    for (int i = 0; i < g->n; i++) {
        read_includes(g, i, "h");
        read_includes(g, i, "c");
    }
}

/* Depth-first search; state 1 = on the current path, 2 = done. Returns 1 and writes the cycle into path. */
static int find_cycle(const Graph *g, int i, int *state, int *stack, int depth, char *path, size_t len)
{
    state[i] = 1;
    stack[depth] = i;
    for (int k = 0; k < g->m[i].n_deps; k++) {
        int j = g->m[i].deps[k];
        if (state[j] == 1) {
            size_t used = 0;
            int from = depth;
            while (stack[from] != j)
                from--;
            for (int s = from; s <= depth && used < len; s++)
                used += (size_t)snprintf(path + used, len - used, "%s/%s -> ", g->m[stack[s]].dir,
                                         g->m[stack[s]].name);
            if (used < len)
                snprintf(path + used, len - used, "%s/%s", g->m[j].dir, g->m[j].name);
            return 1;
        }
        if (state[j] == 0 && find_cycle(g, j, state, stack, depth + 1, path, len))
            return 1;
    }
    state[i] = 2;
    return 0;
}

Test(layers, sources_include_only_their_own_folder_or_a_lower_one_and_no_module_cycle)
{
    static Graph g;
    build_graph(&g);
    cr_assert_gt(g.n, 50, "found only %d modules", g.n);
    int state[MAX_MODULES] = {0}, stack[MAX_MODULES];
    char cycle[1024] = "";
    for (int i = 0; i < g.n; i++)
        if (state[i] == 0 && find_cycle(&g, i, state, stack, 0, cycle, sizeof cycle))
            break;
    cr_expect_str_empty(cycle, "include cycle: %s", cycle);
}

/* The check itself: a graph with a known cycle is reported. */
Test(layers, a_two_module_cycle_is_found)
{
    static Graph g;
    g.n = 3;
    snprintf(g.m[0].dir, sizeof g.m[0].dir, "ops"), snprintf(g.m[0].name, NAME_LEN, "a");
    snprintf(g.m[1].dir, sizeof g.m[1].dir, "ops"), snprintf(g.m[1].name, NAME_LEN, "b");
    snprintf(g.m[2].dir, sizeof g.m[2].dir, "ops"), snprintf(g.m[2].name, NAME_LEN, "c");
    g.m[0].deps[0] = 2, g.m[0].n_deps = 1; /* a -> c -> b -> c */
    g.m[2].deps[0] = 1, g.m[2].n_deps = 1;
    g.m[1].deps[0] = 2, g.m[1].n_deps = 1;
    int state[MAX_MODULES] = {0}, stack[MAX_MODULES];
    char cycle[256] = "";
    cr_assert(find_cycle(&g, 0, state, stack, 0, cycle, sizeof cycle));
    cr_expect_str_eq(cycle, "ops/c -> ops/b -> ops/c");
}
