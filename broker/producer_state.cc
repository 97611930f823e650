#include "broker/producer_state.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/log/errc.h"
#include "engine/log/partition_log.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/spawn.h"

namespace ringlog::broker {
namespace {

// Kafka's sequence arithmetic: sequences wrap from INT32_MAX to 0.
int32_t next_sequence(int32_t sequence) noexcept {
  return sequence == std::numeric_limits<int32_t>::max() ? 0 : sequence + 1;
}

// The first sequence of a batch from its last and their difference (Kafka's
// decrementSequence: sequences wrap at INT32_MAX).
int32_t first_sequence_of(int32_t last_sequence, int32_t delta) noexcept {
  const int64_t first = static_cast<int64_t>(last_sequence) - delta;
  return static_cast<int32_t>(first < 0 ? first + int64_t{std::numeric_limits<int32_t>::max()} + 1
                                        : first);
}

// Makes the log durable up to `offset` (exclusive). A snapshot must not reach
// the disk before the batches it describes: after a crash, recovery could cut
// them, and later appends would put other batches at offsets the snapshot
// vouches for.
task<status> durable_up_to(storage::partition_log* log, int64_t offset) {
  while (log->durable_end() < offset) {
    if (log->offline()) {
      co_return storage::make_error(storage::errc::log_offline, "producer snapshot", log->dir());
    }
    if (log->log_end_offset() < offset) {
      co_return storage::make_error(storage::errc::offset_out_of_range, "producer snapshot",
                                    fmt::format("{}: truncated to {}, below the snapshot",
                                                log->dir(), log->log_end_offset()));
    }
    if (!log->relaxed()) {
      // Appends wait for their own fsync: join it.
      status st = co_await log->wait_durable(offset);
      if (!st) co_return st;
    } else {
      // flush.ms / flush.messages topics sync later, or never on their own.
      status st = co_await log->flush();
      if (!st) co_return st;
      if (log->durable_end() < offset) co_await yield();  // writes below offset still in flight
    }
  }
  co_return ok();
}

}  // namespace

int32_t last_sequence_of(int32_t base_sequence, int32_t last_offset_delta) noexcept {
  const int64_t last = static_cast<int64_t>(base_sequence) + last_offset_delta;
  return static_cast<int32_t>(last % (int64_t{std::numeric_limits<int32_t>::max()} + 1));
}

sequence_check partition_producers::check(int64_t producer_id, int16_t epoch,
                                          int32_t first_sequence, int32_t last_sequence) const {
  sequence_check out;
  auto it = _producers.find(producer_id);
  if (it == _producers.end()) return out;  // unknown here: accepted at any sequence, as Kafka does
  const entry& e = it->second;
  if (epoch < e.epoch) {
    out.verdict = sequence_verdict::fenced_epoch;
    out.message = fmt::format("producer {} epoch {} is older than its current epoch {}",
                              producer_id, epoch, e.epoch);
    return out;
  }
  if (epoch > e.epoch) {
    if (first_sequence != 0 && e.epoch >= 0) {
      out.verdict = sequence_verdict::out_of_order;
      out.message = fmt::format("producer {} opened epoch {} at sequence {}; a new epoch starts at 0",
                                producer_id, epoch, first_sequence);
    }
    return out;
  }
  for (const batch_record& b : e.batches) {
    if (b.first_sequence == first_sequence && b.last_sequence == last_sequence) {
      out.verdict = sequence_verdict::duplicate;
      out.duplicate_of = b;
      return out;
    }
  }
  if (e.batches.empty()) return out;
  const int32_t expected = next_sequence(e.batches.back().last_sequence);
  if (first_sequence != expected) {
    out.verdict = sequence_verdict::out_of_order;
    out.message = fmt::format("producer {} epoch {}: sequence {} where {} was expected", producer_id,
                              epoch, first_sequence, expected);
  }
  return out;
}

void partition_producers::record(int64_t producer_id, int16_t epoch, const batch_record& batch) {
  entry& e = _producers[producer_id];
  if (epoch < e.epoch) return;
  if (epoch > e.epoch) {
    e.epoch = epoch;
    e.batches.clear();
  }
  e.batches.push_back(batch);
  while (e.batches.size() > k_batches_per_producer) e.batches.pop_front();
}

void partition_producers::restore(const storage::producer_snapshot_entry& e) {
  RINGLOG_ASSERT(e.producer_id >= 0, "snapshot entry of producer id {}", e.producer_id);
  entry& out = _producers[e.producer_id];
  out.epoch = e.epoch;
  out.batches.clear();
  if (e.last_sequence < 0) return;  // Kafka's entry without a batch: the epoch only
  out.batches.push_back(batch_record{first_sequence_of(e.last_sequence, e.offset_delta),
                                     e.last_sequence, e.last_offset - e.offset_delta, e.last_offset,
                                     e.timestamp});
}

std::vector<storage::producer_snapshot_entry> partition_producers::snapshot(int64_t end_offset,
                                                                            int64_t now_ms) const {
  std::vector<storage::producer_snapshot_entry> out;
  out.reserve(_producers.size());
  for (const auto& [id, e] : _producers) {
    storage::producer_snapshot_entry s;
    s.producer_id = id;
    s.epoch = e.epoch;
    s.timestamp = now_ms;
    if (!e.batches.empty()) {
      auto last = std::find_if(e.batches.rbegin(), e.batches.rend(),
                               [&](const batch_record& b) { return b.last_offset < end_offset; });
      if (last == e.batches.rend()) continue;  // only batches past end_offset: the scan finds them
      s.last_sequence = last->last_sequence;
      s.last_offset = last->last_offset;
      s.offset_delta = static_cast<int32_t>(last->last_offset - last->first_offset);
      if (last->max_timestamp >= 0) s.timestamp = last->max_timestamp;
    }
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.producer_id < b.producer_id; });
  return out;
}

