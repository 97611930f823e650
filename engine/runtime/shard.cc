#include "engine/runtime/shard.h"

#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/clock.h"
#include "base/log.h"
#include "engine/runtime/blocking_pool.h"

namespace ringlog {
namespace {

// user_data carries a pointer whose low 3 bits tag what completed (every
// pointee is at least 8-aligned). 0 with a null pointer: a completion nobody
// waits for (cancel requests, linked timeouts).
constexpr uint64_t k_tag_mask = 7;
constexpr uint64_t k_tag_op = 0;          // completion*
constexpr uint64_t k_tag_hop = 1;         // hop* arriving from another shard
constexpr uint64_t k_tag_hop_failed = 2;  // hop* whose MSG_RING send failed
constexpr uint64_t k_tag_wakeup = 3;      // the eventfd read of the inbox

thread_local shard* t_current = nullptr;

uint64_t tagged(const void* p, uint64_t tag) {
  const auto v = reinterpret_cast<uint64_t>(p);
  RINGLOG_ASSERT((v & k_tag_mask) == 0, "user_data pointer {:#x} is not 8-aligned", v);
  return v | tag;
}

}  // namespace

shard::shard(runtime& rt, unsigned id) : _rt(rt), _id(id) {}

shard::~shard() { teardown(); }

shard* shard::current() noexcept { return t_current; }

status shard::setup() {
  _ring = std::make_unique<io_uring>();
  io_uring_params params{};
  params.cq_entries = _rt._options.ring_entries * 4;
  // SINGLE_ISSUER + DEFER_TASKRUN: only this thread submits, and completions
  // are processed when it enters the kernel to wait, not by interrupting it
  // (lower and steadier latency). SUBMIT_ALL keeps submitting past one bad SQE.
  const unsigned flag_sets[] = {
      IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
          IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
      IORING_SETUP_CQSIZE,
  };
  int r = -EINVAL;
  for (unsigned flags : flag_sets) {
    params.flags = flags;
    r = io_uring_queue_init_params(_rt._options.ring_entries, _ring.get(), &params);
    if (r != -EINVAL) break;
  }
  if (r < 0) {
    _ring.reset();
    return error::from_errno(-r, "io_uring_queue_init",
                             r == -EPERM || r == -ENOSYS
                                 ? "io_uring is disabled (see sysctl kernel.io_uring_disabled)"
                                 : "cannot create the shard's io_uring");
  }
  if ((params.features & IORING_FEAT_NODROP) == 0) {
    RINGLOG_WARN("kernel lacks IORING_FEAT_NODROP: completions may be lost under overflow");
  }
  _ring_fd = _ring->ring_fd;
  // io-wq workers (which run fsync and any write that would block) inherit
  // the pinned shard's single-core mask. Measured on a 2-core host: 4 KiB
  // write+fdatasync took 510-650 us pinned against 380 us when the workers may
  // use any allowed core, so they get the whole process mask back.
  if (!_rt._cpus.empty()) {
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int cpu : _rt._cpus) CPU_SET(cpu, &all);
    if (int aff = io_uring_register_iowq_aff(_ring.get(), sizeof all, &all); aff < 0) {
      RINGLOG_WARN("cannot widen io-wq affinity: {}", strerrordesc_np(-aff));
    }
  }
  _setup_flags = params.flags;

  if (_rt._options.use_msg_ring) {
    if (io_uring_probe* probe = io_uring_get_probe_ring(_ring.get())) {
      _msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
      io_uring_free_probe(probe);
    }
  }
  _event_fd = eventfd(0, EFD_CLOEXEC);
  if (_event_fd < 0) return error::from_errno(errno, "eventfd");
  arm_wakeup();
  return ok();
}

void shard::teardown() noexcept {
  if (_ring) {
    io_uring_queue_exit(_ring.get());
    _ring.reset();
  }
  if (_event_fd >= 0) {
    ::close(_event_fd);
    _event_fd = -1;
  }
}

