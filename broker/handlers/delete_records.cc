// DeleteRecords: moves each partition's log start offset up to the offset
// asked (KIP-107), on the shard that owns the partition; segments wholly
// below the new start are deleted there and then. Consumers then see the new
// start as the earliest offset (ListOffsets -2), and a fetch below it is
// OFFSET_OUT_OF_RANGE, which resets them by their auto.offset.reset.
//
// Kafka semantics kept, per partition: offset -1 means the high watermark;
// an offset above the high watermark or below -1 is OFFSET_OUT_OF_RANGE; an
// offset at or below the current start changes nothing; the low watermark
// answered is the log start offset afterwards (-1 with an error); a topic or
// partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION; a topic whose
// cleanup.policy lacks "delete" (compact only) is POLICY_VIOLATION, since
// removing a compacted topic's prefix would drop the latest value of keys.
//
// Not copied: Kafka answers once every follower's log start has caught up,
// bounded by timeout_ms; on one node the move is complete when the owning
// shard returns, so timeout_ms is not used. The new start is made durable by
// the next log-start-offset checkpoint, as in Kafka: a crash before it brings
// back the records between the oldest remaining segment's base and the new
// start (the segments wholly below it are gone for good).
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/kafka_errors.h"
#include "controller/controller.h"
#include "controller/topic_config.h"
#include "engine/log/log_manager.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/when_all.h"
#include "net/protocol/api/delete_records.h"

namespace ringlog::broker {
namespace {

using protocol::kafka_error;
using partition_result = protocol::delete_records_response::delete_records_partition_result;

// DeleteRecordsRequest.HIGH_WATERMARK.
constexpr int64_t k_high_watermark = -1;

struct deletion {
  kafka_error error = kafka_error::none;
  int64_t low_watermark = -1;
};

bool has_delete_policy(std::string_view policy) {
  size_t pos = 0;
  while (pos <= policy.size()) {
    size_t comma = policy.find(',', pos);
    if (comma == std::string_view::npos) comma = policy.size();
    if (policy.substr(pos, comma - pos) == "delete") return true;
    pos = comma + 1;
  }
  return false;
}

// On the owning shard.
task<deletion> delete_local(broker& b, const storage::topic_partition& tp, int64_t offset) {
  deletion out;
  storage::partition_log* log = b.logs().get(tp);
  if (log == nullptr) {
    out.error = kafka_error::unknown_topic_or_partition;
    co_return out;
  }
  const int64_t high_watermark = log->high_watermark();
  if (offset == k_high_watermark) offset = high_watermark;
  if (offset < 0 || offset > high_watermark) {
    out.error = kafka_error::offset_out_of_range;
    co_return out;
  }
  // A topic with relaxed durability (flush.ms / flush.messages) shows
  // consumers written but unsynced records; the log moves its start only
  // over durable ones, so make those durable first rather than refuse an
  // offset the client was allowed to see.
  if (offset > log->durable_end()) {
    if (auto st = co_await log->flush(); !st) {
      out.error = to_kafka_error(st.error());
      co_return out;
    }
  }
  auto start = co_await log->delete_records_before(offset);
  if (!start) {
    out.error = to_kafka_error(start.error());
    co_return out;
  }
  out.low_watermark = *start;
  co_return out;
}

task<void> delete_partition(broker& b, storage::topic_partition tp, int64_t offset,
                            partition_result* result) {
  const unsigned owner = b.logs().shard_of(tp);
  deletion d = co_await invoke_on(owner, [&] { return delete_local(b, tp, offset); });
  result->error_code = protocol::code(d.error);
  result->low_watermark = d.low_watermark;
}

}  // namespace

task<net::reply> handle_delete_records(broker& b, net::request_context& ctx,
                                       protocol::wire_writer& out) {
  protocol::delete_records_request request;
  if (!decode_request(ctx, request, "DeleteRecords")) co_return net::reply::close;

  auto image = b.ctl().image();
  protocol::delete_records_response response;
  response.topics.reserve(request.topics.size());
  std::vector<task<void>> work;
  for (const auto& t : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.name = t.name;
    topic_out.partitions.reserve(t.partitions.size());
    const auto* known = image->find_topic(t.name);
    const bool deletable = known != nullptr && has_delete_policy(controller::effective_topic_config(
                                                   b.config(), known->configs, "cleanup.policy"));
    for (const auto& p : t.partitions) {
      auto& part_out = topic_out.partitions.emplace_back();
      part_out.partition_index = p.partition_index;
      part_out.low_watermark = -1;
      if (known == nullptr || p.partition_index < 0 ||
          static_cast<size_t>(p.partition_index) >= known->partitions.size()) {
        part_out.error_code = protocol::code(kafka_error::unknown_topic_or_partition);
      } else if (!deletable) {
        part_out.error_code = protocol::code(kafka_error::policy_violation);
      } else {
        work.push_back(delete_partition(b, storage::topic_partition{known->name, p.partition_index},
                                        p.offset, &part_out));
      }
    }
  }
  co_await when_all(std::move(work));
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
