## src/local.mk -- libexco, the core library (included from Makefile.am).

lib_LTLIBRARIES += %reldir%/libexco.la

%canon_reldir%_libexco_la_SOURCES = \
	%reldir%/error.c \
	%reldir%/executor.c \
	%reldir%/task.c \
	%reldir%/switch.c \
	%reldir%/await.c \
	%reldir%/waitq.c \
	%reldir%/timer.c \
	%reldir%/runq.c \
	%reldir%/local.c \
	%reldir%/promise.c \
	%reldir%/chan.c \
	%reldir%/sync.c \
	%reldir%/scope.c \
	%reldir%/offload.c \
	%reldir%/stack.c \
	%reldir%/overflow.c \
	%reldir%/fork.c \
	%reldir%/debug.c \
	%reldir%/seed.c

## Exactly one context-switch backend, chosen by configure
## (--with-context=auto|asm|ucontext|swapcontext).
if EXCO_CONTEXT_UCONTEXT
%canon_reldir%_libexco_la_SOURCES += %reldir%/context-ucontext.c
endif
if EXCO_CONTEXT_SWAPCONTEXT
%canon_reldir%_libexco_la_SOURCES += %reldir%/context-swapcontext.c
endif
if EXCO_CONTEXT_X86_64
%canon_reldir%_libexco_la_SOURCES += %reldir%/context-x86_64.S
endif
if EXCO_CONTEXT_AARCH64
%canon_reldir%_libexco_la_SOURCES += %reldir%/context-aarch64.S
endif

## Automake puts every conditional source in the tarball, chosen or not.

noinst_HEADERS += \
	%reldir%/exco-internal.h \
	%reldir%/queue.h \
	%reldir%/context.h \
	%reldir%/stack.h \
	%reldir%/switch.h \
	%reldir%/resume.h \
	%reldir%/runq.h \
	%reldir%/timer.h \
	%reldir%/waitq.h

%canon_reldir%_libexco_la_CPPFLAGS = $(EXCO_LIB_CPPFLAGS)
%canon_reldir%_libexco_la_CFLAGS = $(EXCO_LIB_CFLAGS)
%canon_reldir%_libexco_la_LDFLAGS = \
	-version-info $(EXCO_LT_VERSION_INFO) -no-undefined
%canon_reldir%_libexco_la_LIBADD = $(PTHREAD_LIBS)

excoinclude_HEADERS += include/exco/driver.h include/exco/sync.h

## The C interface of the Rust crate extern_executor, for drivers written
## for it (src/seed.c).
include_HEADERS += include/rust_async_executor.h
