/*
 * chan.pml -- a Promela model of the channel and select handoff of
 * src/chan.c, checked exhaustively with spin (check.sh; README.md).
 *
 * Two rendezvous channels, four parties and an optional closer:
 *   P0  sends item 1 on channel 0;
 *   P1  selects: send item 2 on channel 1 or on channel 0;
 *   P2  selects twice: receive from channel 0 or channel 1;
 *   P3  receives from channel 1;
 *   closer (or not) closes channel 0 at any moment.
 * Each party decides up front whether it may give up (a cancellation or
 * a deadline), and then may do so at any moment while it waits.
 *
 * One Promela statement is one C operation under the model's SC reading
 * (the parker's state word is one atomic location; everything else the
 * protocol touches is under a channel's spin lock, which the model takes
 * and releases explicitly).  The waiting lists are Promela channels of
 * (parker, clause) pairs; linked[] is ghost bookkeeping for the checks.
 *
 * Properties (assertions):
 *   - exactly once: every item whose send reported success was received
 *     by exactly one receive that reported success, and no receive
 *     reported an item that no send delivered (checked when quiescent);
 *   - no lost match: when quiescent, no send clause and receive clause of
 *     one channel are both linked with their parkers still WAITING, and
 *     no clause waits on a closed channel;
 *   - frames: nobody writes a parker, or wakes its task, after the
 *     waiter has left (its frame is gone).
 *
 * Deliberate bugs (spin -DNAME), each caught (check.sh):
 *   MUT_CLAIM_NO_CAS    a counterpart claims with a load and a store
 *   MUT_CANCEL_NO_CAS   a waiter gives up with a plain store, even when
 *                       it was claimed, and reports failure
 *   MUT_LEAVE_NO_LOCK   a waiter leaves without taking the channel locks
 *   MUT_LINK_UNLOCKED   a select unlocks after its check and links its
 *                       clauses under separate locks
 *   MUT_CLOSE_NO_WAKE   close does not complete the waiting clauses
 */

/*
 * Reachability probes (-DPROBE=n; each must fail, showing the situation
 * occurs): 1: a give-up loses to a counterpart's claim (the operation
 * completed wins); 2: a counterpart skips a clause whose waiter gave up
 * or was completed on its other channel; 3: a close completes a waiting
 * clause; 4: a waiting select is completed through its second clause.
 */
#ifndef PROBE
#define PROBE 0
#endif
#define REACH(n) assert(PROBE != n)

#define NCH 2
#define NP 4
#define NONE 255

#define WAITING 0
#define CLAIMED 1
#define DONE 2
#define CANCELLED 3

#define SEND 1
#define RECV 2

/* try results */
#define WOULD 0
#define OK 1
#define EPIPE 2

byte lock[NCH];
bool closed[NCH];
chan sendq[NCH] = [8] of { byte, byte };
chan recvq[NCH] = [8] of { byte, byte };

byte pstate[NP];
byte pwhich[NP];
byte pres[NP];
byte slot[NP];      /* a receiver's destination */
byte item[NP];      /* a sender's element */
bool alive[NP];     /* the waiter's frame exists (it is waiting) */
bool linked[NP * 2];

byte ncl[NP];
byte clch[NP * 2];
byte clop[NP * 2];
byte rounds[NP];
bool may_give_up[NP];

byte sent_ok[3];
byte recvd[3];

#define USES(me, c) (clch[(me) * 2] == (c) || \
                     (ncl[me] > 1 && clch[(me) * 2 + 1] == (c)))

inline lock_mine(me) {
  c = 0;
  do
  :: c < NCH ->
     if
     :: USES(me, c) -> lock[c] == 0 -> lock[c] = 1
     :: else -> skip
     fi;
     c++
  :: else -> c = 0; break
  od
}

inline unlock_mine(me) {
  c = 0;
  do
  :: c < NCH ->
     if
     :: USES(me, c) -> lock[c] = 0
     :: else -> skip
     fi;
     c++
  :: else -> c = 0; break
  od
}

/*
 * exco__chan_claim_first() on the list of the counterparts of clause i:
 * unlink waiting clauses until one is claimed (found), leaving it in
 * other/oc.  The claim itself is the parker's CAS; with MUT_CLAIM_NO_CAS
 * it is a load here and a store after the atomic block ends (claim_end).
 */
