#include "engine/runtime/blocking.h"

#include "engine/runtime/blocking_pool.h"

namespace ringlog {

void submit_blocking(runtime& rt, blocking_job* job) { rt.blocking().submit(job); }

void blocking_pool::submit(blocking_job* job) {
  {
    std::lock_guard lock(_mu);
    RINGLOG_ASSERT(!_stopping, "a blocking job submitted after the pool stopped");
    if (_threads.empty()) {
      for (unsigned i = 0; i < _threads_wanted; ++i) _threads.emplace_back([this] { thread_main(); });
    }
    _queue.push_back(job);
  }
  _cv.notify_one();
}

void blocking_pool::stop() {
  {
    std::lock_guard lock(_mu);
    RINGLOG_ASSERT(_queue.empty(), "blocking pool stopped with {} queued jobs", _queue.size());
    _stopping = true;
  }
  _cv.notify_all();
  for (auto& t : _threads) t.join();
  _threads.clear();
}

void blocking_pool::thread_main() {
  for (;;) {
    blocking_job* job = nullptr;
    {
      std::unique_lock lock(_mu);
      _cv.wait(lock, [this] { return _stopping || !_queue.empty(); });
      if (_queue.empty()) return;
      job = _queue.front();
      _queue.pop_front();
    }
    job->run();
    // The job lives in the waiter's frame: nothing of it is touched after this.
    _rt.post(job->shard_id, job->waiter);
  }
}

}  // namespace ringlog
