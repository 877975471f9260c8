/*
 * wake.pml -- a Promela model of exco's task wake/poll/drop protocol
 * (src/task.c), checked exhaustively with spin.  See README.md.
 *
 * One Promela statement is one atomic C operation: a load, a CAS, a
 * fetch_or/fetch_and/fetch_add, a plain store.  Statements inside an
 * atomic { } that are not C operations are ghost bookkeeping (counters the
 * assertions use) and never change what the C code would do.
 *
 * Memory model: spin interleaves statements, i.e. the model is
 * sequentially consistent.  All the protocol's read-modify-writes are on
 * one location (t->state), whose modification order every C11 thread
 * agrees on, so SC is exact for the state word itself.  Where the C code
 * needs more than that it is noted at the statement:
 *   [sc]     the C code uses seq_cst for a cross-location (Dekker-like)
 *            argument that the model's SC interleaving assumes;
 *   [rel]    release/acquire pairs that the model takes as SC;
 *   [C11]    a place where the model's SC reading is stronger than what
 *            the C code asks of C11 (see README.md, "Findings").
 *
 * Build-time switches (spin -DNAME ...):
 *   WORKERS=n         host threads popping the queue (1 or 2; default 1)
 *   NWAKERS=n         spurious waker threads (default 2)
 *   STEPS=n           yields/awaits the coroutine may do (default 2)
 *   NO_CANCELLER      leave out the exco_task_cancel() thread
 *   SPURIOUS          let the weak CASes fail spuriously
 *   REFUSE            a poll of a started task may come from a thread
 *                     other than its home (EXCO_EXDEV, task.c's
 *                     exco__task_poll_refuse), at most MAXREFUSE times
 * Deliberate bugs, each of which spin must catch (check.sh runs them):
 *   MUT_TAIL_LOADSTORE    poll tail clears RUNNING with load + plain store
 *   MUT_NO_INFLIGHT       task_wake does not count itself in wakes_inflight
 *   MUT_WAKE_BEFORE_CLEAR a yield's poll tail calls task_wake before it
 *                         stores NOTIFIED over RUNNING (harmless with one
 *                         host thread; caught with WORKERS=2)
 *   MUT_RUNNING_NO_MARK   a wake of a running task does not set NOTIFIED
 *   MUT_YIELD_NO_CANCEL   exco_yield suspends without checking CANCEL
 *   MUT_DROP_NO_CANCEL    exco_drop resumes without setting CANCEL (its
 *                         resume loop spins: caught by the cycle check)
 *   MUT_REFUSE_NO_REWAKE  a refused poll clears RUNNING but does not hand
 *                         the owed poll back (with REFUSE)
 *   MUT_REFUSE_DROP_MARK  a refused poll hands the poll back only when a
 *                         wake came meanwhile, forgetting the one it
 *                         consumed (with REFUSE)
 */

#ifndef WORKERS
#define WORKERS 1
#endif
/*
 * Reachability probes: with -DPROBE=n, probe n fails when reached, which
 * shows the model does reach that situation (check.sh expects each to
 * fail).  1: a drop resumes a started, pending coroutine to cancel it;
 * 2: a wake marks a running task (RUNNING path CAS succeeds); 3: a yield's
 * tail finds a wake's NOTIFIED already set; 4: quiescent, parked on an
 * unresolved leaf; 5: a poll (not a drop) resumes a cancelled coroutine;
 * 6: a drop has to wait for a wake inside task_wake; 7: the fetch_and tail
 * finds NOTIFIED and reschedules; 8: (REFUSE) a refused poll finds a
 * wake that came while it held the claim.
 */
#ifndef PROBE
#define PROBE 0
#endif
#define REACH(n) assert(PROBE != n)
#ifndef NWAKERS
#define NWAKERS 2
#endif
#ifndef STEPS
#define STEPS 2
#endif

/* exco-internal.h: state bits and flags. */
#define RUNNING  1
#define NOTIFIED 2
#define DONE     4
#define DROPPED  8
#define CANCEL   1

