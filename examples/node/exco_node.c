/*
 * exco_node.c -- a Node.js addon (Node-API) that runs exco coroutines on
 * Node's own libuv loop and hands their results to JavaScript as Promises.
 *
 *   const exco = require('./exco_node');   // see run-test.sh for loading
 *   await exco.sleep(20);                  // a coroutine sleeps 20 ms
 *   await exco.echo(port, 'hi');           // TCP round trip, top to bottom
 *   await exco.sumCallback(10, i => i);    // calls back into JS: 45
 *
 * Three things make this work, each a few lines below:
 *
 *   1. The loop.  napi_get_uv_event_loop() gives the environment's loop;
 *      exco_uv_executor_new() puts an executor on it.  One executor per
 *      environment (the main thread and each worker thread has its own),
 *      kept as the addon's instance data.  Node stays alive while a
 *      coroutine is live (the driver holds the loop) and exits by itself
 *      once every coroutine has finished.
 *   2. JavaScript runs on the loop thread's stack only.  V8 compares the
 *      stack pointer against the thread's stack, so napi_call_function()
 *      from a coroutine's own stack throws "RangeError: Maximum call stack
 *      size exceeded" (callDirect() below shows it).  Every call into JS
 *      therefore goes through exco_host_call(), which runs it on the
 *      loop's stack, inside a callback scope so that promise reactions
 *      and process.nextTick callbacks run when it closes.
 *   3. Shutdown.  An asynchronous cleanup hook closes the executor with
 *      exco_executor_close(); coroutines still live are cancelled and
 *      finish as the loop runs, and the close callback tells Node it may
 *      go on tearing the environment down.
 */
#define NAPI_VERSION 8
#define NODE_GYP_MODULE_NAME exco_node
#include <node_api.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <exco.h>
#include <exco/uv.h>

/* One per environment. */
typedef struct addon {
  napi_env env;
  exco_executor *ex;
  napi_async_cleanup_hook_handle cleanup;
  int closing; /* the environment is going away: no more JavaScript */
} addon;

/* One per coroutine started from JavaScript. */
typedef struct job {
  addon *a;
  napi_deferred deferred;
  napi_async_context actx;
  napi_ref fn; /* sumCallback()'s and callDirect()'s function, or NULL */
  /* The coroutine's inputs and result. */
  int64_t n;
  char *text;
  size_t text_len;
  int err;           /* an exco or libuv code; 0 on success */
  double number;     /* the result of sleep() and sumCallback() */
  char *reply;       /* the result of echo() and callDirect() */
  napi_value thrown; /* an exception from a JavaScript callback */
  napi_ref thrown_ref;
} job;

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok)                                                     \
      goto fail;                                                               \
  } while (0)

/* ---------------------------------------------------------------------- */
/* Running JavaScript from a coroutine                                     */
/* ---------------------------------------------------------------------- */

/*
 * JavaScript runs inside a handle scope and a callback scope: closing the
 * callback scope runs the microtasks (promise reactions) and nextTick
 * callbacks the call queued, as Node does after its own callbacks.  Both
 * functions run on the loop thread's stack (through exco_host_call()).
 */
typedef struct js_call {
  job *j;
  void (*fn)(job *j); /* the JavaScript part, with scopes open */
} js_call;

static void js_enter_and_run(void *arg) {
  js_call *c = arg;
  napi_env env = c->j->a->env;
  napi_handle_scope hs;
  napi_callback_scope cs;
  napi_value resource;

  if (c->j->a->closing || napi_open_handle_scope(env, &hs) != napi_ok)
    return;
  if (napi_create_object(env, &resource) == napi_ok &&
      napi_open_callback_scope(env, resource, c->j->actx, &cs) == napi_ok) {
    c->fn(c->j);
    napi_close_callback_scope(env, cs);
  }
  napi_close_handle_scope(env, hs);
}

