/* engine_links_alone.c — a program made of every object of the job library and no object of
 * the tool (tests/cli.cmake): it builds only while engine/ does not depend on cli/. */
#include <string.h>

#include "cx_engine.h"

int main(void)
{
    cx_job_output out;
    memset(&out, 0, sizeof out);
    cx_job_output_free(&out);
    return 0;
}
