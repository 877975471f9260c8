// test.js -- the exco Node.js addon against real Node peers: a net echo
// server, timers, JavaScript callbacks called from coroutines, and a
// worker thread with its own loop and executor.  Exits 0 when every check
// passed; the process must then exit by itself (run-test.sh bounds it).
'use strict';
const assert = require('assert');
const net = require('net');
const path = require('path');
const { Worker, isMainThread, parentPort } = require('worker_threads');

const addonPath = process.env.EXCO_NODE_ADDON;
const exco = (() => {
  const m = { exports: {} };
  process.dlopen(m, path.resolve(addonPath));
  return m.exports;
})();

async function checks(tag) {
  // Timers: a coroutine's sleep runs on Node's loop, interleaved with
  // JavaScript timers.
  const order = [];
  const t0 = Date.now();
  const slept = exco.sleep(30).then((ms) => { order.push('exco'); return ms; });
  setTimeout(() => order.push('js'), 5);
  const ms = await slept;
  assert.ok(ms >= 30, `slept ${ms} ms`);
  assert.ok(Date.now() - t0 >= 29);
  assert.deepStrictEqual(order, ['js', 'exco']);

  // Calls back into JavaScript from a coroutine (through exco_host_call).
  assert.strictEqual(await exco.sumCallback(1000, (i) => 2 * i), 999000);
  // A microtask queued by the callback runs before the promise settles.
  let ticked = 0;
  await exco.sumCallback(3, () => { Promise.resolve().then(() => ticked++); return 0; });
  assert.strictEqual(ticked, 3);
  // An exception thrown by the callback rejects the promise with it.
  const boom = new Error('boom');
  await assert.rejects(exco.sumCallback(5, (i) => { if (i === 3) throw boom; return i; }),
    (e) => e === boom);

  // Without the host call, V8 refuses JavaScript on a coroutine's stack:
  // its check is "stack pointer above the thread's limit".  The main
  // thread's stack is above every mapping, so a coroutine's is always
  // refused there.  A worker's stack is a mapping too, and a coroutine
  // stack that happens to lie above it passes the check by accident (no
  // safer: V8 then knows nothing of the real bounds).
  const direct = await exco.callDirect(0, () => 1);
  if (isMainThread)
    assert.match(direct, /^RangeError: Maximum call stack size exceeded/);
  else
    assert.ok(/^RangeError/.test(direct) || direct === 'no exception', direct);

  // Bad arguments are TypeErrors, not crashes.
  assert.throws(() => exco.sleep('x'), TypeError);
  assert.throws(() => exco.sumCallback(1, 2), TypeError);
  assert.throws(() => exco.echo(1), TypeError);

  // TCP: 50 coroutines, each a round trip to a JavaScript echo server.
  const server = net.createServer((s) => s.pipe(s));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const texts = Array.from({ length: 50 }, (_, i) => `${tag} hello ${i} `.repeat(i + 1));
  const replies = await Promise.all(texts.map((t) => exco.echo(port, t)));
  assert.deepStrictEqual(replies, texts);
  server.close();
  // A refused connection rejects with libuv's code.
  await assert.rejects(exco.echo(port, 'x'), (e) => e.excoCode === -111);

  // A promise settles just before its coroutine returns: one turn of the
  // loop later, nothing is live.
  await new Promise((r) => setImmediate(r));
  assert.strictEqual(exco.live(), 0);
}

if (isMainThread) {
  checks('main').then(async () => {
    const w = new Worker(__filename, { env: process.env });
    const msg = await new Promise((resolve, reject) => {
      w.on('message', resolve);
      w.on('error', reject);
    });
    assert.strictEqual(msg, 'worker ok');
    assert.strictEqual(await new Promise((r) => w.on('exit', r)), 0);
    console.log('exco_node: all checks passed');
    // Node exits by itself from here: nothing is left to do.
  }, (e) => { console.error(e); process.exit(1); });
} else {
  checks('worker').then(() => {
    // Left pending when the worker stops: its environment's cleanup hook
    // closes the executor, which cancels the coroutine.
    exco.sleep(3600 * 1000);
    parentPort.postMessage('worker ok');
    process.exit(0);
  }, (e) => { console.error(e); process.exit(1); });
}
