/*
 * internal.h -- what the GLib driver's files share, not installed.
 */
#ifndef EXCO_GLIB_INTERNAL_H
#define EXCO_GLIB_INTERNAL_H

#include "exco/glib.h"

/*
 * The context and the priority for the sources of awaitables on @p ex,
 * or EXCO_ENOTSUP if @p ex is not one of this driver's executors.  On
 * the loop thread.
 */
int exco__glib_source_params(exco_executor *ex, GMainContext **ctx,
                             int *priority);

#endif