/* Runs fn(j) with JavaScript scopes open, on the loop's stack. */
static void js_run(job *j, void (*fn)(job *j)) {
  js_call c = {j, fn};

  exco_host_call(js_enter_and_run, &c);
}

/* Settles the job's promise and frees the job. */
static void js_settle(job *j) {
  napi_env env = j->a->env;
  napi_value v;

  if (j->thrown_ref != NULL &&
      napi_get_reference_value(env, j->thrown_ref, &v) == napi_ok) {
    napi_reject_deferred(env, j->deferred, v);
  } else if (j->err != 0) {
    napi_value msg, code;

    napi_create_string_utf8(env, exco_strerror(j->err), NAPI_AUTO_LENGTH, &msg);
    napi_create_int32(env, j->err, &code);
    napi_create_error(env, NULL, msg, &v);
    napi_set_named_property(env, v, "excoCode", code);
    napi_reject_deferred(env, j->deferred, v);
  } else if (j->reply != NULL) {
    napi_create_string_utf8(env, j->reply, NAPI_AUTO_LENGTH, &v);
    napi_resolve_deferred(env, j->deferred, v);
  } else {
    napi_create_double(env, j->number, &v);
    napi_resolve_deferred(env, j->deferred, v);
  }
}

static void job_free(job *j) {
  napi_env env = j->a->env;

  /* During the environment's teardown the references and contexts go
   * with it; deleting them is still allowed. */
  if (j->fn != NULL)
    napi_delete_reference(env, j->fn);
  if (j->thrown_ref != NULL)
    napi_delete_reference(env, j->thrown_ref);
  napi_async_destroy(env, j->actx);
  free(j->text);
  free(j->reply);
  free(j);
}

/* Every coroutine ends here: settle on the loop's stack, then free. */
static void *job_end(job *j) {
  js_run(j, js_settle);
  job_free(j);
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* The coroutines                                                          */
/* ---------------------------------------------------------------------- */

static void *co_sleep(void *arg) {
  job *j = arg;
  int64_t t0 = exco_now();

  j->err = exco_sleep(j->n);
  j->number = (double)(exco_now() - t0);
  return job_end(j);
}

static void *co_echo(void *arg) {
  job *j = arg;
  struct sockaddr_in sa;
  exco_uv_tcp *tcp = NULL;
  size_t got = 0;
  ssize_t n;

  j->reply = calloc(1, j->text_len + 1);
  if (j->reply == NULL) {
    j->err = EXCO_ENOMEM;
    return job_end(j);
  }
  uv_ip4_addr("127.0.0.1", (int)j->n, &sa);
  j->err = exco_uv_tcp_connect_timeout((struct sockaddr *)&sa, &tcp, 5000);
  if (j->err == 0)
    j->err = exco_uv_tcp_write(tcp, j->text, j->text_len);
  while (j->err == 0 && got < j->text_len) {
    n = exco_uv_tcp_read_timeout(tcp, j->reply + got, j->text_len - got, 5000);
    if (n < 0)
      j->err = (int)n;
    else
      got += (size_t)n;
  }
  if (tcp != NULL)
    exco_uv_tcp_close(tcp);
  return job_end(j);
}

/* sumCallback(): calls the function with 0 .. n-1, sleeping a little now
 * and then so that the loop (and other coroutines) run in between. */
static void js_call_fn(job *j) {
  napi_env env = j->a->env;
  napi_value fn, recv, argv[1], ret, exc;
  double d;

  if (napi_get_reference_value(env, j->fn, &fn) != napi_ok ||
      napi_get_undefined(env, &recv) != napi_ok ||
      napi_create_int64(env, j->n, &argv[0]) != napi_ok) {
    j->err = EXCO_ENOMEM;
    return;
  }
  if (napi_call_function(env, recv, fn, 1, argv, &ret) != napi_ok) {
    /* The function threw: keep the exception for the rejection. */
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok)
      napi_create_reference(env, exc, 1, &j->thrown_ref);
    j->err = EXCO_ECANCELED;
    return;
  }
  if (napi_get_value_double(env, ret, &d) == napi_ok)
    j->number += d;
}

