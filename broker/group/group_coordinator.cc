// The per-shard group registry, its timer loop, and its __consumer_offsets
// records: appending them durably and replaying them at start.
#include "broker/group/group_coordinator.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <limits>

#include "base/clock.h"
#include "base/log.h"
#include "base/saturating.h"
#include "broker/group/group_records.h"
#include "engine/log/log_manager.h"
#include "engine/log/partition_log.h"
#include "engine/record/batch_builder.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/io.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/timer.h"

namespace ringlog::broker {

int32_t java_string_hash(std::string_view s) noexcept {
  uint32_t h = 0;
  auto add = [&h](uint32_t unit) { h = 31 * h + unit; };
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[k])); };
  while (i < s.size()) {
    const uint32_t b0 = byte(i);
    uint32_t cp = 0xFFFD;
    size_t len = 1;
    if (b0 < 0x80) {
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
    }
    if (len > 1) {
      bool valid = i + len <= s.size();
      for (size_t k = 1; valid && k < len; ++k) valid = (byte(i + k) & 0xC0) == 0x80;
      if (valid) {
        cp = b0 & (0x7F >> len);
        for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (byte(i + k) & 0x3F);
      } else {
        len = 1;
      }
    }
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      add(0xD800 + (cp >> 10));
      add(0xDC00 + (cp & 0x3FF));
    } else {
      add(cp);
    }
  }
  return static_cast<int32_t>(h);
}

int32_t offsets_partition_for(std::string_view group_id, int32_t num_partitions) noexcept {
  const int32_t h = java_string_hash(group_id);
  const int32_t a = h == std::numeric_limits<int32_t>::min() ? 0 : std::abs(h);
  return a % num_partitions;
}

group_coordinator::group_coordinator(const group_limits& limits, const clock& time)
    : _limits(limits), _time(time), _random(std::random_device{}()) {}

group_coordinator::~group_coordinator() {
  for (auto& [id, g] : _groups) g->shut(kafka_error::coordinator_not_available);
}

group* group_coordinator::lookup(const std::string& id) noexcept {
  auto it = _groups.find(id);
  return it == _groups.end() ? nullptr : it->second.get();
}

group* group_coordinator::find(const std::string& id) {
  group* g = lookup(id);
  if (g == nullptr) return nullptr;
  g->tick(now_ms());
  store_later(*g);
  return g;
}

group& group_coordinator::get_or_create(const std::string& id) {
  auto& slot = _groups[id];
  if (!slot) {
    slot = std::make_unique<group>(
        id, _limits, [this](std::string_view client_id) { return new_member_id(client_id); });
  }
  return *slot;
}

void group_coordinator::erase(const std::string& id, kafka_error why) {
  auto it = _groups.find(id);
  if (it == _groups.end()) return;
  it->second->shut(why);
  _groups.erase(it);
}

void group_coordinator::tick(int64_t now_ms) {
  for (auto& [id, g] : _groups) {
    g->tick(now_ms);
    store_later(*g);
  }
}

task<kafka_error> group_coordinator::append(std::string group_id,
                                            std::vector<group_record> records) {
  RINGLOG_ASSERT(!records.empty(), "an empty append for group {}", group_id);
  if (_logs == nullptr || _num_partitions <= 0) co_return kafka_error::coordinator_not_available;
  storage::topic_partition tp{std::string(k_offsets_topic),
                              offsets_partition_for(group_id, _num_partitions)};
  RINGLOG_ASSERT(_logs->shard_of(tp) == shard::current()->id(),
                 "group {} written from shard {}, not its partition's", group_id,
                 shard::current()->id());
  storage::partition_log* log = _logs->get(tp);
  if (log == nullptr) co_return kafka_error::coordinator_not_available;
  record::batch_options options;
  record::batch_builder builder(options);
  const int64_t now = wall_ms();
  for (const auto& r : records) {
    record::record_data d;
    d.key = std::span<const std::byte>(r.key);
    if (r.value) d.value = std::span<const std::byte>(*r.value);
    d.timestamp_ms = now;
    builder.add(d);
  }
  auto batch = builder.build();
  if (!batch) {
    RINGLOG_WARN("group {}: cannot build its record batch: {}", group_id, batch.error().message());
    co_return kafka_error::coordinator_not_available;
  }
  std::vector<std::byte> bytes = std::move(*batch);
  auto appended = co_await log->append(std::span<std::byte>(bytes), storage::durability::fsync);
  if (!appended) {
    RINGLOG_WARN("group {}: cannot append to {}: {}", group_id, tp.dir_name(),
                 appended.error().message());
    co_return kafka_error::coordinator_not_available;
  }
  co_return kafka_error::none;
}