io_uring_sqe* shard::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(_ring.get());
  if (sqe == nullptr) {
    // The SQ is full within one turn (thousands of new operations): hand the
    // batch to the kernel early rather than fail the operation.
    io_uring_submit(_ring.get());
    sqe = io_uring_get_sqe(_ring.get());
    RINGLOG_ASSERT(sqe != nullptr, "no SQE free right after a submit");
  }
  return sqe;
}

void shard::submit(const io_uring_sqe& proto, completion* c, const void* link_timeout) {
  RINGLOG_ASSERT(t_current == this, "shard {} submitting from another thread", _id);
  if (link_timeout != nullptr && io_uring_sq_space_left(_ring.get()) < 2) {
    // A link may not span two submits.
    io_uring_submit(_ring.get());
  }
  io_uring_sqe* sqe = get_sqe();
  *sqe = proto;
  io_uring_sqe_set_data64(sqe, tagged(c, k_tag_op));
  ++_in_flight;
  if (link_timeout != nullptr) {
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe* t = get_sqe();
    io_uring_prep_link_timeout(
        t, const_cast<__kernel_timespec*>(static_cast<const __kernel_timespec*>(link_timeout)), 0);
    io_uring_sqe_set_data64(t, 0);
  }
}

void shard::submit_chain(const io_uring_sqe& first, completion* first_c, const io_uring_sqe& second,
                         completion* second_c) {
  RINGLOG_ASSERT(t_current == this, "shard {} submitting from another thread", _id);
  if (io_uring_sq_space_left(_ring.get()) < 2) io_uring_submit(_ring.get());  // one submit per chain
  io_uring_sqe* a = get_sqe();
  *a = first;
  a->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data64(a, tagged(first_c, k_tag_op));
  io_uring_sqe* b = get_sqe();
  *b = second;
  io_uring_sqe_set_data64(b, tagged(second_c, k_tag_op));
  _in_flight += 2;
}

void shard::cancel(completion* c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, tagged(c, k_tag_op), 0);
  io_uring_sqe_set_data64(sqe, 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void shard::post_hop(hop* h) {
  RINGLOG_ASSERT(h->target < _rt.size() && h->target != _id, "bad hop target {}", h->target);
  if (_msg_ring && _rt._msg_ring) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_msg_ring(sqe, _rt.ring_fd(h->target), 0, tagged(h, k_tag_hop), 0);
    // Success posts only on the target; a failure (target CQ full, say)
    // comes back here and takes the inbox instead.
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, tagged(h, k_tag_hop_failed));
  } else {
    _rt.at(h->target).post_external(h->waiter);
  }
}

void shard::post_external(std::coroutine_handle<> h) {
  {
    std::lock_guard lock(_inbox_mu);
    _inbox.push_back(h);
  }
  wake();
}

void shard::wake() noexcept {
  const uint64_t one = 1;
  // Fails only if the counter would overflow, which needs 2^64 unread wakes.
  [[maybe_unused]] ssize_t n = ::write(_event_fd, &one, sizeof one);
}

void shard::arm_wakeup() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, _event_fd, &_event_buf, sizeof _event_buf, 0);
  io_uring_sqe_set_data64(sqe, tagged(this, k_tag_wakeup));
}

void shard::drain_inbox() {
  std::lock_guard lock(_inbox_mu);
  _ready.insert(_ready.end(), _inbox.begin(), _inbox.end());
  _inbox.clear();
}

void shard::reap() {
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(_ring.get(), head, cqe) {
    ++seen;
    const uint64_t ud = cqe->user_data;
    void* ptr = reinterpret_cast<void*>(ud & ~k_tag_mask);
    switch (ud & k_tag_mask) {
      case k_tag_op: {
        if (ptr == nullptr) break;
        auto* c = static_cast<completion*>(ptr);
        c->res = cqe->res;
        c->flags = cqe->flags;
        if ((cqe->flags & IORING_CQE_F_MORE) == 0) --_in_flight;
        _ready.push_back(c->waiter);
        break;
      }
      case k_tag_hop:
        _ready.push_back(static_cast<hop*>(ptr)->waiter);
        break;
      case k_tag_hop_failed: {
        auto* h = static_cast<hop*>(ptr);
        RINGLOG_WARN("MSG_RING to shard {} failed ({}); using its inbox", h->target,
                     strerrordesc_np(-cqe->res));
        _rt.at(h->target).post_external(h->waiter);
        break;
      }
      case k_tag_wakeup:
        drain_inbox();
        arm_wakeup();
        break;
      default:
        RINGLOG_ASSERT(false, "completion with unknown tag {:#x}", ud);
    }
  }
  io_uring_cq_advance(_ring.get(), seen);
}

