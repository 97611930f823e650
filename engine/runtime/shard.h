// The shard: one thread, pinned to one core, owning one io_uring ring and
// everything it serves. Nothing a shard owns is touched by another thread;
// work crosses shards only as coroutine hops (switch_to / invoke_on), carried
// by IORING_OP_MSG_RING or, where that is missing or fails, by a locked inbox
// and an eventfd.
//
// The loop (shard::run), one turn:
//   1. resume every coroutine made ready in the previous turn, fire due timers;
//   2. submit every queued SQE and wait for completions with exactly one
//      io_uring_submit_and_wait* call (no wait when work is already ready,
//      bounded by the next timer otherwise);
//   3. walk the CQ: store each completion's res in its awaiter and queue the
//      awaiter's coroutine; advance the CQ. Nothing is resumed during the walk.
//
// Stop: runtime::stop() asks every shard to stop. A stopping shard cancels its
// in-flight operations (they complete with ECANCELED) and its timers, keeps
// running what is ready, and exits once no task is live anywhere in the
// runtime and it has nothing in flight. Tasks observe shard::stopping() to end
// their loops; operations submitted while stopping run normally, so a final
// flush works.
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "engine/runtime/task.h"

struct io_uring;
struct io_uring_sqe;

namespace ringlog {

class runtime;
class cancel_source;
class blocking_pool;

// The completion record of one submitted operation; lives in the awaiting
// coroutine's frame, so an operation allocates nothing.
struct completion {
  std::coroutine_handle<> waiter;
  int32_t res = 0;
  uint32_t flags = 0;
};

// A coroutine moving to another shard; lives in the moving coroutine's frame.
struct hop {
  std::coroutine_handle<> waiter;
  unsigned target = 0;
};

// A pending timer; lives in the sleeping coroutine's frame.
struct timer_node {
  int64_t deadline_ns = 0;
  uint64_t seq = 0;          // insertion order: equal deadlines fire in order
  size_t heap_index = SIZE_MAX;
  std::coroutine_handle<> waiter;
  int32_t res = 0;           // 0 fired, -ECANCELED cancelled
};

class shard {
 public:
  shard(runtime& rt, unsigned id);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  // The shard whose thread is calling, or nullptr outside shard threads.
  static shard* current() noexcept;

  unsigned id() const noexcept { return _id; }
  runtime& owner() noexcept { return _rt; }
  bool stopping() const noexcept { return _stopping; }
  // Operations submitted and not yet completed.
  size_t in_flight() const noexcept { return _in_flight; }

  // Queues one operation: copies the prototype SQE, points its user_data at
  // `c`, and optionally links a timeout (IORING_OP_LINK_TIMEOUT) after it.
  // The SQE reaches the kernel at the end of this loop turn.
  void submit(const io_uring_sqe& proto, completion* c, const void* link_timeout = nullptr);
  // Queues two operations as one kernel-side chain (IOSQE_IO_LINK): the
  // second starts when the first completes in full, without a round trip
  // through this shard; if the first fails or is short, the second completes
  // with -ECANCELED. Both complete into their records.
  void submit_chain(const io_uring_sqe& first, completion* first_c, const io_uring_sqe& second,
                    completion* second_c);
  // Asks the kernel to cancel the operation whose completion record is `c`.
  void cancel(completion* c);

  // Queues a coroutine to resume in the next turn.
  void schedule(std::coroutine_handle<> h) { _ready.push_back(h); }
  // Sends a coroutine to shard `h->target` (same-shard hops never get here).
  void post_hop(hop* h);

  void add_timer(timer_node* t);
  // Removes a pending timer and resumes its waiter with -ECANCELED.
  void cancel_timer(timer_node* t);

  // Entry point of the shard's thread: sets up the ring, then runs the loop.
  status run();

 private:
  friend class runtime;

  status setup();
  void teardown() noexcept;
  void turn();
  void reap();
  void start_stopping();
  bool can_exit() const noexcept;
  void arm_wakeup();
  void drain_inbox();
  // From any thread: queues h in the inbox and wakes the shard.
  void post_external(std::coroutine_handle<> h);
  void wake() noexcept;
  io_uring_sqe* get_sqe();