static void *co_sum_callback(void *arg) {
  job *j = arg;
  int64_t n = j->n, i;

  j->number = 0;
  for (i = 0; i < n && j->err == 0; i++) {
    if (i % 100 == 99 && (j->err = exco_sleep(1)) != 0)
      break;
    j->n = i;
    js_run(j, js_call_fn);
    if (j->a->closing)
      j->err = EXCO_ESHUTDOWN;
  }
  return job_end(j);
}

/* callDirect(): calls the function from the coroutine's own stack, which
 * V8 refuses; the promise resolves with the error's message. */
static void *co_call_direct(void *arg) {
  job *j = arg;
  napi_env env = j->a->env;
  napi_handle_scope hs;
  napi_value fn, recv, ret, exc, name, msg;
  char buf[256] = "no exception", *p;
  size_t len = 0, len2;

  /* Only plain property reads on the exception: anything that runs
   * JavaScript (its toString()) would be refused the same way. */
  if (napi_open_handle_scope(env, &hs) == napi_ok) {
    if (napi_get_reference_value(env, j->fn, &fn) == napi_ok &&
        napi_get_undefined(env, &recv) == napi_ok &&
        napi_call_function(env, recv, fn, 0, NULL, &ret) != napi_ok &&
        napi_get_and_clear_last_exception(env, &exc) == napi_ok &&
        napi_get_named_property(env, exc, "name", &name) == napi_ok &&
        napi_get_named_property(env, exc, "message", &msg) == napi_ok &&
        napi_get_value_string_utf8(env, name, buf, sizeof(buf) - 2, &len) ==
            napi_ok) {
      p = buf + len;
      *p++ = ':';
      *p++ = ' ';
      napi_get_value_string_utf8(env, msg, p, sizeof(buf) - (size_t)(p - buf),
                                 &len2);
    }
    napi_close_handle_scope(env, hs);
  }
  j->reply = strdup(buf);
  if (j->reply == NULL)
    j->err = EXCO_ENOMEM;
  return job_end(j);
}

/* ---------------------------------------------------------------------- */
/* The JavaScript functions                                                */
/* ---------------------------------------------------------------------- */

/* Makes a job and its promise; argument checks are the caller's. */
static napi_value job_start(napi_env env, job *j, exco_fn fn,
                            const char *name) {
  napi_value promise, resname;
  addon *a;
  int err;

  CHECK(napi_get_instance_data(env, (void **)&a));
  j->a = a;
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resname));
  CHECK(napi_async_init(env, NULL, resname, &j->actx));
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  err = exco_spawn(a->ex, fn, j, NULL, NULL);
  if (err != 0) {
    napi_value msg, e;

    napi_create_string_utf8(env, exco_strerror(err), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &e);
    napi_reject_deferred(env, j->deferred, e);
    job_free(j);
  }
  return promise;
fail:
  napi_throw_error(env, NULL, "exco: could not start the coroutine");
  free(j);
  return NULL;
}

/* Reads up to two arguments; the first must be a number. */
static job *job_args(napi_env env, napi_callback_info info, napi_value *second,
                     napi_valuetype second_type) {
  napi_value argv[2];
  size_t argc = 2;
  napi_valuetype t;
  job *j;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok ||
      argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok ||
      t != napi_number) {
    napi_throw_type_error(env, NULL, "exco: expected a number");
    return NULL;
  }
  if (second != NULL && (argc < 2 || napi_typeof(env, argv[1], &t) != napi_ok ||
                         t != second_type)) {
    napi_throw_type_error(env, NULL,
                          second_type == napi_string
                              ? "exco: expected a string"
                              : "exco: expected a function");
    return NULL;
  }
  j = calloc(1, sizeof(*j));
  if (j == NULL) {
    napi_throw_error(env, NULL, "exco: out of memory");
    return NULL;
  }
  napi_get_value_int64(env, argv[0], &j->n);
  if (second != NULL)
    *second = argv[1];
  return j;
}