void shard::start_stopping() {
  _stopping = true;
  // Cancel every pending request of this ring (the inbox read included, which
  // re-arms itself when its cancellation completes).
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  while (!_timers.empty()) cancel_timer(_timers.front());
}

bool shard::can_exit() const noexcept {
  return _stopping && _in_flight == 0 && _ready.empty() && _timers.empty() &&
         _rt.live_tasks() == 0;
}

void shard::turn() {
  _running.swap(_ready);
  for (std::coroutine_handle<> h : _running) h.resume();
  _running.clear();

  int64_t now = monotonic_ns();
  while (!_timers.empty() && _timers.front()->deadline_ns <= now) {
    timer_node* t = _timers.front();
    heap_erase(t);
    t->res = 0;
    _ready.push_back(t->waiter);
  }
  if (!_stopping && _rt.stop_requested()) start_stopping();

  int r;
  if (!_ready.empty()) {
    r = io_uring_submit_and_get_events(_ring.get());
  } else if (!_timers.empty()) {
    const int64_t wait_ns = std::max<int64_t>(_timers.front()->deadline_ns - now, 0);
    __kernel_timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
    io_uring_cqe* cqe = nullptr;
    r = io_uring_submit_and_wait_timeout(_ring.get(), &cqe, 1, &ts, nullptr);
  } else {
    r = io_uring_submit_and_wait(_ring.get(), 1);
  }
  if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
    RINGLOG_ERROR("io_uring_enter failed: {}", strerrordesc_np(-r));
  }
  reap();
}

status shard::run() {
  while (!can_exit()) turn();
  return ok();
}

// Timers: a binary min-heap of nodes ordered by (deadline, seq); each node
// knows its index, so cancellation removes it in O(log n) without allocating.
bool shard::heap_less(size_t a, size_t b) const noexcept {
  const timer_node* x = _timers[a];
  const timer_node* y = _timers[b];
  return x->deadline_ns != y->deadline_ns ? x->deadline_ns < y->deadline_ns : x->seq < y->seq;
}

void shard::heap_sift_up(size_t i) {
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!heap_less(i, parent)) break;
    std::swap(_timers[i], _timers[parent]);
    _timers[i]->heap_index = i;
    _timers[parent]->heap_index = parent;
    i = parent;
  }
}

void shard::heap_sift_down(size_t i) {
  const size_t n = _timers.size();
  for (;;) {
    size_t best = i;
    const size_t l = 2 * i + 1;
    const size_t r = l + 1;
    if (l < n && heap_less(l, best)) best = l;
    if (r < n && heap_less(r, best)) best = r;
    if (best == i) return;
    std::swap(_timers[i], _timers[best]);
    _timers[i]->heap_index = i;
    _timers[best]->heap_index = best;
    i = best;
  }
}

void shard::heap_push(timer_node* t) {
  t->heap_index = _timers.size();
  _timers.push_back(t);
  heap_sift_up(t->heap_index);
}

void shard::heap_erase(timer_node* t) {
  const size_t i = t->heap_index;
  RINGLOG_ASSERT(i < _timers.size() && _timers[i] == t, "timer not in this shard's heap");
  const size_t last = _timers.size() - 1;
  if (i != last) {
    _timers[i] = _timers[last];
    _timers[i]->heap_index = i;
  }
  _timers.pop_back();
  t->heap_index = SIZE_MAX;
  if (i < _timers.size()) {
    timer_node* moved = _timers[i];
    heap_sift_up(i);
    heap_sift_down(moved->heap_index);
  }
}

