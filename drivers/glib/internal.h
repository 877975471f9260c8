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

/*
 * A reference to the driver of @p ex (its GSource and its context), or
 * NULL if @p ex is not one of this driver's executors.  On the loop
 * thread.
 */
void *exco__glib_driver_ref(exco_executor *ex);

/*
 * From any thread: has the driver's dispatch run again, to see whether the
 * executor has become idle (a stack hold was released), and drops the
 * reference taken by exco__glib_driver_ref().  Safe after the executor
 * has been freed.
 */
void exco__glib_idle_kick(void *driver);

#endif
