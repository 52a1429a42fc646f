/* cli.c — output and error conventions shared by every subcommand: errors to stderr
 * (and as JSON on stdout with --json), exit codes, sub-command dispatch. */
#include "cli.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

int cli_fail(cx_cli *cli, const cx_error *e)
{
    fprintf(stderr, "cloakx %s: error: %s\n", cli->cmd, e->msg[0] ? e->msg : cx_err_name(e->code));
    if (cli->json) {
        json_t *j = json_pack("{s:{s:s,s:s,s:i}}", "error", "kind", cx_err_name(e->code),
                              "message", e->msg, "exit_code", cx_err_exit_code(e->code));
        if (j)
            cli_print_json(cli, j);
    }
    return cx_err_exit_code(e->code);
}

int cli_usage(cx_cli *cli, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "cloakx %s: %s\nSee 'cloakx %s --help'.\n", cli->cmd, msg, cli->cmd);
    return CX_EXIT_USAGE;
}

int cli_print_json(cx_cli *cli, json_t *v)
{
    (void)cli;
    char *s = cx_json_dumps(v, isatty(STDOUT_FILENO));
    json_decref(v);
    if (!s) {
        fprintf(stderr, "cloakx: out of memory printing JSON\n");
        return CX_EXIT_FAILURE;
    }
    puts(s);
    free(s);
    return fflush(stdout) == 0 ? CX_EXIT_OK : CX_EXIT_FAILURE;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

static void group_help(const char *group, const cx_command *cmds, FILE *out)
{
    fprintf(out, "usage: cloakx %s <command> [options]\n\ncommands:\n", group);
    for (const cx_command *c = cmds; c->name; c++)
        fprintf(out, "  %-14s %s\n", c->name, c->summary);
}

int cli_dispatch(cx_cli *cli, const char *group, const cx_command *cmds, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        group_help(group, cmds, argc < 2 ? stderr : stdout);
        return argc < 2 ? CX_EXIT_USAGE : CX_EXIT_OK;
    }
    for (const cx_command *c = cmds; c->name; c++) {
        if (strcmp(c->name, argv[1]) == 0) {
            snprintf(cli->cmd_buf, sizeof cli->cmd_buf, "%s %s", group, c->name);
            cli->cmd = cli->cmd_buf;
            return c->run(cli, argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "cloakx %s: '%s' is not a command.\n", group, argv[1]);
    group_help(group, cmds, stderr);
    return CX_EXIT_USAGE;
}