void shard::add_timer(timer_node* t) {
  t->seq = _timer_seq++;
  heap_push(t);
}

void shard::cancel_timer(timer_node* t) {
  if (t->heap_index == SIZE_MAX) return;  // already fired or cancelled
  heap_erase(t);
  t->res = -ECANCELED;
  _ready.push_back(t->waiter);
}

// runtime

runtime::runtime(runtime_options options) : _options(options) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) _cpus.push_back(cpu);
    }
  }
  if (_options.shards == 0) _options.shards = _cpus.empty() ? 1 : static_cast<unsigned>(_cpus.size());
  RINGLOG_ASSERT(_options.shards >= 1 && _options.shards <= 256, "shards must be in [1, 256], not {}",
                 _options.shards);
  for (unsigned i = 0; i < _options.shards; ++i) _shards.push_back(std::make_unique<shard>(*this, i));
  _setup_errors.resize(_options.shards);
  _blocking = std::make_unique<blocking_pool>(*this, _options.shards);
}

runtime::~runtime() { stop(); }

status runtime::start() {
  RINGLOG_ASSERT(!_started, "runtime started twice");
  _started = true;
  _msg_ring = _options.use_msg_ring;
  for (unsigned i = 0; i < size(); ++i) _threads.emplace_back([this, i] { shard_main(i); });
  std::unique_lock lock(_start_mu);
  _start_cv.wait(lock, [this] { return _setup_reported == size(); });
  if (_setup_failed) {
    lock.unlock();
    for (auto& t : _threads) t.join();
    _threads.clear();
    for (auto& e : _setup_errors) {
      if (e) return *e;
    }
  }
  return ok();
}

void runtime::shard_main(unsigned id) {
  shard& s = *_shards[id];
  t_current = &s;
  set_log_shard(static_cast<int>(id));
  if (_options.pin_threads && !_cpus.empty()) {
    const int cpu = _cpus[id % _cpus.size()];
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (int r = pthread_setaffinity_np(pthread_self(), sizeof one, &one); r != 0) {
      RINGLOG_WARN("cannot pin shard {} to cpu {}: {}", id, cpu, strerrordesc_np(r));
    }
  }
  status st = s.setup();
  bool failed;
  {
    std::unique_lock lock(_start_mu);
    if (!st) {
      _setup_errors[id] = std::make_unique<error>(st.error());
      _setup_failed = true;
    } else if (!s._msg_ring) {
      _msg_ring = false;  // every ring must accept MSG_RING for hops to use it
    }
    ++_setup_reported;
    _start_cv.notify_all();
    _start_cv.wait(lock, [this] { return _setup_reported == size(); });
    failed = _setup_failed;
  }
  if (!failed) (void)s.run();
  t_current = nullptr;
  set_log_shard(-1);
}

void runtime::task_finished() noexcept {
  if (_live_tasks.fetch_sub(1, std::memory_order_acq_rel) == 1 && stop_requested()) {
    for (auto& s : _shards) s->wake();
  }
}

std::string runtime::features() const {
  const unsigned f = _shards.front()->_setup_flags;
  std::string out = "io_uring ";
  if (f & IORING_SETUP_SINGLE_ISSUER) out += "SINGLE_ISSUER|";
  if (f & IORING_SETUP_DEFER_TASKRUN) out += "DEFER_TASKRUN|";
  if (f & IORING_SETUP_COOP_TASKRUN) out += "COOP_TASKRUN|";
  out += "CQSIZE, hops via ";
  out += _msg_ring ? "MSG_RING" : "eventfd";
  return out;
}

void runtime::stop() {
  if (!_started || _threads.empty()) return;
  _stop_requested.store(true, std::memory_order_release);
  for (auto& s : _shards) s->wake();
  for (auto& t : _threads) t.join();
  _threads.clear();
  _blocking->stop();
  for (auto& s : _shards) s->teardown();
}

}  // namespace ringlog