static napi_value js_sleep(napi_env env, napi_callback_info info) {
  job *j = job_args(env, info, NULL, napi_undefined);

  return j != NULL ? job_start(env, j, co_sleep, "exco.sleep") : NULL;
}

static napi_value js_echo(napi_env env, napi_callback_info info) {
  napi_value s;
  job *j = job_args(env, info, &s, napi_string);
  size_t len;

  if (j == NULL)
    return NULL;
  if (napi_get_value_string_utf8(env, s, NULL, 0, &len) != napi_ok ||
      (j->text = malloc(len + 1)) == NULL) {
    free(j);
    napi_throw_error(env, NULL, "exco: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, s, j->text, len + 1, &j->text_len);
  return job_start(env, j, co_echo, "exco.echo");
}

static napi_value js_with_fn(napi_env env, napi_callback_info info, exco_fn fn,
                             const char *name) {
  napi_value f;
  job *j = job_args(env, info, &f, napi_function);

  if (j == NULL)
    return NULL;
  if (napi_create_reference(env, f, 1, &j->fn) != napi_ok) {
    free(j);
    napi_throw_error(env, NULL, "exco: out of memory");
    return NULL;
  }
  return job_start(env, j, fn, name);
}

static napi_value js_sum_callback(napi_env env, napi_callback_info info) {
  return js_with_fn(env, info, co_sum_callback, "exco.sumCallback");
}

static napi_value js_call_direct(napi_env env, napi_callback_info info) {
  return js_with_fn(env, info, co_call_direct, "exco.callDirect");
}

/* live(): the number of coroutines not yet finished. */
static napi_value js_live(napi_env env, napi_callback_info info) {
  napi_value v;
  addon *a;

  (void)info;
  if (napi_get_instance_data(env, (void **)&a) != napi_ok ||
      napi_create_int64(env, exco_executor_live(a->ex), &v) != napi_ok)
    return NULL;
  return v;
}

/* ---------------------------------------------------------------------- */
/* Set-up and shutdown                                                     */
/* ---------------------------------------------------------------------- */

/* The executor is gone (its live coroutines were cancelled and ran to
 * their ends): let Node carry on with the teardown. */
static void addon_closed(void *arg) {
  addon *a = arg;

  if (getenv("EXCO_NODE_TRACE") != NULL)
    fprintf(stderr, "exco_node: executor closed\n");
  napi_remove_async_cleanup_hook(a->cleanup);
  free(a);
}

static void addon_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  addon *a = arg;

  (void)handle;
  if (getenv("EXCO_NODE_TRACE") != NULL)
    fprintf(stderr, "exco_node: closing with %ld live\n",
            exco_executor_live(a->ex));
  a->closing = 1;
  if (exco_executor_close(a->ex, addon_closed, a) != 0)
    addon_closed(a);
}

static napi_value addon_init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {
      {"sleep", js_sleep},
      {"echo", js_echo},
      {"sumCallback", js_sum_callback},
      {"callDirect", js_call_direct},
      {"live", js_live},
  };
  struct uv_loop_s *loop;
  napi_value f;
  addon *a;
  size_t i;

  a = calloc(1, sizeof(*a));
  if (a == NULL) {
    napi_throw_error(env, NULL, "exco: out of memory");
    return NULL;
  }
  a->env = env;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
      exco_uv_executor_new(&a->ex, loop) != 0) {
    free(a);
    napi_throw_error(env, NULL, "exco: no executor for this environment");
    return NULL;
  }
  CHECK(napi_set_instance_data(env, a, NULL, NULL));
  CHECK(napi_add_async_cleanup_hook(env, addon_cleanup, a, &a->cleanup));
  for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb,
                               NULL, &f));
    CHECK(napi_set_named_property(env, exports, fns[i].name, f));
  }
  return exports;
fail:
  napi_throw_error(env, NULL, "exco: could not set up the addon");
  return NULL;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, addon_init)