task<kafka_error> group_coordinator::store_group(std::string group_id) {
  group* g = lookup(group_id);
  if (g == nullptr || g->generation() == g->stored_generation ||
      (g->state() != group_state::stable && g->state() != group_state::empty)) {
    co_return kafka_error::none;
  }
  const int32_t generation = g->generation();
  g->stored_generation = generation;
  std::vector<group_record> records(1);
  records[0].key = encode_group_key(group_id);
  records[0].value = encode_group_value(g->snapshot(wall_ms()));
  const kafka_error error = co_await append(group_id, std::move(records));
  // The group may have been deleted or rebalanced again meanwhile.
  g = lookup(group_id);
  if (g != nullptr && g->stored_generation == generation) {
    g->durable_generation = generation;
    g->store_error = error;
  }
  _stored.notify_all();
  co_return error;
}

task<kafka_error> group_coordinator::wait_stored(std::string group_id, int32_t generation) {
  while (!_stopped) {
    const group* g = lookup(group_id);
    if (g == nullptr || g->stored_generation != generation) co_return kafka_error::none;
    if (g->durable_generation == generation) co_return g->store_error;
    if (co_await _stored.wait(&_stop) != wake_reason::notified) break;
  }
  co_return kafka_error::coordinator_not_available;
}

void group_coordinator::store_later(const group& g) {
  if (_stopped || g.generation() == g.stored_generation ||
      (g.state() != group_state::stable && g.state() != group_state::empty)) {
    return;
  }
  spawn(store_group(g.id()), "group metadata");
}

void group_coordinator::apply(std::span<const std::byte> key,
                              const std::optional<std::span<const std::byte>>& value) {
  auto k = decode_key(key);
  if (!k) {
    RINGLOG_WARN("{}: a record key that does not parse; skipped", k_offsets_topic);
    return;
  }
  const int64_t now = now_ms();
  switch (k->type) {
    case parsed_key::kind::offset: {
      if (!value) {
        // Replay restores state as it was written: no expiry while loading.
        if (group* g = lookup(k->group)) g->offsets().erase(k->offset.topic, k->offset.partition);
        return;
      }
      auto v = decode_offset_value(*value);
      if (!v) {
        RINGLOG_WARN("{}: an offset of group {} does not parse; skipped", k_offsets_topic,
                     k->group);
        return;
      }
      get_or_create(k->group).offsets().commit(k->offset.topic, k->offset.partition, std::move(*v));
      return;
    }
    case parsed_key::kind::group: {
      if (!value) {
        erase(k->group, kafka_error::coordinator_not_available);
        return;
      }
      auto v = decode_group_value(*value);
      if (!v) {
        RINGLOG_WARN("{}: the metadata of group {} does not parse; skipped", k_offsets_topic,
                     k->group);
        return;
      }
      get_or_create(k->group).restore(*v, now);
      return;
    }
    case parsed_key::kind::other:
      return;
  }
}

task<status> group_coordinator::load_partition(storage::partition_log& log) {
  int64_t offset = log.log_start_offset();
  const int64_t end = log.written_end();
  std::vector<std::byte> buffer;
  std::vector<std::byte> scratch;
  while (offset < end) {
    auto slice = co_await log.read(offset, 1 << 20, storage::read_bound::written);
    if (!slice) co_return slice.error();
    if (slice->bytes == 0) break;
    buffer.resize(slice->bytes);
    size_t got = 0;
    while (got < buffer.size()) {
      std::span<std::byte> rest(buffer.data() + got, buffer.size() - got);
      auto n = co_await io::read(slice->file->fd, rest, slice->position + got);
      if (!n) co_return n.error();
      if (*n == 0) break;
      got += *n;
    }
    // __consumer_offsets is compacted: batches may have offset gaps.
    record::batch_iterator it(std::span<const std::byte>(buffer.data(), got),
                              {.allow_offset_gaps = true});
    int64_t next = offset;
    for (;;) {
      auto batch = it.next();
      if (!batch || !batch->has_value()) break;
      const record::record_batch_view& v = **batch;
      next = v.last_offset() + 1;
      if (v.last_offset() < offset || v.is_control()) continue;
      auto records = record::record_iterator::open(v, scratch, {.allow_offset_gaps = true});
      if (!records) co_return records.error();
      for (;;) {
        auto r = records->next();
        if (!r) co_return r.error();
        if (!r->has_value()) break;
        const record::record_view& rec = **r;
        if (rec.offset() < offset || !rec.key()) continue;
        apply(*rec.key(), rec.value());
      }
    }
    if (next <= offset) break;
    offset = next;
  }
  co_return ok();
}

