// exco.dart -- dart:ffi bindings for libexco-dart, exco's Dart driver
// (<exco/dart.h>): one exco executor per isolate, its tasks polled by the
// listener of a ReceivePort.
//
// NOT RUN AGAINST A DART VM.  This file is written from the documented
// dart:ffi API and Dart's native API (dart_native_api.h); exco is built
// and tested where there is no Dart SDK, so it has been neither analysed
// nor run.  The C side it binds is tested against a stand-in isolate in C
// (tests/dart-standin.c and tests/test-dart.c in exco's sources), which
// does what the listener below does.
//
// Usage.  Copy this file into your package (it is installed as
// $(datadir)/exco/exco.dart: `pkg-config --variable=excodatadir exco-dart`
// names the directory), add package:ffi to its dependencies,
// and make sure libexco-dart.so and libexco.so are on the loader's path.
// Your own C library spawns coroutines on the executor it is given:
//
//   import 'exco.dart';
//
//   final exco = ExcoDart();              // this isolate's executor
//   myLib.startWork(exco.executor);       // your C: exco_spawn(ex, ...)
//   ...
//   exco.shutdown();                      // isolate shutdown: port closed,
//                                         // every task left is cancelled
//
// or, to let the tasks finish their cancellation on the loop, `exco.close()`:
// the listener closes the port itself once the executor has been freed.
//
// Messages.  The port receives ints: a nonzero one is a task handle, which
// the listener polls (excoDartPoll) and drops (excoDartDrop) once the poll
// returns 0; 0 says the executor has been freed, and the listener closes
// the port.  The library calls NativeApi.postCObject (Dart_PostCObject)
// itself, from whichever thread wakes a task; it does not use the dynamic
// linking API of dart_api_dl.h, so NativeApi.initializeApiDLData is not
// needed for it.
//
// Needs Dart 2.17 or later (the Long native type) and package:ffi.

import 'dart:ffi';
import 'dart:isolate';

import 'package:ffi/ffi.dart' show calloc;

/// libexco-dart.  Its dependency libexco is loaded with it, and symbols of
/// <exco.h> (exco_executor_close) are found through this handle too.
final DynamicLibrary excoDartLibrary = DynamicLibrary.open('libexco-dart.so');

/// int exco_dart_executor_new(exco_executor **out, int64_t port,
///                            exco_dart_post_fn post)
final int Function(Pointer<Pointer<Void>>, int, Pointer<Void>)
    excoDartExecutorNew = excoDartLibrary.lookupFunction<
        Int32 Function(Pointer<Pointer<Void>>, Int64, Pointer<Void>),
        int Function(Pointer<Pointer<Void>>, int,
            Pointer<Void>)>('exco_dart_executor_new');

/// int exco_dart_poll(intptr_t task): 1 pending, 0 finished (drop it),
/// negative: an error, to be read as pending.
final int Function(int) excoDartPoll = excoDartLibrary
    .lookupFunction<Int32 Function(IntPtr), int Function(int)>(
        'exco_dart_poll');

/// int exco_dart_drop(intptr_t task)
final int Function(int) excoDartDrop = excoDartLibrary
    .lookupFunction<Int32 Function(IntPtr), int Function(int)>(
        'exco_dart_drop');

/// long exco_dart_executor_stranded(exco_executor *ex)
final int Function(Pointer<Void>) excoDartExecutorStranded = excoDartLibrary
    .lookupFunction<Long Function(Pointer<Void>), int Function(Pointer<Void>)>(
        'exco_dart_executor_stranded');

/// long exco_dart_executor_shutdown(exco_executor *ex, exco_close_cb cb,
///                                  void *arg)
final int Function(Pointer<Void>, Pointer<Void>, Pointer<Void>)
    excoDartExecutorShutdown = excoDartLibrary.lookupFunction<
        Long Function(Pointer<Void>, Pointer<Void>, Pointer<Void>),
        int Function(Pointer<Void>, Pointer<Void>,
            Pointer<Void>)>('exco_dart_executor_shutdown');

/// int exco_executor_close(exco_executor *ex, exco_close_cb cb, void *arg)
/// (libexco).
final int Function(Pointer<Void>, Pointer<Void>, Pointer<Void>)
    excoExecutorClose = excoDartLibrary.lookupFunction<
        Int32 Function(Pointer<Void>, Pointer<Void>, Pointer<Void>),
        int Function(Pointer<Void>, Pointer<Void>,
            Pointer<Void>)>('exco_executor_close');

/// The listener of a port whose tasks come from libexco-dart.  Returns
/// false once the message 0 (executor freed) has come.
bool excoDartListen(int message) {
  if (message == 0) return false;
  if (excoDartPoll(message) == 0) excoDartDrop(message);
  return true;
}

/// One isolate's exco executor and its port.
class ExcoDart {
  final ReceivePort _port = ReceivePort();
  late final Pointer<Void> executor;
  bool _ended = false;

  /// Makes the executor; throws StateError with the EXCO_E* code if the
  /// library refuses.
  ExcoDart() {
    final out = calloc<Pointer<Void>>();
    try {
      final err = excoDartExecutorNew(
          out, _port.sendPort.nativePort, NativeApi.postCObject.cast<Void>());
      if (err != 0) {
        _port.close();
        throw StateError('exco_dart_executor_new failed: $err');
      }
      executor = out.value;
    } finally {
      calloc.free(out);
    }
    _port.listen((dynamic message) {
      if (!excoDartListen(message as int)) {
        _ended = true;
        _port.close();
      }
    });
  }

  /// Tasks whose wake could not be posted (the port was closed).
  int get stranded => _ended ? 0 : excoDartExecutorStranded(executor);

  /// Graceful end: cancels every task and lets the listener poll them to
  /// their end; the port closes itself when the executor is freed.  Call
  /// nothing else of this object afterwards.
  void close() {
    if (_ended) return;
    _ended = true;
    excoExecutorClose(executor, nullptr, nullptr);
  }

  /// Immediate end, for the isolate's shutdown path: closes the port, then
  /// drops every task left (each is cancelled and runs its clean-up now)
  /// and frees the executor.  Returns the number of tasks dropped.
  int shutdown() {
    if (_ended) return 0;
    _ended = true;
    _port.close();
    return excoDartExecutorShutdown(executor, nullptr, nullptr);
  }
}