inline claim_first(q) {
  found = 0;
  do
  :: nempty(q) ->
     q?other,oc;
     linked[other * 2 + oc] = 0;
#ifdef MUT_CLAIM_NO_CAS
     found = (pstate[other] == WAITING);
#else
     if
     :: pstate[other] == WAITING -> pstate[other] = CLAIMED; found = 1
     :: else -> found = 0
     fi;
#endif
     if
     :: found -> break
     :: else -> REACH(2); other = 0; oc = 0
     fi
  :: empty(q) -> break
  od
}

inline claim_end() {
#ifdef MUT_CLAIM_NO_CAS
  if
  :: found -> pstate[other] = CLAIMED
  :: else -> skip
  fi
#else
  skip
#endif
}

/* exco__chan_finish(): under the lock; the wake is the last use. */
inline finish(who, cl, res) {
  assert(alive[who]);
  pwhich[who] = cl;
  pres[who] = res;
  pstate[who] = DONE
}

inline link_clause(me, i) {
  c = clch[me * 2 + i];
  if
  :: clop[me * 2 + i] == SEND -> sendq[c]!me,i
  :: else -> recvq[c]!me,i
  fi;
  linked[me * 2 + i] = 1;
  c = 0
}

inline unlink_clause(me, i) {
  c = clch[me * 2 + i];
  if
  :: linked[me * 2 + i] ->
     if
     :: clop[me * 2 + i] == SEND -> sendq[c]??eval(me),eval(i)
     :: else -> recvq[c]??eval(me),eval(i)
     fi;
     linked[me * 2 + i] = 0
  :: else -> skip
  fi;
  c = 0
}

inline account(me, i, res) {
  if
  :: clop[me * 2 + i] == SEND ->
     if
     :: res == OK -> sent_ok[item[me]]++
     :: else -> skip
     fi
  :: else ->
     if
     :: res == OK -> assert(slot[me] != 0); recvd[slot[me]]++
     :: else -> skip
     fi
  fi
}

/*
 * One party.  Everything it does while it holds its channels' locks is
 * invisible to the others except through the parker words, so each
 * critical section is one atomic block, split only between a claim and
 * the finish that follows it (where a waiter's give-up can interleave).
 */
proctype party(byte me) {
  byte c, i, k, r, other, oc, start, round;
  bool found, gave_up;

  round = 0;
  do
  :: round < rounds[me] ->
     /* Lock, and try each clause from a random one until a counterpart
      * is claimed or a clause is done by itself (EPIPE). */
     atomic {
       pstate[me] = WAITING;
       slot[me] = 0;
       lock_mine(me);
       if
       :: start = 0
       :: ncl[me] > 1 -> start = 1
       fi;
       k = 0;
       r = WOULD;
       do
       :: k < ncl[me] && r == WOULD ->
          i = (start + k) % ncl[me];
          c = clch[me * 2 + i];
          if
          :: clop[me * 2 + i] == SEND ->
             if
             :: closed[c] -> r = EPIPE
             :: else ->
                claim_first(recvq[c]);
                if
                :: found -> r = OK
                :: else -> skip
                fi
             fi
          :: else ->
             claim_first(sendq[c]);
             if
             :: found -> r = OK
             :: !found && closed[c] -> r = EPIPE
             :: else -> skip
             fi
          fi;
          k++
       :: else -> break
       od;
       k = 0;
       start = 0
     };
     claim_end();
     if
     :: r != WOULD ->
        atomic {
          if
          :: r == OK && clop[me * 2 + i] == SEND ->
             slot[other] = item[me];
             finish(other, oc, OK)
          :: r == OK && clop[me * 2 + i] == RECV ->
             slot[me] = item[other];
             finish(other, oc, OK)
          :: else -> skip
          fi;
          unlock_mine(me);
          account(me, i, r);
          other = 0;
          oc = 0;
          found = 0
        }
     :: else ->
#ifdef MUT_LINK_UNLOCKED
        atomic { unlock_mine(me); alive[me] = 1 };
        i = 0;
        do
        :: i < ncl[me] ->
           atomic {
             c = clch[me * 2 + i];
             lock[c] == 0 -> lock[c] = 1;
             link_clause(me, i);
             lock[clch[me * 2 + i]] = 0;
             i++
           }
        :: else -> break
        od;
#else
        atomic {
          alive[me] = 1;
          i = 0;
          do
          :: i < ncl[me] -> link_clause(me, i); i++
          :: else -> break
          od;
          unlock_mine(me)
        };
#endif
        /* Wait: for DONE, or give up (cancellation, deadline). */
        gave_up = 0;
        /* A party that can't give up may wait for ever (a valid end
         * state); the monitor checks that it waits for a reason. */
end_wait:
        if
        :: pstate[me] == DONE -> skip
        :: may_give_up[me] ->
#ifdef MUT_CANCEL_NO_CAS
           atomic { pstate[me] = CANCELLED; gave_up = 1 }
#else
           atomic {
             if
             :: pstate[me] == WAITING -> pstate[me] = CANCELLED; gave_up = 1
             :: else -> REACH(1)
             fi
           }
#endif
        fi;
        /* Leave: unlink under every lock. */
        atomic {
#ifndef MUT_LEAVE_NO_LOCK
          lock_mine(me);
#endif
          i = 0;
          do
          :: i < ncl[me] -> unlink_clause(me, i); i++
          :: else -> break
          od;
#ifndef MUT_LEAVE_NO_LOCK
          unlock_mine(me);
#endif
          alive[me] = 0;
          if
          :: gave_up -> skip
          :: else ->
             assert(pstate[me] == DONE);
             if
             :: ncl[me] == 2 && pwhich[me] == 1 -> REACH(4)
             :: else -> skip
             fi;
             account(me, pwhich[me], pres[me])
          fi;
          gave_up = 0
        }
     fi;
     atomic { round++; i = 0; r = 0 }
  :: else -> break
  od
}