task<status> group_coordinator::load() {
  _loading = true;
  if (_logs != nullptr) {
    const unsigned me = shard::current()->id();
    for (int32_t p = 0; p < _num_partitions; ++p) {
      storage::topic_partition tp{std::string(k_offsets_topic), p};
      if (_logs->shard_of(tp) != me) continue;
      storage::partition_log* log = _logs->get(tp);
      if (log == nullptr) continue;
      if (status st = co_await load_partition(*log); !st) {
        _loading = false;
        RINGLOG_ERROR("loading groups from {}: {}", tp.dir_name(), st.error().message());
        co_return st;
      }
    }
  }
  _loading = false;
  co_return ok();
}

task<void> group_coordinator::run(int64_t interval_ms) {
  int64_t next_retention_check_ms =
      add_saturating(now_ms(), _limits.offsets_retention_check_interval_ms);
  for (;;) {
    auto slept = co_await sleep_for_ms(interval_ms).with_cancel(_stop);
    if (!slept) break;
    const int64_t now = now_ms();
    tick(now);
    if (now >= next_retention_check_ms) {
      next_retention_check_ms = add_saturating(now, _limits.offsets_retention_check_interval_ms);
      expire_offsets(wall_ms(), _limits.offsets_retention_ms);
    }
  }
}

void group_coordinator::expire_offsets(int64_t wall_now_ms, int64_t retention_ms) {
  if (_stopped || _loading) return;
  for (auto& [id, g] : _groups) {
    auto expired = g->expired_offsets(wall_now_ms, retention_ms);
    const bool empty_without_offsets = g->state() == group_state::empty && g->offsets().empty();
    if (expired.empty() && !empty_without_offsets) continue;
    spawn(remove_offsets(id, std::move(expired)), "offsets retention");
  }
}

task<void> group_coordinator::remove_offsets(std::string group_id,
                                             std::vector<std::pair<std::string, int32_t>> expired) {
  std::vector<group_record> records;
  for (const auto& [topic, partition] : expired) {
    offset_key key;
    key.group = group_id;
    key.topic = topic;
    key.partition = partition;
    records.emplace_back().key = encode_offset_key(key);
  }
  group* g = lookup(group_id);
  if (g == nullptr) co_return;
  size_t left = 0;
  for (const auto& [t, parts] : g->offsets().topics()) left += parts.size();
  // An Empty group that loses its last offsets is gone (Kafka: Dead).
  const bool drop_group = g->state() == group_state::empty && left == expired.size();
  if (drop_group) records.emplace_back().key = encode_group_key(group_id);
  if (records.empty()) co_return;
  const kafka_error stored = co_await append(group_id, std::move(records));
  if (stored != kafka_error::none) co_return;
  g = lookup(group_id);
  if (g == nullptr) co_return;
  for (const auto& [topic, partition] : expired) g->offsets().erase(topic, partition);
  if (drop_group && g->state() == group_state::empty && g->offsets().empty()) {
    RINGLOG_INFO("group {}: its offsets expired; the group is removed", group_id);
    erase(group_id, kafka_error::coordinator_not_available);
  }
}

void group_coordinator::stop() {
  if (_stopped) return;
  _stopped = true;
  for (auto& [id, g] : _groups) g->shut(kafka_error::coordinator_not_available);
  _stop.cancel();
}

// Kafka's member ids: `<client.id>-<random UUID>`.
std::string group_coordinator::new_member_id(std::string_view client_id) {
  const uint64_t hi = (_random() & 0xFFFFFFFFFFFF0FFFull) | 0x4000ull;
  const uint64_t lo = (_random() & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  return fmt::format("{}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", client_id, hi >> 32,
                     (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFull);
}

}  // namespace ringlog::broker