/* exco_poll() results the model distinguishes. */
#define R_DONE     0
#define R_PENDING  1
#define R_EBUSY    2
#define R_EALREADY 3
#define R_EXDEV    4

#ifndef MAXREFUSE
#define MAXREFUSE 2
#endif
byte refusals = 0; /* refused polls so far (REFUSE) */

/* Where the coroutine is (it is suspended at CO_AWAIT or CO_YIELD). */
#define CO_NEXT  0 /* between statements of its function (or not started) */
#define CO_AWAIT 1 /* suspended in exco_await()'s loop */
#define CO_YIELD 2 /* suspended in exco_yield() */
#define CO_RET   3 /* its function returned */

/* struct exco_task */
byte state = NOTIFIED; /* exco_spawn: the first poll is owed */
byte flags = 0;
byte inflight = 0;     /* wakes_inflight */
bool started;          /* t->started */
bool finished;         /* t->finished */
bool yielded;          /* t->yielded */

/* The coroutine's own control state (its stack, in C). */
byte co_pc = CO_NEXT;
byte co_steps = STEPS;

/* The leaf future: a promise (promise.c), its mutex modelled by atomic. */
bool leaf_ready;  /* p->resolved */
bool leaf_waiter; /* p->waiter != NULL (the task's cloned waker) */

/* The host: a queue of schedules for this one task. */
byte tokens = 1;  /* queued; exco_spawn's task_run pushed the first */
byte held = 0;    /* popped by a worker whose poll has not claimed yet */
bool zero_seen;   /* a poll returned 0 (the host will now drop) */
bool host_freed;  /* exco_drop() returned: the host freed its handle */

/* Ghosts for the assertions. */
byte in_co = 0;          /* threads running the coroutine right now */
byte in_poll = 0;        /* polls between their claim and their tail */
bool resumed_cancelled;  /* this resume began with CANCEL already set */
byte cancel_resumes = 0; /* resumes that began with CANCEL set */

/*
 * The host's task_wake / task_run: push a schedule.  Properties (2) and
 * (3): never a second schedule while one is outstanding (queued, or popped
 * and not yet claimed by its poll); never after exco_drop() returned;
 * never after a poll returned 0 (local.c frees the node right after the
 * drop that follows, so a queued node would dangle).
 */
inline host_push() {
  atomic {
    assert(!host_freed);
    assert(!zero_seen);
    assert(tokens + held == 0);
    tokens++
  }
}

/* A CAS on t->state: one atomic step.  @exp is updated on failure. */
inline cas_strong(exp, des, ok) {
  atomic {
    if
    :: state == exp -> state = des; ok = true
    :: else -> exp = state; ok = false
    fi
  }
}

inline cas_weak(exp, des, ok) {
  atomic {
    if
    :: state == exp -> state = des; ok = true
    :: else -> exp = state; ok = false
#ifdef SPURIOUS
    :: state == exp -> ok = false
#endif
    fi
  }
}

/* exco__task_wake() (task.c:320). */
inline task_wake(s, ok) {
  s = state;                                    /* load, acquire */
  do
  :: (s & (DONE | DROPPED | NOTIFIED)) != 0 -> break   /* coalesce */
  :: (s & (DONE | DROPPED | NOTIFIED)) == 0 && (s & RUNNING) != 0 ->
#ifdef MUT_RUNNING_NO_MARK
     break;               /* BUG: "the poll will see it" without a mark */
#endif
     cas_weak(s, s | NOTIFIED, ok);            /* acq_rel */
     if
     :: ok -> REACH(2); break
     :: else -> skip
     fi
  :: (s & (DONE | DROPPED | NOTIFIED | RUNNING)) == 0 ->
#ifndef MUT_NO_INFLIGHT
     /* [sc] fetch_add seq_cst, then CAS seq_cst: drop's CAS and this CAS
      * are ordered on the state word; whichever is later sees the other
      * (release/acquire through that RMW chain suffices, see README). */
     inflight++;
#endif
     cas_strong(s, s | NOTIFIED, ok);          /* seq_cst */
     if
     :: ok ->
        host_push();                            /* t->ex->task_wake(ext) */
#ifndef MUT_NO_INFLIGHT
        inflight--;                             /* fetch_sub, release */
#endif
        break
     :: else ->
#ifndef MUT_NO_INFLIGHT
        inflight--;
#endif
        skip
     fi
  od
}

