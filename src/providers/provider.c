/*-------------------------------------------------------------------------
 *
 * provider.c
 *		  The providers lms_fdw knows, by the name of the provider option
 *
 * IDENTIFICATION
 *		  src/providers/provider.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "providers/provider.h"

/* The provider of a server's provider option. */
const LmsProvider *
lmsfdw_find_provider(const char *name)
{
	static const LmsProvider *const providers[] = {
		&lms_provider_canvas, &lms_provider_canvas_dap,
		&lms_provider_brightspace, &lms_provider_generic, NULL
	};
	int			i;

	for (i = 0; name && providers[i]; i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}
