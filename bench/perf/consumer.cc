#include "bench/perf/consumer.h"

#include <algorithm>
#include <string>

#include "base/bytes.h"
#include "base/clock.h"
#include "engine/record/batch_header.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/when_all.h"
#include "net/protocol/api/fetch.h"
#include "net/protocol/errors.h"

namespace ringlog::perf {
namespace {

void add_error(consumer_state* st, std::string message) {
  std::lock_guard lock(st->stats->mu);
  st->stats->add_error(std::move(message));
}

std::string kafka_error_name(int16_t code) {
  return std::string(protocol::name_of(static_cast<protocol::kafka_error>(code)));
}

struct walk_totals {
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// e2e: records the latency of each record at or after `from_offset`.
bool measure_records(consumer_state* st, const record::record_batch_view& view, int64_t from_offset,
                     int64_t received_ns, const std::string& where) {
  auto it = record::record_iterator::open(view, st->scratch, {.allow_offset_gaps = true});
  if (!it) {
    add_error(st, "Fetch " + where + ": " + it.error().message());
    return false;
  }
  std::lock_guard lock(st->stats->mu);
  for (;;) {
    auto r = it->next();
    if (!r) {
      st->stats->add_error("Fetch " + where + ": " + r.error().message());
      return false;
    }
    if (!*r) return true;
    const record::record_view& rec = **r;
    if (rec.offset() < from_offset) continue;
    if (!rec.value() || rec.value()->size() < 8) {
      st->stats->add_error("Fetch " + where + ": a record without an e2e timestamp at offset " +
                           std::to_string(rec.offset()));
      return false;
    }
    const auto stamp = static_cast<int64_t>(load_be64(rec.value()->data()));
    if (stamp < st->measure_from_ns) continue;  // warm-up
    const uint64_t us = received_ns > stamp ? static_cast<uint64_t>(received_ns - stamp) / 1000 : 0;
    st->stats->total.record(us);
    st->stats->interval.record(us);
  }
}

// Walks the batches of one partition's records by their headers, advancing
// *offset past each. A partial batch at the end (the broker cuts at the size
// limit) is left for the next fetch. False on a corrupt batch.
bool walk_batches(consumer_state* st, int32_t partition, std::span<std::byte> data, int64_t* offset,
                  int64_t received_ns, walk_totals& totals) {
  const auto where = [&] {
    return st->opt->common.topic + "-" + std::to_string(partition) + " at offset " +
           std::to_string(*offset);
  };
  size_t pos = 0;
  while (data.size() - pos >= record::k_batch_header_bytes) {
    const std::span<const std::byte> rest = data.subspan(pos);
    auto size = record::record_batch_view::peek_size(rest);
    if (!size) {
      add_error(st, "Fetch " + where() + ": " + size.error().message());
      return false;
    }
    if (*size > rest.size()) break;
    const std::span<const std::byte> batch = rest.first(*size);
    const int64_t base = static_cast<int64_t>(load_be64(batch.data() + record::k_base_offset_pos));
    const int32_t last_delta =
        static_cast<int32_t>(load_be32(batch.data() + record::k_last_offset_delta_pos));
    const int32_t count =
        static_cast<int32_t>(load_be32(batch.data() + record::k_records_count_pos));
    const int64_t next = base + last_delta + 1;
    if (next > *offset) {  // a batch wholly before the fetch offset was seen already
      if (st->opt->consume.verify || st->e2e) {
        auto view = record::record_batch_view::parse(batch, {.allow_offset_gaps = true});
        if (!view) {
          add_error(st, "Fetch " + where() + ": " + view.error().message());
          return false;
        }
        if (st->e2e && !measure_records(st, *view, *offset, received_ns, where())) return false;
      }
      totals.records += static_cast<uint64_t>(std::max(count, 0));
      totals.bytes += batch.size();
      *offset = next;
    }
    pos += *size;
  }
  return true;
}

}  // namespace

task<void> run_consumer(consumer_state* st) {
  auto c =
      co_await st->conn.connect(st->opt->common.bootstrap_host, st->opt->common.bootstrap_port);
  if (!c) {
    add_error(st, "connect: " + c.error().message());
    co_return;
  }
  const consume_options& copt = st->opt->consume;
  protocol::fetch_request req;
  req.replica_id = -1;
  req.max_wait_ms = copt.max_wait_ms;
  req.min_bytes = 1;
  req.max_bytes = copt.fetch_max_bytes;
  req.isolation_level = 0;
  req.session_id = 0;
  req.session_epoch = -1;  // a full fetch each time: no incremental session
  req.topics.resize(1);
  req.topics[0].topic = st->opt->common.topic;
  req.topics[0].partitions.resize(st->partitions.size());
  for (size_t i = 0; i < st->partitions.size(); ++i) {
    req.topics[0].partitions[i].partition = st->partitions[i];
    req.topics[0].partitions[i].partition_max_bytes = copt.partition_max_bytes;
  }
  protocol::wire_writer writer;
  protocol::fetch_response resp;
  const int32_t wait_ms = copt.max_wait_ms + 30000;
  int64_t last_record_ns = monotonic_ns();
  while (!st->goal->reached(monotonic_ns())) {
    for (size_t i = 0; i < st->partitions.size(); ++i) {
      req.topics[0].partitions[i].fetch_offset = st->offsets[i];
    }
    const int32_t id = st->conn.encode(writer, req, st->versions.fetch, st->opt->common.client_id);
    const int64_t t0 = monotonic_ns();
    if (auto s = co_await st->conn.send_all(writer.memory()); !s) {
      add_error(st, "Fetch request: " + s.error().message());
      break;
    }
    auto frame = co_await st->conn.receive(wait_ms);
    const int64_t t1 = monotonic_ns();
    if (!frame) {
      add_error(st, "Fetch response: " + frame.error().message());
      break;
    }
    resp = protocol::fetch_response();
    if (auto s = decode_response(*frame, id, st->versions.fetch, resp); !s) {
      add_error(st, "Fetch response: " + s.error().message());
      break;
    }
    if (resp.error_code != 0) {
      add_error(st, "Fetch: " + kafka_error_name(resp.error_code));
      break;
    }
    walk_totals totals;
    bool good = true;
    size_t guess = 0;  // brokers answer in request order; search only when not
    for (auto& t : resp.responses) {
      for (auto& p : t.partitions) {
        size_t i = guess;
        if (i >= st->partitions.size() || st->partitions[i] != p.partition_index) {
          i = 0;
          while (i < st->partitions.size() && st->partitions[i] != p.partition_index) ++i;
        }
        if (i == st->partitions.size()) continue;
        guess = i + 1;
        if (p.error_code != 0) {
          add_error(st, "Fetch " + st->opt->common.topic + "-" + std::to_string(p.partition_index) +
                            ": " + kafka_error_name(p.error_code));
          good = false;
          continue;
        }
        if (p.records.is_null) continue;
        if (!walk_batches(st, p.partition_index, p.records.bytes, &st->offsets[i], t1, totals)) {
          good = false;
        }
      }
    }
    st->goal->consumed.fetch_add(totals.records, std::memory_order_relaxed);
    {
      std::lock_guard lock(st->stats->mu);
      if (!st->e2e) {
        const uint64_t us = static_cast<uint64_t>(t1 - t0) / 1000;
        st->stats->total.record(us);
        st->stats->interval.record(us);
      }
      st->stats->records += totals.records;
      st->stats->bytes += totals.bytes;
      st->stats->wire_bytes += frame->size() + 4;
      ++st->stats->requests;
    }
    if (!good) break;
    if (totals.records != 0) {
      last_record_ns = t1;
    } else if (st->idle_timeout_ns > 0 && t1 - last_record_ns > st->idle_timeout_ns &&
               !st->goal->reached(t1)) {
      add_error(st, "Fetch: no records for " + std::to_string(st->idle_timeout_ns / 1'000'000) +
                        " ms, " + std::to_string(st->goal->consumed.load()) + " consumed in all");
      break;
    }
  }
  st->conn.close();
}

task<void> run_consumers(std::vector<consumer_state*> consumers) {
  std::vector<task<void>> all;
  for (consumer_state* st : consumers) all.push_back(run_consumer(st));
  co_await when_all(std::move(all));
}

std::vector<std::unique_ptr<consumer_state>> make_consumers(
    const perf_options& o, const topic_setup& setup, consume_goal& goal,
    std::vector<std::unique_ptr<shard_stats>>& stats,
    std::vector<std::vector<consumer_state*>>& per_shard) {
  const size_t nparts = setup.partitions.size();
  const auto conns = static_cast<unsigned>(std::min<size_t>(o.common.connections, nparts));
  const size_t shards = per_shard.size();
  std::vector<std::unique_ptr<consumer_state>> states;
  for (unsigned i = 0; i < conns; ++i) {
    auto st = std::make_unique<consumer_state>();
    st->opt = &o;
    st->stats = stats[i % shards].get();
    st->goal = &goal;
    st->versions = setup.versions;
    for (size_t p = i; p < nparts; p += conns) {
      st->partitions.push_back(setup.partitions[p]);
      st->offsets.push_back(setup.offsets[p]);
    }
    per_shard[i % shards].push_back(st.get());
    states.push_back(std::move(st));
  }
  return states;
}

}  // namespace ringlog::perf