/* The coroutine switches out (exco__suspend).  Property (5): a resume
 * that began with CANCEL set never suspends; the function ends in it. */
inline suspend() {
  atomic { assert(!resumed_cancelled); in_co-- }
}

/* promise.c's exco__promise_poll, under the promise's mutex: check, and
 * register the waker if not ready. */
inline poll_leaf(r) {
  atomic {
    r = leaf_ready;
    if
    :: !r -> leaf_waiter = true
    :: else -> skip
    fi
  }
}

/*
 * The coroutine's function, run on the poller's (or dropper's) thread from
 * where it last suspended until it suspends again or returns.  It chooses
 * freely among: return, exco_yield(), exco_await() of the leaf, with at
 * most STEPS yields/awaits, and it may ignore EXCO_ECANCELED and carry on.
 */
inline coroutine(r) {
  do
  :: co_pc == CO_AWAIT ->
     /* exco_await (task.c:553): back from exco__suspend in the loop. */
     if
     :: (flags & CANCEL) != 0 ->               /* load, acquire [C11] */
        leaf_waiter = false;                   /* cancel cb, under lock */
        co_pc = CO_NEXT                        /* returns EXCO_ECANCELED */
     :: else ->
        poll_leaf(r);
        if
        :: r -> co_pc = CO_NEXT                /* returns 0 */
        :: else -> suspend(); break
        fi
     fi
  :: co_pc == CO_YIELD ->
     /* exco_yield: returns exco__cancelled(t), a load whose value the
      * function may use or ignore; both continue at CO_NEXT. */
     co_pc = CO_NEXT
  :: co_pc == CO_NEXT ->
     if
     :: true ->                                /* return from fn */
        atomic { finished = true; co_pc = CO_RET; in_co-- };
        break
     :: co_steps > 0 ->                        /* exco_yield() */
        co_steps--;
#ifdef MUT_YIELD_NO_CANCEL
        yielded = true; co_pc = CO_YIELD; suspend(); break
#else
        if
        :: (flags & CANCEL) != 0 -> skip       /* EXCO_ECANCELED at once */
        :: else ->
           yielded = true;                     /* plain, poller's side */
           co_pc = CO_YIELD;
           suspend(); break
        fi
#endif
     :: co_steps > 0 ->                        /* exco_await(leaf) */
        co_steps--;
        if
        :: (flags & CANCEL) != 0 -> skip       /* EXCO_ECANCELED at once */
        :: else ->
           poll_leaf(r);
           if
           :: r -> skip
           :: else -> co_pc = CO_AWAIT; suspend(); break
           fi
        fi
     fi
  od
}

/* exco__resume (task.c:377).  Property (4): the coroutine never runs on
 * two threads at once. */
inline resume(r, by_drop) {
  atomic {
    in_co++;
    assert(in_co == 1);
    resumed_cancelled = ((flags & CANCEL) != 0);
    if
    :: resumed_cancelled ->
       cancel_resumes++; assert(cancel_resumes <= 1);
       if
       :: !by_drop -> REACH(5)
       :: else -> skip
       fi
    :: else -> skip
    fi
  }
  started = true;
  coroutine(r)
}

/* exco__finish (task.c:414), without joiners (their protocol is separate
 * and seq_cst) and without the stack release. */
inline finish() {
  state = state | DONE                         /* fetch_or, seq_cst */
}

