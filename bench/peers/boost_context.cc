// boost_context.cc -- exco-bench's Boost.Context peer (bench/w1-spawn.c,
// w2-yield.c, w6-switch.c): one repetition of W1, W2 or W6 with
// boost::context::fiber used bare (no scheduler: the main loop resumes
// each fiber itself), printing ns per operation.  Every fiber gets a
// 256 KiB stack, exco's default size, from one pooled_fixedsize_stack
// (a free list of malloc'd stacks without guard pages), except where
// said otherwise.
//
//   peer-boost-context w6 M      round trip: resume a fiber that resumes
//                                straight back, M times; ns per trip
//   peer-boost-context w6c M     create+destroy: make a fiber on a pooled
//                                stack, resume it once, let it return (its
//                                stack goes back to the pool); ns each
//   peer-boost-context w2 N M    N fibers, resumed in turn by a main loop,
//                                each switching back at once: ns per yield
//                                (a resume and its switch back), M yields
//                                in all, timed while all N are live
//   peer-boost-context w1 M B    spawn to finish: make B fibers, then
//                                resume each once to its return, M fibers
//                                in all; ns per fiber
#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace ctx = boost::context;

static const std::size_t kStack = 256 * 1024;

static double now_ns() {
  return (double)std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

static int w6(long m) {
  if (m < 1)
    return 2;
  ctx::pooled_fixedsize_stack salloc(kStack);
  bool stop = false;
  ctx::fiber f(std::allocator_arg, salloc, [&stop](ctx::fiber &&c) {
    while (!stop)
      c = std::move(c).resume();
    return std::move(c);
  });
  f = std::move(f).resume(); // up to its first switch back
  double t0 = now_ns();
  for (long i = 0; i < m; i++)
    f = std::move(f).resume();
  double t = now_ns() - t0;
  // Let it return rather than unwind it (forced_unwind is an exception).
  stop = true;
  f = std::move(f).resume();
  if (f)
    return 1;
  std::printf("%.2f\n", t / (double)m);
  return 0;
}

static int w6c(long m) {
  if (m < 1)
    return 2;
  ctx::pooled_fixedsize_stack salloc(kStack);
  long ran = 0;
  double t0 = now_ns();
  for (long i = 0; i < m; i++) {
    ctx::fiber f(std::allocator_arg, salloc, [&ran](ctx::fiber &&c) {
      ran++;
      return std::move(c);
    });
    f = std::move(f).resume(); // runs to its return: f is now empty
  }
  double t = now_ns() - t0;
  if (ran != m)
    return 1;
  std::printf("%.2f\n", t / (double)m);
  return 0;
}

static int w2(long n, long m) {
  if (n < 1)
    return 2;
  long k = m / n; // yields per fiber
  if (k < 2)
    return 2;
  ctx::pooled_fixedsize_stack salloc(kStack, (std::size_t)(n < 32 ? 32 : n));
  std::vector<ctx::fiber> fs;
  fs.reserve((std::size_t)n);
  long yields = 0;
  for (long i = 0; i < n; i++)
    fs.emplace_back(std::allocator_arg, salloc, [k, &yields](ctx::fiber &&c) {
      for (long j = 0; j < k; j++) {
        c = std::move(c).resume();
        yields++;
      }
      return std::move(c);
    });
  // Start every fiber (outside the clock, as W2 keeps spawning out):
  // each runs up to its first switch back.
  for (auto &f : fs)
    f = std::move(f).resume();
  double t0 = now_ns();
  for (long r = 1; r < k; r++)
    for (auto &f : fs)
      f = std::move(f).resume();
  double t = now_ns() - t0;
  long timed = yields;
  // The last round lets every fiber return.
  for (auto &f : fs)
    f = std::move(f).resume();
  for (auto &f : fs)
    if (f)
      return 1;
  if (timed != (k - 1) * n || yields != k * n)
    return 1;
  std::printf("%.2f\n", t / (double)timed);
  return 0;
}

static int w1(long m, long b) {
  if (m < 1 || b < 1)
    return 2;
  ctx::pooled_fixedsize_stack salloc(kStack, (std::size_t)(b < 32 ? 32 : b));
  std::vector<ctx::fiber> fs;
  fs.reserve((std::size_t)b);
  long ran = 0, left = m;
  double t0 = now_ns();
  while (left > 0) {
    long batch = left < b ? left : b;
    for (long i = 0; i < batch; i++)
      fs.emplace_back(std::allocator_arg, salloc, [&ran](ctx::fiber &&c) {
        ran++;
        return std::move(c);
      });
    for (auto &f : fs)
      f = std::move(f).resume();
    fs.clear();
    left -= batch;
  }
  double t = now_ns() - t0;
  if (ran != m)
    return 1;
  std::printf("%.2f\n", t / (double)m);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && std::strcmp(argv[1], "w6") == 0)
    return w6(std::atol(argv[2]));
  if (argc == 3 && std::strcmp(argv[1], "w6c") == 0)
    return w6c(std::atol(argv[2]));
  if (argc == 4 && std::strcmp(argv[1], "w2") == 0)
    return w2(std::atol(argv[2]), std::atol(argv[3]));
  if (argc == 4 && std::strcmp(argv[1], "w1") == 0)
    return w1(std::atol(argv[2]), std::atol(argv[3]));
  std::fprintf(stderr, "usage: peer-boost-context w6 M | w6c M | w2 N M | "
                       "w1 M B\n");
  return 2;
}