  void heap_push(timer_node* t);
  void heap_erase(timer_node* t);
  void heap_sift_up(size_t i);
  void heap_sift_down(size_t i);
  bool heap_less(size_t a, size_t b) const noexcept;

  runtime& _rt;
  unsigned _id;
  std::unique_ptr<io_uring> _ring;
  int _ring_fd = -1;
  int _event_fd = -1;
  uint64_t _event_buf = 0;
  bool _msg_ring = false;
  unsigned _setup_flags = 0;
  bool _stopping = false;
  size_t _in_flight = 0;

  std::vector<std::coroutine_handle<>> _ready;
  std::vector<std::coroutine_handle<>> _running;
  std::vector<timer_node*> _timers;
  uint64_t _timer_seq = 0;

  std::mutex _inbox_mu;
  std::vector<std::coroutine_handle<>> _inbox;
};

struct runtime_options {
  // Number of shards; 0 means one per core this process may run on.
  unsigned shards = 0;
  // SQ entries per ring; the CQ gets 4x so bursts of completions never
  // overflow into the kernel's slower backlog list.
  unsigned ring_entries = 4096;
  // Pin shard i to the i-th allowed core (modulo their count). Off by default:
  // measured on 2-vCPU hosts, a pinned shard waits whenever another process
  // holds its core (cross-shard call 44 us pinned vs 9.5 us unpinned under
  // load; 4 KiB write+fdatasync 0.66-0.85 of fio pinned vs 0.94-1.0 unpinned,
  // idle). Dedicated hosts may turn it on (ringlog.shards.pin).
  bool pin_threads = false;
  // Use IORING_OP_MSG_RING for cross-shard hops when the kernel has it; false
  // forces the eventfd inbox (tested so the fallback cannot rot).
  bool use_msg_ring = true;
};

// A set of shards. Owns their threads; start() and stop() are called from
// outside the shards (main thread).
class runtime {
 public:
  explicit runtime(runtime_options options = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // Starts every shard thread and waits until each has its ring; fails with
  // the first shard's error (io_uring unavailable, say).
  status start();
  // Requests a stop and joins every shard thread (see the file comment).
  void stop();

  unsigned size() const noexcept { return static_cast<unsigned>(_shards.size()); }
  shard& at(unsigned id) noexcept { return *_shards[id]; }
  bool stop_requested() const noexcept { return _stop_requested.load(std::memory_order_acquire); }
  bool msg_ring_enabled() const noexcept { return _msg_ring; }

  // Runs `t` on shard `id` and blocks the calling (non-shard) thread until it
  // finishes; returns its value. Defined in spawn.h.
  template <class T>
  T block_on(unsigned id, task<T> t);

  // Live root tasks (spawned or block_on'd) across all shards.
  void task_started() noexcept { _live_tasks.fetch_add(1, std::memory_order_relaxed); }
  void task_finished() noexcept;
  int64_t live_tasks() const noexcept { return _live_tasks.load(std::memory_order_acquire); }

  // Sends `h` to shard `id` from a thread that is not a shard.
  void post(unsigned id, std::coroutine_handle<> h) { _shards[id]->post_external(h); }

  int ring_fd(unsigned id) const noexcept { return _shards[id]->_ring_fd; }

  // Threads for blocking calls (blocking.h), one per shard, started on first use.
  blocking_pool& blocking() noexcept { return *_blocking; }

  // What the kernel gave shard 0, for the start-up line:
  // "io_uring SINGLE_ISSUER|DEFER_TASKRUN, hops via MSG_RING".
  std::string features() const;

 private:
  friend class shard;
  void shard_main(unsigned id);

  runtime_options _options;
  std::vector<int> _cpus;  // the cores this process may run on, at construction
  std::vector<std::unique_ptr<shard>> _shards;
  std::vector<std::thread> _threads;
  std::atomic<bool> _stop_requested{false};
  std::atomic<int64_t> _live_tasks{0};
  bool _msg_ring = false;
  bool _started = false;
  std::unique_ptr<blocking_pool> _blocking;

  // Start-up handshake: each shard reports its ring set-up, then waits until
  // all have (a hop needs its target's ring fd).
  std::mutex _start_mu;
  std::condition_variable _start_cv;
  unsigned _setup_reported = 0;
  bool _setup_failed = false;
  std::vector<std::unique_ptr<error>> _setup_errors;
};

}  // namespace ringlog
