// ListOffsets: the offset for a timestamp per partition, looked up on the
// owning shard through the time index (Kafka's semantics: -1 latest = the
// high watermark, -2 earliest = the log start offset, -3 the record with the
// largest timestamp; otherwise the first offset whose timestamp is at least
// the one asked, or -1 when every record is older). Only data a consumer may
// read is considered.
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/kafka_errors.h"
#include "controller/controller.h"
#include "engine/log/log_manager.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/when_all.h"
#include "net/protocol/api/list_offsets.h"

namespace ringlog::broker {
namespace {

using protocol::kafka_error;
using partition_response = protocol::list_offsets_response::list_offsets_partition_response;

// KIP-1005's earliest-local timestamp: without tiered storage every
// segment is local, so it is the log start offset.
constexpr int64_t k_earliest_local_timestamp = -4;
// KIP-1005's latest-tiered timestamp: nothing is tiered, so there is no such
// offset (-1), as Kafka answers for a topic without remote storage.
constexpr int64_t k_latest_tiered_timestamp = -5;

struct lookup {
  kafka_error error = kafka_error::none;
  int64_t timestamp = -1;
  int64_t offset = -1;
};

task<lookup> lookup_local(broker& b, const storage::topic_partition& tp, int64_t timestamp) {
  lookup out;
  storage::partition_log* log = b.logs().get(tp);
  if (log == nullptr) {
    out.error = kafka_error::unknown_topic_or_partition;
    co_return out;
  }
  if (timestamp == k_latest_tiered_timestamp) co_return out;
  if (timestamp == k_earliest_local_timestamp) timestamp = storage::k_earliest_timestamp;
  if (timestamp < storage::k_max_timestamp) {
    out.error = kafka_error::invalid_request;  // a special value this broker does not know
    co_return out;
  }
  auto found = co_await log->offset_for_timestamp(timestamp);
  if (!found) {
    out.error = to_kafka_error(found.error());
    co_return out;
  }
  if (found->has_value()) {
    out.timestamp = (*found)->timestamp;
    out.offset = (*found)->offset;
  }
  co_return out;
}

task<void> lookup_partition(broker& b, storage::topic_partition tp, int64_t timestamp,
                            int16_t version, partition_response* response) {
  const unsigned owner = b.logs().shard_of(tp);
  lookup r = co_await invoke_on(owner, [&] { return lookup_local(b, tp, timestamp); });
  response->error_code = protocol::code(r.error);
  if (r.error != kafka_error::none) co_return;
  if (version == 0) {
    if (r.offset >= 0) response->old_style_offsets.push_back(r.offset);
  } else {
    response->timestamp = r.timestamp;
    response->offset = r.offset;
    response->leader_epoch = r.offset >= 0 ? 0 : -1;
  }
}

}  // namespace

task<net::reply> handle_list_offsets(broker& b, net::request_context& ctx,
                                     protocol::wire_writer& out) {
  protocol::list_offsets_request request;
  if (!decode_request(ctx, request, "ListOffsets")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;
  auto image = b.ctl().image();
  protocol::list_offsets_response response;
  response.topics.reserve(request.topics.size());
  std::vector<task<void>> work;
  for (const auto& t : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.name = t.name;
    topic_out.partitions.reserve(t.partitions.size());
    const auto* known = image->find_topic(t.name);
    for (const auto& p : t.partitions) {
      auto& part_out = topic_out.partitions.emplace_back();
      part_out.partition_index = p.partition_index;
      if (known == nullptr || p.partition_index < 0 ||
          static_cast<size_t>(p.partition_index) >= known->partitions.size()) {
        part_out.error_code = protocol::code(kafka_error::unknown_topic_or_partition);
        continue;
      }
      work.push_back(lookup_partition(b, storage::topic_partition{known->name, p.partition_index},
                                      p.timestamp, version, &part_out));
    }
  }
  co_await when_all(std::move(work));
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