/* exco_poll (task.c:444).  @ret gets the result. */
inline exco_poll(s, ok, r, ret) {
  s = state;                                   /* load, acquire */
  do
  :: (s & DROPPED) != 0 ->
     atomic { ret = R_EALREADY; held-- }; break
  :: (s & DROPPED) == 0 && (s & DONE) != 0 ->
     atomic { ret = R_DONE; held-- }; break
  :: (s & (DROPPED | DONE)) == 0 && (s & RUNNING) != 0 ->
     atomic { ret = R_EBUSY; held-- }; break   /* the schedule is lost */
  :: (s & (DROPPED | DONE | RUNNING)) == 0 ->
     /* CAS weak, acq_rel: clear NOTIFIED, set RUNNING. */
     atomic {
       if
       :: state == s ->
          state = (s & ~NOTIFIED) | RUNNING; ok = true;
          held--; in_poll++; assert(in_poll == 1)
       :: else -> s = state; ok = false
#ifdef SPURIOUS
       :: state == s -> ok = false
#endif
       fi
     }
     if
     :: ok -> ret = R_PENDING; break
     :: else -> skip
     fi
  od;
#ifdef REFUSE
  /* The home check, after the claim: a started task polled on another
   * thread is refused (exco__task_poll_refuse).  @s is the state the CAS
   * replaced. */
  if
  :: ret == R_PENDING && started && refusals < MAXREFUSE ->
     refusals++;
     atomic { r = ((state & NOTIFIED) != 0); state = state & ~RUNNING;
              in_poll-- };                     /* fetch_and, seq_cst */
     if
     :: r -> REACH(8)        /* a wake came while the claim was held */
     :: else -> skip
     fi;
#ifndef MUT_REFUSE_NO_REWAKE
     if
     :: r -> host_push()                       /* t->ex->task_wake(ext) */
#ifndef MUT_REFUSE_DROP_MARK
     :: !r && (s & NOTIFIED) != 0 ->
        task_wake(s, ok)                       /* exco__task_wake(t) */
#endif
     :: else -> skip
     fi;
#endif
     ret = R_EXDEV
  :: else -> skip
  fi;
#endif
  if
  :: ret == R_PENDING ->
     resume(r, false);
     if
     :: finished ->
        finish();
        atomic { state = state & ~RUNNING; in_poll-- };  /* fetch_and */
        ret = R_DONE
     :: else ->
        /* The tail: the yielded plain store, or the fetch_and. */
        if
        :: yielded ->
           yielded = false;
#ifdef MUT_WAKE_BEFORE_CLEAR
           host_push();                        /* BUG: wake first */
           atomic { state = NOTIFIED; in_poll-- }
#else
           /* [rel] plain release store: the only concurrent writers are
            * wakes adding NOTIFIED (task.c:482).  [C11] it ends the
            * release sequence of a wake's CAS, see README. */
           atomic {
             if
             :: state == (RUNNING | NOTIFIED) -> REACH(3)
             :: else -> skip
             fi;
             state = NOTIFIED; in_poll--
           };
           host_push()                         /* wake(ext) */
#endif
        :: else ->
#if defined(MUT_TAIL_LOADSTORE)
           s = state;                          /* BUG: not one RMW */
           atomic { state = s & ~RUNNING; in_poll-- };
           if
           :: (s & NOTIFIED) != 0 -> host_push()
           :: else -> skip
           fi
#else
           atomic { s = state; state = s & ~RUNNING; in_poll-- };
           if                                  /* fetch_and, acq_rel */
           :: (s & NOTIFIED) != 0 -> REACH(7); host_push()
           :: else -> skip
           fi
#endif
        fi
     fi
  :: else -> skip
  fi
}

