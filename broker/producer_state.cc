#include "broker/producer_state.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "base/log.h"
#include "engine/log/partition_log.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/io.h"
#include "engine/runtime/spawn.h"

namespace ringlog::broker {
namespace {

// Kafka's sequence arithmetic: sequences wrap from INT32_MAX to 0.
int32_t next_sequence(int32_t sequence) noexcept {
  return sequence == std::numeric_limits<int32_t>::max() ? 0 : sequence + 1;
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
    record::batch_iterator it(std::span<const std::byte>(buffer.data(), got));
    int64_t next = offset;
    for (;;) {
      auto batch = it.next();
      if (!batch || !batch->has_value()) break;  // the end, or a partial batch at the slice's end
      const record::record_batch_view& v = **batch;
      if (v.producer_id() >= 0 && !v.is_control()) {
        state->producers.record(
            v.producer_id(), v.producer_epoch(),
            batch_record{v.base_sequence(), last_sequence_of(v.base_sequence(), v.last_offset_delta()),
                         v.base_offset(), v.last_offset()});
      }
      next = v.last_offset() + 1;
      ++batches;
    }
    if (next <= offset) break;  // no whole batch fits: nothing more to learn
    offset = next;
  }
  RINGLOG_DEBUG("{}: producer state rebuilt from {} batches: {} producers", tp.dir_name(), batches,
                state->producers.producers());
  state->ready = true;
  state->loading = false;
  // Resume the queued produces here, in arrival order, before anything else
  // can reach this partition's state.
  std::vector<std::coroutine_handle<>> queued;
  queued.swap(state->queued);
  for (auto h : queued) h.resume();
}

}  // namespace ringlog::broker
