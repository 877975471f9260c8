# exco-gdb.py -- gdb commands for exco's coroutines.
#
# Load it into gdb with
#
#     (gdb) source /usr/local/share/exco/exco-gdb.py
#
# (installed as $(pkgdatadir)/exco-gdb.py, under /usr/local by default),
# then, with the program stopped or in a core file:
#
#     exco tasks               one line per live task of every executor:
#                              address, name, state (as exco_task_get_info()
#                              says), what it waits on, where, polls
#     exco bt TASK [BT-ARGS]   the backtrace of a suspended task, given by
#                              name or address; BT-ARGS go to "bt" ("full",
#                              a frame count...)
#
# The commands read libexco's own structures (src/exco-internal.h) through
# its debug information, starting at the list of all executors,
# exco__executors (src/debug.c).  libexco must have been built with -g.
#
# "exco bt" takes the task's saved registers from its context
# (src/context.h and the backend that saved it: the x86-64 assembly
# switch, or ucontext or swapcontext on x86-64).  In a live process it
# points the selected thread's stack pointer, program counter and
# callee-saved registers at them, runs "bt", and puts the registers back.
# A core file's registers can't be changed: there an unwinder makes the
# task's frames the callers of the thread's innermost frame, and a frame
# filter leaves that frame out of the backtrace (so the task's frames are
# numbered from #1).  It refuses a task that is running (its registers
# are live on some thread: see "thread apply all bt") and one that has
# not started or has finished.
#
# Nothing here runs code in the inferior: it only reads memory, and
# writes registers for the duration of one "bt".

import struct

import gdb

# Task state and flag bits (src/exco-internal.h).
_RUNNING = 1 << 0
_NOTIFIED = 1 << 1
_DONE = 1 << 2
_CANCEL = 1 << 0