/* exco_drop (task.c:505), called by the host, never during its poll. */
inline exco_drop(s, ok, r) {
  s = state;                                   /* load, acquire */
  do
  :: (s & (DROPPED | RUNNING)) != 0 ->
     assert(false)     /* the host neither drops twice nor overlaps a poll */
  :: (s & (DROPPED | RUNNING)) == 0 ->
     cas_weak(s, s | DROPPED | RUNNING, ok);   /* seq_cst [sc] */
     if
     :: ok -> break
     :: else -> skip
     fi
  od;
#ifndef MUT_DROP_NO_CANCEL
  if
  :: (s & DONE) == 0 -> flags = flags | CANCEL /* fetch_or, acq_rel */
  :: else -> skip
  fi;
#endif
  /* Wait for the wakes inside task_wake (load, acquire, in a loop). */
  atomic {
    if
    :: inflight != 0 -> REACH(6)
    :: else -> skip
    fi
  };
  (inflight == 0);
  if
  :: (s & DONE) == 0 ->
     do
     :: started && !finished -> REACH(1); resume(r, true)
     :: else -> break
     od;
     finished = true;
     finish()
  :: else -> skip
  fi;
  /* Returned: the host frees its handle and forgets any queued entry. */
  atomic { host_freed = true; tokens = 0 }
}

/*
 * The host: WORKERS threads popping one shared queue.  Each pops a
 * schedule and polls; on 0 it drops.  A pending task may also be dropped:
 * with one worker at any point outside a poll (decided up front, so that
 * runs without a drop reach quiescence); with two workers only by the
 * worker holding the popped schedule (then no poll can be running or
 * start, which is what the contract asks of a multi-threaded host).
 */
active [WORKERS] proctype worker() {
  byte s, ret;
  bool ok, r, will_drop;

  if
  :: will_drop = true
  :: will_drop = false
  fi;
end_loop:
  do
  :: atomic { tokens > 0 && !host_freed -> tokens--; held++ };
     if
     :: true ->
        exco_poll(s, ok, r, ret);
        /* Property (2'): the host never sees EBUSY/EALREADY, either of
         * which would have eaten the schedule. */
        assert(ret == R_PENDING || ret == R_DONE || ret == R_EXDEV);
        if
        :: ret == R_DONE ->
           atomic { assert(tokens + held == 0); zero_seen = true };
           exco_drop(s, ok, r);
           break
        :: else -> skip
        fi
#if WORKERS > 1
     :: will_drop ->
        held--;
        exco_drop(s, ok, r);
        break
#endif
     fi
#if WORKERS == 1
  :: will_drop && !host_freed ->
     exco_drop(s, ok, r);
     break
#endif
  od
}

/* The leaf's resolver on another thread: exco_promise_resolve (promise.c),
 * or never. */
active proctype resolver() {
  byte s;
  bool ok, w;

  if
  :: atomic { leaf_ready = true; w = leaf_waiter; leaf_waiter = false };
     if
     :: w -> task_wake(s, ok)                  /* after the unlock */
     :: else -> skip
     fi
  :: skip
  fi
}

/* Cloned wakers woken from other threads at arbitrary times. */
active [NWAKERS] proctype waker() {
  byte s;
  bool ok;

  task_wake(s, ok)
}

#ifndef NO_CANCELLER
/* exco_task_cancel (task.c:658) from another thread, or never. */
active proctype canceller() {
  byte s;
  bool ok;

  if
  :: if
     :: (state & DONE) != 0 -> skip            /* EXCO_EALREADY */
     :: else ->
        flags = flags | CANCEL;                /* fetch_or, acq_rel [C11] */
        task_wake(s, ok)
     fi
  :: skip
  fi
}
#endif

/*
 * Quiescence: nothing else can move (spin's timeout).  Property (1), no
 * lost wakeup, and the end of property (5): either the task was dropped
 * (and then its function has returned), or it is parked on a leaf that
 * was never resolved, not cancelled, with no poll owed and none queued.
 * A task whose leaf is ready, that yielded, that was cancelled, or whose
 * state says NOTIFIED with nothing queued, was left behind.
 */
active proctype monitor() {
  atomic {
    timeout ->
    assert(inflight == 0 && in_co == 0 && in_poll == 0 && held == 0);
    if
    :: host_freed ->
       assert(finished && (state & DONE) != 0)
    :: else ->
       REACH(4);
       assert(co_pc == CO_AWAIT && !leaf_ready && leaf_waiter &&
              (flags & CANCEL) == 0 && state == 0 && tokens == 0)
    fi
  }
}
