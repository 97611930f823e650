// Fetch: reads each partition on its owning shard and answers with file
// ranges of the segments — the connection sends the record bytes with splice,
// so they never enter user space.
//
// Limits as Kafka applies them: each partition returns at most
// partition_max_bytes, and the response at most max_bytes, except that the
// first partition with data always gets its first batch whole (so a batch
// larger than the limits still makes progress) and nothing more past
// max_bytes. A read ending inside a batch is fine: clients drop a trailing
// partial batch.
//
// Long poll: with fewer than min_bytes available and max_wait_ms > 0 the
// request parks until an append makes data visible in one of its partitions
// (fetch_waiters.h), the wait ends, or the connection closes; then it reads
// again.
//
// Sessions (KIP-227) are not kept: every response carries session id 0, which
// tells v7+ clients to send full fetch requests.
#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/kafka_errors.h"
#include "controller/controller.h"
#include "engine/log/log_manager.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/when_all.h"
#include "net/protocol/api/fetch.h"

namespace ringlog::broker {
namespace {

using protocol::kafka_error;

struct partition_read {
  storage::topic_partition tp;
  int64_t offset = 0;
  uint32_t max_bytes = 0;
  unsigned owner = 0;
  // Filled on the owning shard.
  kafka_error error = kafka_error::none;
  int64_t high_watermark = -1;
  int64_t log_start_offset = -1;
  storage::read_slice slice;
  protocol::fetch_response::partition_data* out = nullptr;
};

// On the owning shard: reads every partition of `reads` that lives here.
task<void> read_local(broker& b, std::vector<partition_read*>& reads) {
  for (partition_read* r : reads) {
    storage::partition_log* log = b.logs().get(r->tp);
    r->slice = {};
    if (log == nullptr) {
      r->error = kafka_error::unknown_topic_or_partition;
      continue;
    }
    r->high_watermark = log->high_watermark();
    r->log_start_offset = log->log_start_offset();
    auto slice = co_await log->read(r->offset, r->max_bytes);
    if (!slice) {
      r->error = to_kafka_error(slice.error());
      continue;
    }
    r->error = kafka_error::none;
    r->slice = std::move(*slice);
  }
}

// On the owning shard: parks `w` on each partition, or fires it at once when
// one already has data past the fetch offset.
void register_local(broker& b, std::vector<partition_read*>& reads,
                    const std::shared_ptr<fetch_wakeup>& w) {
  for (partition_read* r : reads) {
    storage::partition_log* log = b.logs().get(r->tp);
    if (log == nullptr || log->high_watermark() > r->offset) {
      fetch_waiters::fire(w);
      continue;
    }
    b.waiters().add(r->tp, w);
  }
}

void unregister_local(broker& b, std::vector<partition_read*>& reads, const fetch_wakeup* w) {
  for (partition_read* r : reads) b.waiters().remove(r->tp, w);
}

task<void> read_group(broker& b, unsigned owner, std::vector<partition_read*>* group) {
  co_await invoke_on(owner, [&] { return read_local(b, *group); });
}

// Kafka's response limit: the partitions, in request order, share max_bytes;
// the first one with data may pass it by no more than its first batch (so a
// batch larger than max_bytes still makes progress). Each partition was read
// up to its own partition_max_bytes; this trims the slices (a cut inside a
// batch is fine, clients drop a trailing partial batch) and returns the
// response's record bytes.
uint64_t apply_response_limit(std::vector<partition_read>& reads, uint64_t max_bytes) {
  uint64_t total = 0;
  for (auto& r : reads) {
    const uint64_t left = max_bytes > total ? max_bytes - total : 0;
    const uint64_t allowed =
        total == 0 ? std::max<uint64_t>(left, r.slice.first_batch_bytes) : left;
    const uint64_t bytes = std::min<uint64_t>(r.slice.bytes, allowed);
    r.slice.bytes = static_cast<uint32_t>(bytes);
    total += bytes;
  }
  return total;
}

}  // namespace

task<net::reply> handle_fetch(broker& b, net::request_context& ctx, protocol::wire_writer& out) {
  protocol::fetch_request request;
  if (!decode_request(ctx, request, "Fetch")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;
  const int64_t deadline_ns =
      monotonic_ns() + std::max<int64_t>(request.max_wait_ms, 0) * 1'000'000;
  const uint64_t max_bytes = version >= 3 && request.max_bytes > 0
                                 ? static_cast<uint64_t>(request.max_bytes)
                                 : std::numeric_limits<uint64_t>::max();
  const uint64_t min_bytes = request.min_bytes > 0 ? static_cast<uint64_t>(request.min_bytes) : 0;

  auto image = b.ctl().image();
  protocol::fetch_response response;
  response.responses.reserve(request.topics.size());
  std::vector<partition_read> reads;
  size_t total_partitions = 0;
  for (const auto& t : request.topics) total_partitions += t.partitions.size();
  reads.reserve(total_partitions);

  for (const auto& t : request.topics) {
    auto& topic_out = response.responses.emplace_back();
    const auto* known = version >= 13 ? image->find_topic(from_wire(t.topic_id)) : image->find_topic(t.topic);
    if (version >= 13) topic_out.topic_id = t.topic_id;
    else topic_out.topic = std::string(t.topic);
    topic_out.partitions.reserve(t.partitions.size());
    for (const auto& p : t.partitions) {
      auto& part_out = topic_out.partitions.emplace_back();
      part_out.partition_index = p.partition;
      part_out.high_watermark = -1;
      part_out.last_stable_offset = -1;
      part_out.log_start_offset = -1;
      if (known == nullptr || p.partition < 0 ||
          static_cast<size_t>(p.partition) >= known->partitions.size()) {
        part_out.error_code = protocol::code(known == nullptr && version >= 13
                                                 ? kafka_error::unknown_topic_id
                                                 : kafka_error::unknown_topic_or_partition);
        continue;
      }
      partition_read& r = reads.emplace_back();
      r.tp = storage::topic_partition{known->name, p.partition};
      r.offset = p.fetch_offset;
      r.max_bytes = static_cast<uint32_t>(std::max(p.partition_max_bytes, 0));
      r.owner = b.logs().shard_of(r.tp);
      r.out = &part_out;
    }
  }

  // Partitions grouped by owning shard: one hop per shard per read.
  std::vector<std::vector<partition_read*>> by_shard(b.rt().size());
  for (auto& r : reads) by_shard[r.owner].push_back(&r);

  for (;;) {
    std::vector<task<void>> jobs;
    for (unsigned s = 0; s < by_shard.size(); ++s) {
      if (!by_shard[s].empty()) jobs.push_back(read_group(b, s, &by_shard[s]));
    }
    co_await when_all(std::move(jobs));

    const uint64_t total = apply_response_limit(reads, max_bytes);
    const bool any_error = std::any_of(reads.begin(), reads.end(), [](const partition_read& r) {
      return r.error != kafka_error::none;
    });
    const bool enough = total >= std::max<uint64_t>(min_bytes, 1) || min_bytes == 0;
    if (enough || any_error || monotonic_ns() >= deadline_ns || reads.empty()) break;

    // Park until an append reaches one of the partitions or the wait ends.
    auto wakeup = std::make_shared<fetch_wakeup>(shard::current()->id());
    for (unsigned s = 0; s < by_shard.size(); ++s) {
      if (by_shard[s].empty()) continue;
      auto* group = &by_shard[s];
      co_await invoke_on(s, [&] { register_local(b, *group, wakeup); });
    }
    wake_reason why = wake_reason::notified;
    if (!wakeup->fired) why = co_await wakeup->ready.wait_until(deadline_ns, ctx.cancel);
    for (unsigned s = 0; s < by_shard.size(); ++s) {
      if (by_shard[s].empty()) continue;
      auto* group = &by_shard[s];
      const fetch_wakeup* w = wakeup.get();
      co_await invoke_on(s, [&] { unregister_local(b, *group, w); });
    }
    if (why == wake_reason::cancelled) co_return net::reply::none;  // the connection is closing
    if (why == wake_reason::timed_out) {
      // One last read so the response carries the current ends.
      std::vector<task<void>> last;
      for (unsigned s = 0; s < by_shard.size(); ++s) {
        if (!by_shard[s].empty()) last.push_back(read_group(b, s, &by_shard[s]));
      }
      co_await when_all(std::move(last));
      (void)apply_response_limit(reads, max_bytes);
      break;
    }
  }

  for (auto& r : reads) {
    auto& p = *r.out;
    p.error_code = protocol::code(r.error);
    p.high_watermark = r.high_watermark;
    // Without transactions the last stable offset is the high watermark.
    p.last_stable_offset = r.high_watermark;
    p.log_start_offset = r.log_start_offset;
    p.records.is_null = false;
    if (r.error == kafka_error::none && r.slice.bytes > 0) {
      p.records.files.push_back(protocol::file_range{r.slice.file->fd, r.slice.position,
                                                     r.slice.bytes, r.slice.file});
    }
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