# The callee-saved registers of x86-64 and the two that place a frame.
_X86_64_REGS = ("rip", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15")


class ExcoError(Exception):
    pass


def _type_of_param(func, index):
    """The complete type a libexco function's parameter points to.

    The public header declares exco_task and exco_executor opaque, so a
    lookup by name may find the program's incomplete type; a parameter of
    one of libexco's own functions has the complete one."""
    sym = gdb.lookup_global_symbol(func) or gdb.lookup_static_symbol(func)
    if sym is None:
        raise ExcoError("no debug information for libexco (%s not found); "
                        "is the program linked with a libexco built with -g, "
                        "and is it loaded yet?" % func)
    return sym.type.fields()[index].type.target().strip_typedefs()


def _types():
    return (_type_of_param("exco__registry_add", 0),
            _type_of_param("exco_task_get_info", 0))


def _offset(struct_type, field):
    for f in struct_type.fields():
        if f.name == field:
            return f.bitpos // 8
    raise ExcoError("%s has no field %s (another exco version?)" %
                    (struct_type, field))


def _list(head, struct_type, field):
    """The structures linked into the exco__list at @head through @field."""
    off = _offset(struct_type, field)
    ptr = struct_type.pointer()
    end = int(head.address)
    node = head["next"]
    seen = 0
    while int(node) != end:
        yield gdb.Value(int(node) - off).cast(ptr).dereference()
        node = node["next"]
        seen += 1
        if seen > 10000000:
            raise ExcoError("list at 0x%x does not end" % end)


def _str(v):
    """A C string, or None for NULL."""
    p = int(v)
    if p == 0:
        return None
    try:
        charp = gdb.lookup_type("char").pointer()
        return gdb.Value(p).cast(charp).string()
    except gdb.error:
        return "<unreadable 0x%x>" % p


def _executors():
    try:
        head = gdb.parse_and_eval("exco__executors")
    except gdb.error:
        raise ExcoError("exco__executors not found: is libexco loaded, "
                        "and built with -g?")
    ex_type, task_type = _types()
    for ex in _list(head, ex_type, "reg_link"):
        yield ex, list(_list(ex["tasks"], task_type, "ex_link"))


def _state(t):
    """The task's state, as exco_task_get_info() computes it."""
    s = int(t["state"])
    f = int(t["flags"])
    polls = int(t["polls"])
    if s & _DONE:
        return "finished"
    if f & _CANCEL:
        return "cancelling"
    if s & _RUNNING and not int(t["kept"]):
        return "running"
    if s & _RUNNING:
        return "ready"  # a yield the executor's queue kept (src/resume.h)
    if s & _NOTIFIED:
        return "spawned" if polls == 0 else "ready"
    return "pending"


def _driver_name(ex):
    ops = ex["ops"]
    if int(ops) == 0:
        return "?"
    return _str(ops["name"]) or "?"


class ExcoPrefix(gdb.Command):
    """Commands for exco's coroutines: "exco tasks", "exco bt TASK"."""

    def __init__(self):
        super(ExcoPrefix, self).__init__("exco", gdb.COMMAND_STACK,
                                         gdb.COMPLETE_NONE, True)


class ExcoTasks(gdb.Command):
    """List the live tasks of every exco executor.

One line per task: its address, its name, its state (spawned, ready,
running, pending, cancelling, finished: as exco_task_get_info() says),
what a suspended task waits on and where (EXCO_SITE(),
-DEXCO_TRACE_AWAITS), and how often it was polled."""

    def __init__(self):
        super(ExcoTasks, self).__init__("exco tasks", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        try:
            for ex, tasks in _executors():
                gdb.write("exco executor 0x%x (%s): %d tasks\n" %
                          (int(ex.address), _driver_name(ex), len(tasks)))
                for t in tasks:
                    gdb.write(_task_line(t) + "\n")
        except ExcoError as e:
            raise gdb.GdbError("exco tasks: %s" % e)


def _task_line(t):
    state = _state(t)
    name = _str(t["name"])
    line = "  0x%x  %s  %s" % (int(t.address),
                               '"%s"' % name if name else "(unnamed)",
                               state)
    if state not in ("running", "finished"):
        kind = _str(t["wait_kind"])
        site = _str(t["site_file"])
        if kind is not None or site is not None:
            line += "  waiting on %s" % (kind or "?")
            if site is not None:
                line += " at %s:%d" % (site, int(t["site_line"]))
    line += "  polls %d" % int(t["polls"])
    return line


def _find_task(spec):
    """The task named @spec, or at the address @spec evaluates to."""
    all_tasks = [t for _, tasks in _executors() for t in tasks]
    named = [t for t in all_tasks if _str(t["name"]) == spec]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise ExcoError("%d tasks are named \"%s\": give an address (%s)" %
                        (len(named), spec,
                         ", ".join("0x%x" % int(t.address) for t in named)))
    try:
        addr = int(gdb.parse_and_eval(spec))
    except gdb.error:
        raise ExcoError("no task named \"%s\" (see \"exco tasks\")" % spec)
    for t in all_tasks:
        if int(t.address) == addr:
            return t
    raise ExcoError("0x%x is not a live task of any executor "
                    "(see \"exco tasks\")" % addr)


def _read_u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return struct.unpack("<Q", bytes(mem))[0]


def _saved_regs(t):
    """The registers to give the thread so that it looks like @t suspended.

    A dict of register name to value, from the task's saved context; its
    layout depends on the context backend, recognised by the fields of
    exco__ctx (src/context.h)."""
    ctx = t["ctx"]
    fields = [f.name for f in ctx.type.strip_typedefs().fields()]
    if "sp" in fields:
        # The assembly switch (src/context-x86_64.S): the suspended
        # context's stack holds, from its saved stack pointer up, the
        # floating-point control words (16 bytes), r12, r13, r14, r15,
        # rbx, rbp and the address it resumes at.
        sp = int(ctx["sp"])
        regs = {"rsp": sp + 72, "rip": _read_u64(sp + 64)}
        for i, r in enumerate(("r12", "r13", "r14", "r15", "rbx", "rbp")):
            regs[r] = _read_u64(sp + 16 + 8 * i)
        return regs
    if "jb" in fields:
        # The ucontext backend (src/context-ucontext.c): gcc's
        # __builtin_setjmp buffer in exco__ctx_switch holds the frame
        # pointer, the resume address and the stack pointer.  The other
        # callee-saved registers are in exco__ctx_switch's frame, where
        # gdb's unwinder finds them from the frame pointer.
        jb = ctx["jb"]
        return {"rbp": int(jb[0]), "rip": int(jb[1]), "rsp": int(jb[2])}
    if "uc" in fields:
        # The swapcontext backend (src/context-swapcontext.c): glibc's
        # ucontext_t, gregs indexed by <sys/ucontext.h>'s REG_* on x86-64.
        g = ctx["uc"]["uc_mcontext"]["gregs"]
        index = {"r12": 4, "r13": 5, "r14": 6, "r15": 7, "rbp": 10,
                 "rbx": 11, "rsp": 15, "rip": 16}
        return dict((r, int(g[i]) & 0xffffffffffffffff)
                    for r, i in index.items())
    raise ExcoError("unknown exco__ctx layout (fields %s)" % fields)


def _is_core():
    """Whether the selected inferior is a core file (no registers to set)."""
    conn = getattr(gdb.selected_inferior(), "connection", None)
    return conn is not None and conn.type == "core"


def _check_stopped_thread():
    inf = gdb.selected_inferior()
    if inf.pid == 0 and not _is_core():
        raise ExcoError("no process: run the program (or attach) first")
    if gdb.selected_thread() is None:
        raise ExcoError("no thread selected")
    if gdb.selected_thread().is_running():
        raise ExcoError("the selected thread is running: stop it first")


class ExcoBt(gdb.Command):
    """Backtrace of a suspended exco task: exco bt TASK [BT-ARGS].

TASK is a task's name or an expression for its address (see "exco
tasks").  BT-ARGS are passed to "bt" (for example "full" or a frame
count).  Only for suspended tasks (pending, ready or cancelling after a
poll).  In a live process the selected thread's registers are pointed at
the task's saved context for the backtrace and restored afterwards.  In
a core file, whose registers can't be changed, an unwinder makes the
task's frames the callers of the thread's innermost frame, which is left
out: the task's frames are numbered from #1 there."""

    def __init__(self):
        super(ExcoBt, self).__init__("exco bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: exco bt TASK [BT-ARGS]")
        try:
            self._bt(argv[0], " ".join(argv[1:]))
        except ExcoError as e:
            raise gdb.GdbError("exco bt: %s" % e)

    def _bt(self, spec, bt_args):
        _check_stopped_thread()
        arch = gdb.selected_inferior().architecture().name()
        if arch != "i386:x86-64":
            raise ExcoError("only x86-64 is supported, not %s" % arch)
        t = _find_task(spec)
        state = _state(t)
        s = int(t["state"])
        name = _str(t["name"]) or "(unnamed)"
        if s & _RUNNING and not int(t["kept"]):
            raise ExcoError("task \"%s\" is running: its registers are live "
                            "on some thread (try \"thread apply all bt\")" %
                            name)
        if s & _DONE:
            raise ExcoError("task \"%s\" has finished: it has no stack to "
                            "show" % name)
        if not int(t["started"]):
            raise ExcoError("task \"%s\" has not started (%s): it has no "
                            "frames yet" % (name, state))
        regs = _saved_regs(t)
        cmd = "bt %s" % bt_args if bt_args else "bt"
        if _is_core():
            gdb.write("exco task 0x%x \"%s\" (%s), from a core file:\n" %
                      (int(t.address), name, state))
            _bt_unwound(regs, cmd)
        else:
            gdb.write("exco task 0x%x \"%s\" (%s):\n" %
                      (int(t.address), name, state))
            _bt_live(regs, cmd)


def _bt_live(regs, cmd):
    """Runs @cmd with the selected thread's registers set to @regs."""
    # Registers are written to the innermost frame (writing them with an
    # outer frame selected would write its saved slots in memory).
    level = 0
    f = gdb.selected_frame()
    while f.newer() is not None:
        f = f.newer()
        level += 1
    newest = gdb.newest_frame()
    newest.select()
    saved = dict((r, int(newest.read_register(r)) & 0xffffffffffffffff)
                 for r in _X86_64_REGS)
    try:
        _set_regs(regs)
        gdb.execute(cmd)
    finally:
        _set_regs(saved)
        gdb.execute("frame %d" % level, to_string=True)


def _set_regs(regs):
    # The stack pointer and program counter last: they change which frame
    # gdb thinks is the innermost one.
    order = [r for r in _X86_64_REGS if r in regs and r not in ("rip", "rsp")]
    for r in order + ["rsp", "rip"]:
        if r in regs:
            gdb.execute("set $%s = 0x%x" % (r, regs[r]), to_string=True)


class _FrameId(object):
    """A frame's identity for gdb's unwinder interface."""

    def __init__(self, sp, pc):
        self.sp = gdb.Value(sp)
        self.pc = gdb.Value(pc)


class _TaskUnwinder(object):
    """While @regs is set: the innermost frame's caller has those registers.

    A gdb.unwinder.Unwinder in all but its base class, which is imported
    only when a core file needs it."""

    def __init__(self):
        self.name = "exco-task"
        self.enabled = True
        self.regs = None

    def __call__(self, pending):
        if self.regs is None or pending.level() != 0:
            return None
        pc = int(pending.read_register("rip"))
        # The innermost frame's identity must look inner to its new
        # caller's, or gdb stops there ("previous frame inner to this
        # frame"): the task's stack pointer, less a little, is.
        info = pending.create_unwind_info(_FrameId(self.regs["rsp"] - 16, pc))
        for r, v in self.regs.items():
            t = pending.read_register(r).type
            info.add_saved_register(r, gdb.Value(v).cast(t))
        return info


class _SkipInnermost(object):
    """A frame filter that leaves out the innermost frame while active."""

    def __init__(self):
        self.name = "exco-task"
        self.priority = 100
        self.enabled = True
        self.active = False

    def filter(self, frames):
        if self.active:
            next(frames, None)
        return frames


_unwinder = None
_skip = None


def _bt_unwound(regs, cmd):
    """Runs @cmd with the innermost frame's callers taken from @regs."""
    global _unwinder, _skip
    if _unwinder is None:
        try:
            import gdb.unwinder as gdb_unwinder
        except ImportError:
            raise ExcoError("this gdb has no Python unwinders: a core file's "
                            "tasks can't be shown; debug a live process")
        base = gdb_unwinder.Unwinder
        cls = type("ExcoTaskUnwinder", (_TaskUnwinder, base), {})
        unwinder = cls.__new__(cls)
        base.__init__(unwinder, "exco-task")
        _TaskUnwinder.__init__(unwinder)
        gdb_unwinder.register_unwinder(None, unwinder, replace=True)
        _skip = _SkipInnermost()
        gdb.frame_filters[_skip.name] = _skip
        _unwinder = unwinder
    try:
        _unwinder.regs = regs
        _skip.active = True
        gdb.invalidate_cached_frames()
        gdb.execute(cmd)
    finally:
        _unwinder.regs = None
        _skip.active = False
        gdb.invalidate_cached_frames()


ExcoPrefix()
ExcoTasks()
ExcoBt()
