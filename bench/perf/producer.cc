#include "bench/perf/producer.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "base/bytes.h"
#include "base/clock.h"
#include "bench/perf/partitioner.h"
#include "engine/runtime/timer.h"
#include "engine/runtime/when_all.h"
#include "net/protocol/api/produce.h"
#include "net/protocol/errors.h"

namespace ringlog::perf {
namespace {

// In unthrottled duration runs the clock is read once per this many records.
constexpr uint64_t k_clock_every = 64;

void fail(producer_state* st, std::string message) {
  {
    std::lock_guard lock(st->stats->mu);
    st->stats->add_error(std::move(message));
  }
  st->failed = true;
  st->conn.shutdown();
  st->ev.notify_all();
}

void record_acked(producer_state* st, const sent_batch& b, int64_t now_ns) {
  std::lock_guard lock(st->stats->mu);
  for (const int64_t t : b.enqueue_ns) {
    const uint64_t us = now_ns > t ? static_cast<uint64_t>(now_ns - t) / 1000 : 0;
    st->stats->total.record(us);
    st->stats->interval.record(us);
  }
  st->stats->records += b.enqueue_ns.size();
  st->stats->bytes += b.enqueue_ns.size() * uint64_t{st->opt->produce.record_size};
  st->stats->wire_bytes += b.wire_bytes;
  if (st->acked_total != nullptr) {
    st->acked_total->fetch_add(b.enqueue_ns.size(), std::memory_order_relaxed);
  }
}

// Matches a response to the request's batches: acked batches count, a
// partition with an error code (or missing) counts as an error.
void handle_response(producer_state* st, const in_flight_request& req,
                     const protocol::produce_response& resp, int64_t now_ns) {
  using partition_response = protocol::produce_response::partition_produce_response;
  std::vector<const partition_response*> answers;
  for (const auto& t : resp.responses) {
    if (t.name != st->opt->common.topic && !t.name.empty()) continue;
    for (const auto& p : t.partition_responses) answers.push_back(&p);
  }
  for (size_t k = 0; k < req.batches.size(); ++k) {
    const sent_batch& b = req.batches[k];
    // Brokers answer in request order; search only when this one did not.
    const partition_response* found = nullptr;
    if (k < answers.size() && answers[k]->index == b.partition) {
      found = answers[k];
    } else {
      for (const partition_response* p : answers) {
        if (p->index == b.partition) found = p;
      }
    }
    const auto where = [&] { return st->opt->common.topic + "-" + std::to_string(b.partition); };
    if (found == nullptr) {
      std::lock_guard lock(st->stats->mu);
      st->stats->add_error("Produce " + where() + ": partition missing from the response");
    } else if (found->error_code != 0) {
      std::lock_guard lock(st->stats->mu);
      st->stats->add_error(
          "Produce " + where() + ": " +
          std::string(protocol::name_of(static_cast<protocol::kafka_error>(found->error_code))) +
          (found->error_message ? ": " + *found->error_message : std::string()));
    } else {
      record_acked(st, b, now_ns);
    }
  }
  std::lock_guard lock(st->stats->mu);
  ++st->stats->requests;
  st->stats->request.record(now_ns > req.sent_ns ? static_cast<uint64_t>(now_ns - req.sent_ns) / 1000
                                                 : 0);
}

task<void> produce_reader(producer_state* st) {
  protocol::produce_response resp;
  // Wait a little longer than the broker's own timeout before giving up.
  const int32_t wait_ms = st->opt->common.timeout_ms + 5000;
  for (;;) {
    while (st->in_flight.empty() && !st->sender_done && !st->failed) {
      (void)co_await st->ev.wait();
    }
    if (st->failed || st->in_flight.empty()) break;
    auto frame = co_await st->conn.receive(wait_ms);
    const int64_t now = monotonic_ns();
    if (!frame) {
      fail(st, "Produce response: " + frame.error().message());
      break;
    }
    resp = protocol::produce_response();
    const in_flight_request& req = st->in_flight.front();
    if (auto s = decode_response(*frame, req.correlation_id, st->versions.produce, resp); !s) {
      fail(st, "Produce response: " + s.error().message());
      break;
    }
    handle_response(st, req, resp, now);
    st->in_flight.pop_front();
    st->ev.notify_all();
  }
}

// A record value: a slice of the payload pool at a pseudo-random offset.
std::span<const std::byte> next_value(producer_state* st) {
  const size_t size = st->opt->produce.record_size;
  st->rng ^= st->rng << 13;
  st->rng ^= st->rng >> 7;
  st->rng ^= st->rng << 17;
  const size_t slots = st->payload_pool.size() - size + 1;
  return st->payload_pool.subspan(static_cast<size_t>(st->rng % slots), size);
}

void start_batch(const producer_state* st, open_batch& b) {
  record::batch_options bo;
  bo.codec = st->opt->produce.codec;
  b.builder.emplace(bo);
  b.enqueue_ns.clear();
  b.full = false;
}

task<void> produce_sender(producer_state* st) {
  const produce_options& po = st->opt->produce;
  const int64_t linger_ns = int64_t{po.linger_ms} * 1'000'000;
  std::vector<open_batch> open(st->partitions.size());
  for (size_t i = 0; i < open.size(); ++i) {
    open[i].partition = st->partitions[i];
    start_batch(st, open[i]);
  }
  protocol::wire_writer writer;
  std::vector<std::vector<std::byte>> built(open.size());
  protocol::produce_request req;
  req.acks = po.acks;
  req.timeout_ms = st->opt->common.timeout_ms;
  req.topic_data.resize(1);
  req.topic_data[0].name = st->opt->common.topic;

  const int64_t start = monotonic_ns();
  int64_t next_due = start;
  uint64_t generated = 0;
  partition_chooser chooser(po.partitioner, open.size());
  const bool sticky = po.partitioner == partitioner_kind::sticky;
  size_t drain_from = 0;  // the open batch the next request starts with
  const size_t full_at = batch_full_at(po.batch_bytes, po.record_size);
  for (;;) {
    if (st->failed) break;
    int64_t now = monotonic_ns();
    bool finished =
        (st->budget != 0 && generated >= st->budget) || now >= st->end_ns || interrupted();

    // Append every record that is due, until a batch fills. Sticky,
    // unthrottled or while every in-flight slot is taken: fill the batches of
    // the next partitions too, up to one request of full batches (Kafka's
    // accumulator fills batches while the sender cannot keep up; the next
    // request drains them all, up to max.request.size).
    const bool keep_filling =
        sticky && (st->interval_ns == 0 || (po.acks != 0 && st->in_flight.size() >= po.in_flight));
    size_t full_bytes = 0;  // of full batches not sent yet
    if (keep_filling) {
      for (const open_batch& b : open) {
        if (b.full) full_bytes += b.builder->uncompressed_size_bytes();
      }
    }
    const int64_t wall = wall_ms();
    while (!finished) {
      if (st->interval_ns != 0 && next_due > now) break;
      const size_t bi = chooser.next();
      open_batch& b = open[bi];
      if (sticky && b.full) {
        break;  // came round to a full batch not sent yet: send it first
      }
      const int64_t enqueue_ns = st->interval_ns != 0 ? next_due : now;
      record::record_data rec;
      rec.value = next_value(st);
      if (st->stamp_values) {
        st->value_scratch.assign(rec.value->begin(), rec.value->end());
        store_be64(st->value_scratch.data(), static_cast<uint64_t>(enqueue_ns));
        rec.value = std::span<const std::byte>(st->value_scratch);
      }
      rec.timestamp_ms = wall;
      b.builder->add(rec);
      b.enqueue_ns.push_back(enqueue_ns);
      next_due += st->interval_ns;
      ++generated;
      bool stop = false;
      if (const size_t size = b.builder->uncompressed_size_bytes(); size >= full_at) {
        b.full = true;
        chooser.closed(bi);
        full_bytes += size;
        stop = !keep_filling || full_bytes + po.batch_bytes > po.request_max_bytes;
      }
      if (st->budget != 0 && generated >= st->budget) finished = true;
      if (st->interval_ns == 0 && generated % k_clock_every == 0) {
        now = monotonic_ns();
        if (now >= st->end_ns) finished = true;
      }
      if (stop) break;
    }

    // Once any batch is ready, send every open batch (up to the request
    // size), as Kafka's accumulator drains all partitions of a ready node.
    int64_t oldest = std::numeric_limits<int64_t>::max();
    bool any_ready = false;
    for (const open_batch& b : open) {
      if (b.enqueue_ns.empty()) continue;
      oldest = std::min(oldest, b.enqueue_ns.front());
      if (b.full || finished || now - b.enqueue_ns.front() >= linger_ns) any_ready = true;
    }
    if (any_ready) {
      while (st->in_flight.size() >= po.in_flight && !st->failed) (void)co_await st->ev.wait();
      if (st->failed) break;
      now = monotonic_ns();
      in_flight_request sent;
      auto& parts = req.topic_data[0].partition_data;
      parts.clear();
      // Fill the request up to --request-max-bytes (at least one batch),
      // starting where the last request stopped, so every partition gets its
      // turn when not all fit (Kafka's drainIndex).
      size_t request_bytes = 0;
      size_t next_from = (drain_from + 1) % open.size();
      for (size_t k = 0; k < open.size(); ++k) {
        const size_t i = (drain_from + k) % open.size();
        open_batch& b = open[i];
        if (b.enqueue_ns.empty()) continue;
        built[i].clear();
        if (auto s = b.builder->build(built[i]); !s) {
          fail(st, "building a batch: " + s.error().message());
          break;
        }
        if (!parts.empty() && request_bytes + built[i].size() > po.request_max_bytes) {
          next_from = i;  // this batch leads the next request; its builder is untouched
          break;
        }
        request_bytes += built[i].size();
        protocol::produce_request::partition_produce_data pd;
        pd.index = b.partition;
        pd.records.is_null = false;
        pd.records.bytes = std::span<std::byte>(built[i]);
        parts.push_back(std::move(pd));
        sent_batch sb;
        sb.partition = b.partition;
        sb.wire_bytes = built[i].size();
        sb.enqueue_ns = std::move(b.enqueue_ns);
        sent.batches.push_back(std::move(sb));
        // Sent before it filled (lingered, drained with others, the end):
        // closed now, so sticky moves on to the next partition.
        if (!b.full) chooser.closed(i);
        start_batch(st, b);
      }
      if (st->failed) break;
      drain_from = next_from;
      sent.correlation_id =
          st->conn.encode(writer, req, st->versions.produce, st->opt->common.client_id);
      sent.sent_ns = monotonic_ns();
      if (po.acks != 0) {
        st->in_flight.push_back(std::move(sent));
        st->ev.notify_all();
      }
      auto s = co_await st->conn.send_all(writer.memory());
      if (!s) {
        fail(st, "Produce request: " + s.error().message());
        break;
      }
      if (po.acks == 0) {
        // No response comes: a record counts as acknowledged once sent.
        const int64_t t = monotonic_ns();
        for (const sent_batch& b : sent.batches) record_acked(st, b, t);
        std::lock_guard lock(st->stats->mu);
        ++st->stats->requests;
      }
      continue;
    }
    if (finished) break;  // and nothing left open

    // Nothing ready: sleep until the next record is due or a linger ends.
    int64_t wake = st->end_ns;
    if (st->interval_ns != 0) wake = std::min(wake, next_due);
    if (oldest != std::numeric_limits<int64_t>::max()) wake = std::min(wake, oldest + linger_ns);
    // Wake at least every 100 ms to notice an interrupt.
    wake = std::min(wake, now + 100'000'000);
    auto slept = co_await sleep_until(wake);
    (void)slept;
  }
  st->sender_done = true;
  st->ev.notify_all();
}

}  // namespace

task<void> run_producer(producer_state* st) {
  auto c =
      co_await st->conn.connect(st->opt->common.bootstrap_host, st->opt->common.bootstrap_port);
  if (!c) {
    fail(st, "connect: " + c.error().message());
    co_return;
  }
  std::vector<task<void>> both;
  both.push_back(produce_sender(st));
  if (st->opt->produce.acks != 0) both.push_back(produce_reader(st));
  co_await when_all(std::move(both));
  st->conn.close();
}

task<void> run_producers(std::vector<producer_state*> producers) {
  std::vector<task<void>> all;
  for (producer_state* st : producers) all.push_back(run_producer(st));
  co_await when_all(std::move(all));
}

std::vector<std::byte> make_payload_pool(uint32_t record_size) {
  std::vector<std::byte> pool(size_t{record_size} + (size_t{4} << 20));
  std::mt19937_64 rng(42);
  for (auto& b : pool) b = static_cast<std::byte>(rng());
  return pool;
}

std::vector<std::unique_ptr<producer_state>> make_producers(
    const perf_options& o, const topic_setup& setup, std::span<const std::byte> payload_pool,
    std::vector<std::unique_ptr<shard_stats>>& stats, int64_t start_ns,
    std::vector<std::vector<producer_state*>>& per_shard) {
  const std::vector<int32_t>& partitions = setup.partitions;
  const unsigned conns = o.common.connections;
  const size_t shards = per_shard.size();
  std::vector<std::unique_ptr<producer_state>> states;
  for (unsigned i = 0; i < conns; ++i) {
    auto st = std::make_unique<producer_state>();
    st->opt = &o;
    st->stats = stats[i % shards].get();
    st->versions = setup.versions;
    st->payload_pool = payload_pool;
    st->rng = 0x9e3779b97f4a7c15ull * (i + 1);
    if (partitions.size() >= conns) {
      for (size_t p = i; p < partitions.size(); p += conns) st->partitions.push_back(partitions[p]);
    } else {
      st->partitions.push_back(partitions[i % partitions.size()]);
    }
    if (o.common.records != 0) {
      st->budget = o.common.records / conns + (i < o.common.records % conns ? 1 : 0);
      if (st->budget == 0) continue;  // more connections than records
    } else {
      st->end_ns = start_ns + static_cast<int64_t>(o.common.duration_s * 1e9);
    }
    if (o.produce.rate != 0) {
      st->interval_ns = std::max<int64_t>(
          1, static_cast<int64_t>(1e9 * conns / static_cast<double>(o.produce.rate)));
    }
    per_shard[i % shards].push_back(st.get());
    states.push_back(std::move(st));
  }
  return states;
}

}  // namespace ringlog::perf