/* exco_chan_close() of channel 0. */
proctype closer() {
  byte other, oc;
  bool found;

  atomic {
    lock[0] == 0 -> lock[0] = 1;
    closed[0] = 1;
#ifndef MUT_CLOSE_NO_WAKE
    do
    :: claim_first(sendq[0]);
       if
       :: found -> REACH(3); finish(other, oc, EPIPE)
       :: else -> break
       fi
    od;
    do
    :: claim_first(recvq[0]);
       if
       :: found -> finish(other, oc, EPIPE)
       :: else -> break
       fi
    od;
#endif
    lock[0] = 0;
    other = 0;
    oc = 0;
    found = 0
  }
}

proctype monitor() {
  byte p, q, i, j;

  timeout ->
  assert(sent_ok[1] == recvd[1] && sent_ok[2] == recvd[2]);
  assert(sent_ok[1] <= 1 && sent_ok[2] <= 1);
  p = 0;
  do
  :: p < NP * 2 ->
     if
     :: linked[p] && pstate[p / 2] == WAITING ->
        assert(!closed[clch[p]]);
        q = 0;
        do
        :: q < NP * 2 ->
           assert(!(linked[q] && pstate[q / 2] == WAITING &&
                    clch[q] == clch[p] && clop[q] != clop[p]));
           q++
        :: else -> break
        od
     :: else -> skip
     fi;
     p++
  :: else -> break
  od
}

init {
  atomic {
    /* P0: send item 1 on channel 0. */
    ncl[0] = 1; clch[0] = 0; clop[0] = SEND; item[0] = 1; rounds[0] = 1;
    /* P1: select send item 2 on channel 1 or 0. */
    ncl[1] = 2; clch[2] = 1; clop[2] = SEND; clch[3] = 0; clop[3] = SEND;
    item[1] = 2; rounds[1] = 1;
    /* P2: select receive from channel 0 or 1, twice. */
    ncl[2] = 2; clch[4] = 0; clop[4] = RECV; clch[5] = 1; clop[5] = RECV;
    rounds[2] = 2;
    /* P3: receive from channel 1. */
    ncl[3] = 1; clch[6] = 1; clop[6] = RECV; rounds[3] = 1;
  }
  if :: may_give_up[0] = 1 :: skip fi;
  if :: may_give_up[1] = 1 :: skip fi;
  if :: may_give_up[2] = 1 :: skip fi;
  if :: may_give_up[3] = 1 :: skip fi;
  atomic {
    run monitor();
    run party(0);
    run party(1);
    run party(2);
    run party(3);
    if
    :: run closer()
    :: skip
    fi
  }
}