std::string snapshot_entry_problem(const storage::producer_snapshot_entry& e,
                                   int64_t snapshot_offset) {
  if (e.producer_id < 0) return fmt::format("producer id {}", e.producer_id);
  if (e.last_sequence < 0) return {};  // epoch only
  if (e.offset_delta < 0)
    return fmt::format("producer {}: offset delta {}", e.producer_id, e.offset_delta);
  if (e.last_offset < e.offset_delta || e.last_offset >= snapshot_offset) {
    return fmt::format("producer {}: last offset {} (offset delta {}) outside a snapshot at {}",
                       e.producer_id, e.last_offset, e.offset_delta, snapshot_offset);
  }
  return {};
}

void producer_states::partition_state::on_roll(int64_t new_base_offset) {
  RINGLOG_ASSERT(ready, "{}: producer state hooks installed before the state was loaded",
                 log->dir());
  unwritten.push_back({new_base_offset, producers.snapshot(new_base_offset, wall_ms())});
  while (unwritten.size() > storage::k_producer_snapshots_kept) unwritten.pop_front();
  if (!writing) {
    writing = true;
    spawn(write_unwritten(), "producer snapshot");
  }
}

task<void> producer_states::partition_state::write_unwritten() {
  while (!unwritten.empty()) {
    pending_snapshot next = std::move(unwritten.front());
    unwritten.pop_front();
    status st = co_await durable_up_to(log, next.offset);
    if (st)
      st = co_await storage::write_producer_snapshot(log->dir(), next.offset,
                                                     std::move(next.entries));
    if (!st) {
      RINGLOG_WARN("{}: no producer snapshot at offset {}: {}", log->dir(), next.offset,
                   st.error().message());
    }
  }
  writing = false;
}

task<void> producer_states::partition_state::before_close(int64_t log_end_offset) {
  // The roll snapshots first, so the newest file is the close one.
  while (writing) co_await yield();
  if (log->offline() || log->durable_end() < log_end_offset) {
    // The next start recovers the log; older snapshots above its new end are
    // dropped when the state is loaded.
    co_return;
  }
  std::vector<storage::producer_snapshot_entry> entries =
      producers.snapshot(log_end_offset, wall_ms());
  status st =
      co_await storage::write_producer_snapshot(log->dir(), log_end_offset, std::move(entries));
  if (!st) {
    RINGLOG_WARN("{}: no producer snapshot at close (offset {}): {}", log->dir(), log_end_offset,
                 st.error().message());
  }
}

task<partition_producers*> producer_states::get(const storage::topic_partition& tp,
                                                storage::partition_log& log) {
  auto& slot = _partitions[tp];
  if (!slot || (slot->log != &log && !slot->loading)) {
    slot = std::make_unique<partition_state>();
    slot->log = &log;
  }
  partition_state* state = slot.get();
  if (!state->ready && !state->loading) {
    state->loading = true;
    spawn(rebuild(tp, &log, state), "producer state rebuild");
  }
  if (!state->ready) {
    queue_awaiter queued{state};
    co_await queued;
  }
  co_return &state->producers;
}

