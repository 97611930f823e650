// blocking_pool: the runtime's threads for blocking calls (blocking.h). Jobs
// run in submission order on whichever thread is free; each thread posts a
// finished job's waiter back to the job's shard.
//
// Thread safety: submit() from any shard; stop() from the thread that stops
// the runtime, after the shards have exited (no job can be queued or running
// then). Internal to engine/runtime.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace ringlog {

class blocking_job;
class runtime;

class blocking_pool {
 public:
  blocking_pool(runtime& rt, unsigned threads) : _rt(rt), _threads_wanted(threads) {}
  ~blocking_pool() { stop(); }
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  // Starts the threads on the first call.
  void submit(blocking_job* job);
  void stop();

 private:
  void thread_main();

  runtime& _rt;
  unsigned _threads_wanted;
  std::mutex _mu;
  std::condition_variable _cv;
  std::deque<blocking_job*> _queue;
  std::vector<std::thread> _threads;
  bool _stopping = false;
};

}  // namespace ringlog
