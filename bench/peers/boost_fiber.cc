// boost_fiber.cc -- exco-bench's Boost.Fiber peer (bench/w1-spawn.c,
// w2-yield.c, w8-sync.c): one repetition of W1, W2, W3 (channel case), W8
// or W9, printing ns per operation.  Every fiber runs on the main thread
// under the default round_robin scheduler.
//
//   peer-boost-fiber w1 M B    spawn to finish: construct B fibers, then
//                              join each, M fibers in all; ns per fiber
//   peer-boost-fiber w2 N M    N fibers each call this_fiber::yield() M/N
//                              times; ns per yield, timed from the last
//                              fiber's start to the first one's end (as
//                              exco's W2), so all N are live in between
//   peer-boost-fiber w3 M      two fibers pass a token M times through two
//                              buffered_channel<long> of capacity 2 (the
//                              least it takes)
//   peer-boost-fiber w8 T N    T std::threads push N items in all into one
//                              buffered_channel<long> of capacity 64 that a
//                              fiber on the main thread drains
//   peer-boost-fiber w9 K M    K fibers take a boost::fibers::mutex M times
//                              in all, yielding while they hold it
//
// W1 and W2 give each fiber a 256 KiB stack (exco's default size) from one
// pooled_fixedsize_stack, a free list of malloc'd stacks without guard
// pages: what a user who wants speed picks.  W3, W8 and W9 use the default
// allocator (fixedsize_stack: a malloc'd stack per fiber).
#include <boost/fiber/all.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace bf = boost::fibers;

static double now_ns() {
  return (double)std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

static const std::size_t kStack = 256 * 1024;

static int w1(long m, long b) {
  if (m < 1 || b < 1)
    return 2;
  bf::pooled_fixedsize_stack salloc(kStack, (std::size_t)(b < 32 ? 32 : b));
  std::vector<bf::fiber> fs;
  fs.reserve((std::size_t)b);
  long ran = 0, left = m;
  double t0 = now_ns();
  while (left > 0) {
    long batch = left < b ? left : b;
    for (long i = 0; i < batch; i++)
      fs.emplace_back(std::allocator_arg, salloc, [&ran] { ran++; });
    for (auto &f : fs)
      f.join();
    fs.clear();
    left -= batch;
  }
  double t = now_ns() - t0;
  if (ran != m)
    return 1;
  std::printf("%.2f\n", t / (double)m);
  return 0;
}

static int w2(long n, long m) {
  if (n < 1 || m / n < 1)
    return 2;
  long k = m / n, started = 0, finished = 0, yields = 0, y0 = 0, y1 = 0;
  double t0 = 0, t1 = 0;
  bf::pooled_fixedsize_stack salloc(kStack, (std::size_t)(n < 32 ? 32 : n));
  std::vector<bf::fiber> fs;
  fs.reserve((std::size_t)n);
  for (long i = 0; i < n; i++)
    fs.emplace_back(std::allocator_arg, salloc, [&] {
      if (++started == n) {
        y0 = yields;
        t0 = now_ns();
      }
      for (long j = 0; j < k; j++) {
        boost::this_fiber::yield();
        yields++;
      }
      if (++finished == 1) {
        y1 = yields;
        t1 = now_ns();
      }
    });
  for (auto &f : fs)
    f.join();
  if (finished != n || y1 <= y0)
    return 1;
  std::printf("%.2f\n", (t1 - t0) / (double)(y1 - y0));
  return 0;
}

static int w3(long m) {
  long rounds = m / 2;
  bf::buffered_channel<long> ab(2), ba(2);
  double t0 = now_ns();
  bf::fiber a([&] {
    long v = 0;
    for (long i = 0; i < rounds; i++) {
      ab.push(v);
      ba.pop(v);
    }
  });
  bf::fiber b([&] {
    long v;
    for (long i = 0; i < rounds; i++) {
      ab.pop(v);
      ba.push(v + 1);
    }
  });
  a.join();
  b.join();
  std::printf("%.2f\n", (now_ns() - t0) / (double)(2 * rounds));
  return 0;
}

static int w8(long t, long n) {
  long per = n / t, got = 0, sum = 0;
  bf::buffered_channel<long> c(64);
  double t0 = now_ns();
  std::thread closer([&] {
    std::vector<std::thread> senders;
    for (long i = 0; i < t; i++)
      senders.emplace_back([&] {
        for (long v = 1; v <= per; v++)
          c.push(v);
      });
    for (auto &s : senders)
      s.join();
    c.close();
  });
  bf::fiber consumer([&] {
    long v;
    while (c.pop(v) == bf::channel_op_status::success) {
      got++;
      sum += v;
    }
  });
  consumer.join();
  closer.join();
  if (got != per * t || sum != t * (per * (per + 1) / 2))
    return 1;
  std::printf("%.2f\n", (now_ns() - t0) / (double)(per * t));
  return 0;
}

static int w9(long k, long m) {
  long per = m / k, counter = 0;
  bf::mutex mu;
  std::vector<bf::fiber> fs;
  double t0 = now_ns();
  for (long i = 0; i < k; i++)
    fs.emplace_back([&] {
      for (long j = 0; j < per; j++) {
        mu.lock();
        counter++;
        boost::this_fiber::yield();
        mu.unlock();
      }
    });
  for (auto &f : fs)
    f.join();
  if (counter != per * k)
    return 1;
  std::printf("%.2f\n", (now_ns() - t0) / (double)(per * k));
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && std::strcmp(argv[1], "w1") == 0)
    return w1(std::atol(argv[2]), std::atol(argv[3]));
  if (argc == 4 && std::strcmp(argv[1], "w2") == 0)
    return w2(std::atol(argv[2]), std::atol(argv[3]));
  if (argc == 3 && std::strcmp(argv[1], "w3") == 0)
    return w3(std::atol(argv[2]));
  if (argc == 4 && std::strcmp(argv[1], "w8") == 0)
    return w8(std::atol(argv[2]), std::atol(argv[3]));
  if (argc == 4 && std::strcmp(argv[1], "w9") == 0)
    return w9(std::atol(argv[2]), std::atol(argv[3]));
  std::fprintf(stderr, "usage: peer-boost-fiber w1 M B | w2 N M | w3 M | w8 T N | "
                       "w9 K M\n");
  return 2;
}
