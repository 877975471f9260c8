/*
 * tsan-glib.c -- ThreadSanitizer suppressions for the programs that run
 * GLib (tests/test-glib, tests/conformance/conformance-glib), compiled in
 * as __tsan_default_suppressions() so that they apply wherever the
 * programs run (make check, CI's TSan builds) with no TSAN_OPTIONS.  It
 * defines nothing in builds without ThreadSanitizer.
 *
 * Why: Debian's GLib is not built with -fsanitize=thread, and it
 * synchronises its threads with primitives TSan can't see -- GMutex and
 * GCond are futex calls of GLib's own on Linux, not pthread mutexes, and
 * GIO's thread pool hands a GTask to its worker, and the result back to
 * the caller's GMainContext, through a GAsyncQueue and a GWakeup (an
 * eventfd).  TSan only sees the interceptors GLib calls (malloc, free,
 * memcpy, strlen, read, open), so every object that a coroutine makes and
 * a GIO worker thread uses or frees (a GTask, its closure, a file name, the
 * buffer a read fills) shows as a race between threads with no
 * happens-before, in test-glib's GIO tests (async_read_file: eight such
 * reports in GLib 2.74, all with a GLib, GObject or GIO function on
 * top: g_closure_unref, g_signal_handlers_destroy, g_strconcat, g_strdup,
 * and GIO's own read() into the coroutine's buffer).
 *
 * What: called_from_lib ignores the interceptors called from inside the
 * three libraries, and nothing else.  Races between two accesses of exco's
 * or the tests' instrumented code are still reported, and so are those
 * between exco's code and a plain pthread of the tests: the driver's own
 * cross-thread paths (notify, the run queue, the async's mutex and
 * promise) are all instrumented.
 */
#if defined(__SANITIZE_THREAD__)
#define TSAN_GLIB 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_GLIB 1
#endif
#endif

#ifdef TSAN_GLIB
const char *__tsan_default_suppressions(void);

const char *__tsan_default_suppressions(void) {
  return "called_from_lib:libglib-2.0.so\n"
         "called_from_lib:libgobject-2.0.so\n"
         "called_from_lib:libgio-2.0.so\n";
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int exco_tsan_glib_unused;
#endif