task<void> producer_states::rebuild(storage::topic_partition tp, storage::partition_log* log,
                                    partition_state* state) {
  const int64_t end = log->written_end();
  int64_t offset = std::max(log->log_start_offset(), end - k_rebuild_offsets);
  const std::optional<int64_t> snapshot =
      co_await restore_snapshot(tp, log, end, &state->producers);
  // From the snapshot, every batch after it must be seen, however far back
  // it is: a producer's later batches left out would make its next one look
  // out of order.
  if (snapshot) offset = std::max(log->log_start_offset(), *snapshot);
  size_t batches = 0;
  std::vector<std::byte> buffer;
  while (offset < end) {
    auto slice = co_await log->read(offset, 1 << 20, storage::read_bound::written);
    if (!slice || slice->bytes == 0) {
      if (!slice) {
        RINGLOG_WARN("{}: rebuilding producer state stopped at offset {}: {}", tp.dir_name(),
                     offset, slice.error().message());
      }
      break;
    }
    buffer.resize(slice->bytes);
    size_t got = 0;
    bool failed = false;
    while (got < buffer.size()) {
      std::span<std::byte> rest(buffer.data() + got, buffer.size() - got);
      auto n = co_await io::read(slice->file->fd, rest, slice->position + got);
      if (!n || *n == 0) {
        failed = true;
        break;
      }
      got += *n;
    }
    if (failed) break;
    // Compacted logs have offset gaps inside batches.
    record::batch_iterator it(std::span<const std::byte>(buffer.data(), got),
                              {.allow_offset_gaps = true});
    int64_t next = offset;
    for (;;) {
      auto batch = it.next();
      if (!batch || !batch->has_value()) break;  // the end, or a partial batch at the slice's end
      const record::record_batch_view& v = **batch;
      if (v.producer_id() >= 0 && !v.is_control()) {
        state->producers.record(
            v.producer_id(), v.producer_epoch(),
            batch_record{v.base_sequence(),
                         last_sequence_of(v.base_sequence(), v.last_offset_delta()),
                         v.base_offset(), v.last_offset(), v.max_timestamp()});
      }
      next = v.last_offset() + 1;
      ++batches;
    }
    if (next <= offset) break;  // no whole batch fits: nothing more to learn
    offset = next;
  }
  RINGLOG_DEBUG(
      "{}: producer state rebuilt from {} and {} batches: {} producers", tp.dir_name(),
      snapshot ? fmt::format("the snapshot at {}", *snapshot) : std::string("no snapshot"), batches,
      state->producers.producers());
  state->ready = true;
  state->loading = false;
  log->set_producer_state_hooks(state);
  // Resume the queued produces here, in arrival order, before anything else
  // can reach this partition's state.
  std::vector<std::coroutine_handle<>> queued;
  queued.swap(state->queued);
  for (auto h : queued) h.resume();
}

task<std::optional<int64_t>> producer_states::restore_snapshot(storage::topic_partition tp,
                                                               storage::partition_log* log,
                                                               int64_t end,
                                                               partition_producers* producers) {
  auto offsets = storage::list_producer_snapshots(log->dir());
  if (!offsets) {
    RINGLOG_WARN("{}: cannot list producer snapshots: {}", tp.dir_name(),
                 offsets.error().message());
    co_return std::nullopt;
  }
  const int64_t start = log->log_start_offset();
  for (auto it = offsets->rbegin(); it != offsets->rend(); ++it) {
    const int64_t at = *it;
    const std::string name = storage::producer_snapshot_file_name(at);
    std::string problem;
    if (at > end) {
      // Taken before the end the log had then; crash recovery (or a
      // truncation) cut the log below it.
      RINGLOG_INFO("{}: removing producer snapshot {} past the log end {}", tp.dir_name(), name,
                   end);
    } else if (at < start) {
      // Its batches went with the segments: the producers' later batches may
      // have gone too.
      RINGLOG_INFO("{}: removing producer snapshot {} below the log start {}", tp.dir_name(), name,
                   start);
    } else {
      auto entries = co_await storage::read_producer_snapshot(log->dir(), at);
      if (!entries) {
        problem = entries.error().message();
      } else {
        for (const auto& e : *entries) {
          problem = snapshot_entry_problem(e, at);
          if (!problem.empty()) {
            problem = fmt::format("{}/{}: {}", log->dir(), name, problem);
            break;
          }
        }
      }
      if (problem.empty()) {
        for (const auto& e : *entries) producers->restore(e);
        RINGLOG_DEBUG("{}: restored {} producers from {}", tp.dir_name(), entries->size(), name);
        co_return at;
      }
      // Kafka's answer too: the file is useless, and the next older one or
      // the tail scan takes its place.
      RINGLOG_WARN("{}: removing corrupt producer snapshot {}: {}", tp.dir_name(), name, problem);
    }
    status removed = co_await storage::remove_producer_snapshot(log->dir(), at);
    if (!removed) RINGLOG_WARN("{}: {}", tp.dir_name(), removed.error().message());
  }
  co_return std::nullopt;
}

}  // namespace ringlog::broker
