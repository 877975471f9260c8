// boost_fiber.cc -- exco-bench's Boost.Fiber peer (bench/w8-sync.c): one
// repetition of W3 (channel case), W8 or W9, printing ns per operation.
//
//   peer-boost-fiber w3 M      two fibers pass a token M times through two
//                              buffered_channel<long> of capacity 2 (the
//                              least it takes)
//   peer-boost-fiber w8 T N    T std::threads push N items in all into one
//                              buffered_channel<long> of capacity 64 that a
//                              fiber on the main thread drains
//   peer-boost-fiber w9 K M    K fibers take a boost::fibers::mutex M times
//                              in all, yielding while they hold it
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
  if (argc == 3 && std::strcmp(argv[1], "w3") == 0)
    return w3(std::atol(argv[2]));
  if (argc == 4 && std::strcmp(argv[1], "w8") == 0)
    return w8(std::atol(argv[2]), std::atol(argv[3]));
  if (argc == 4 && std::strcmp(argv[1], "w9") == 0)
    return w9(std::atol(argv[2]), std::atol(argv[3]));
  std::fprintf(stderr, "usage: peer-boost-fiber w3 M | w8 T N | w9 K M\n");
  return 2;
}
