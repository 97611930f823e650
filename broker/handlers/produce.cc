// Produce: each partition's records go to the shard that owns the partition,
// are validated and appended there (offsets assigned in place), and the
// response leaves once every batch is durable (fsync'd by the group commit),
// whatever acks says: on a single node acks=1 and acks=all mean the same,
// and acks=0 gets no response but its batches are still appended in order.
//
// Order: the appends of one request are dispatched before the handler first
// suspends (see net/request_handler.h), and each owning shard starts appends
// in arrival order, so a pipelining producer's batches land in the order it
// sent them.
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "broker/broker.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/kafka_errors.h"
#include "broker/producer_state.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "controller/controller.h"
#include "controller/topic_config.h"
#include "engine/log/log_manager.h"
#include "engine/record/errc.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/when_all.h"
#include "net/protocol/api/produce.h"

namespace ringlog::broker {
namespace {

using protocol::kafka_error;
using partition_response = protocol::produce_response::partition_produce_response;

// One record a batch was refused for (KIP-467's record_errors, Produce v8+):
// its index in the batch and why.
struct record_error {
  int32_t batch_index = 0;
  std::string message;
};

struct append_outcome {
  kafka_error error = kafka_error::none;
  std::string message;
  std::vector<record_error> record_errors;
  int64_t base_offset = -1;
  int64_t log_start_offset = -1;
  int64_t log_append_time_ms = -1;
};

// The topic's timestamp rules (message.timestamp.*), read from the image on
// the connection's shard.
struct timestamp_policy {
  bool log_append_time = false;
  // cleanup.policy includes compact: every record needs a key (Kafka's rule;
  // the cleaner could not keep a keyless record).
  bool compacted = false;
  int64_t before_max_ms = std::numeric_limits<int64_t>::max();
  int64_t after_max_ms = std::numeric_limits<int64_t>::max();
};

timestamp_policy policy_of(const broker_config& config, const controller::topic& t) {
  timestamp_policy p;
  p.compacted = controller::effective_topic_config(config, t.configs, "cleanup.policy")
                    .find("compact") != std::string::npos;
  if (t.configs.empty()) return p;  // every other key at its default
  p.log_append_time =
      controller::effective_topic_config(config, t.configs, "message.timestamp.type") == "LogAppendTime";
  const std::string before = controller::effective_topic_config(config, t.configs, "message.timestamp.before.max.ms");
  const std::string after = controller::effective_topic_config(config, t.configs, "message.timestamp.after.max.ms");
  p.before_max_ms = std::stoll(before);
  p.after_max_ms = std::stoll(after);
  return p;
}

// The records of a batch bound for a compacted topic that have no key:
// Kafka refuses the batch and names each of them in record_errors, so a
// client fails those records with INVALID_RECORD and the rest of the batch
// with a retriable "different record" error. `decode_error` is set instead
// when the records do not decode.
struct keyless_records {
  std::string decode_error;
  std::vector<record_error> records;
};

keyless_records find_keyless_records(const record::record_batch_view& v,
                                     const storage::topic_partition& tp) {
  keyless_records out;
  std::vector<std::byte> scratch;
  auto it = record::record_iterator::open(v, scratch);
  if (!it) {
    out.decode_error = it.error().message();
    return out;
  }
  for (;;) {
    auto r = it->next();
    if (!r) {
      out.decode_error = r.error().message();
      out.records.clear();
      return out;
    }
    if (!r->has_value()) return out;
    if (!(*r)->key().has_value()) {
      out.records.push_back(
          {static_cast<int32_t>(it->records_read() - 1),
           fmt::format("Compacted topic cannot accept message without key in topic partition {}-{}.",
                       tp.topic, tp.partition)});
    }
  }
}

// The partition's error message for a batch refused for some of its records.
std::string describe_record_errors(const std::vector<record_error>& errors) {
  std::string out = fmt::format("{} record(s) of the batch were rejected:", errors.size());
  const size_t shown = std::min<size_t>(errors.size(), 3);
  for (size_t i = 0; i < shown; ++i) {
    out += fmt::format(" record {}: {}", errors[i].batch_index, errors[i].message);
  }
  if (shown < errors.size()) out += " ...";
  return out;
}

// Kafka's message.timestamp.before/after.max.ms for CreateTime batches,
// checked on the batch's first and largest timestamps.
bool timestamp_in_bounds(const record::record_batch_view& v, const timestamp_policy& p, int64_t now) {
  const auto too_old = [&](int64_t ts) { return p.before_max_ms < now && ts < now - p.before_max_ms; };
  const auto too_new = [&](int64_t ts) {
    return p.after_max_ms < std::numeric_limits<int64_t>::max() - now && ts > now + p.after_max_ms;
  };
  return !too_old(v.base_timestamp()) && !too_new(v.max_timestamp());
}

task<result<storage::append_info>> append_one(storage::partition_log* log,
                                              record::record_batch_view view,
                                              std::span<std::byte> batch) {
  return log->append(view, batch, storage::durability::fsync);
}

// One batch of a records field, with what the producer checks decided.
struct batch_plan {
  std::span<std::byte> bytes;
  kafka_error error = kafka_error::none;
  std::string message;
  std::vector<record_error> record_errors;
  // A retry of a batch already in the log: answer with its offsets.
  bool duplicate = false;
  storage::append_info duplicate_of;
};

// On the owning shard: checks each batch of `records` (and, for idempotent
// producers, its sequence), appends the accepted ones in order and wakes
// fetches parked on the partition.
task<append_outcome> append_local(broker& b, const storage::topic_partition& tp,
                                  std::span<std::byte> records, int16_t version,
                                  const timestamp_policy& policy) {
  append_outcome out;
  storage::partition_log* log = b.logs().get(tp);
  if (log == nullptr) {
    out.error = kafka_error::unknown_topic_or_partition;
    co_return out;
  }
  // A records field may hold several batches; each is appended on its own.
  std::vector<batch_plan> plan;
  bool idempotent = false;
  size_t at = 0;
  while (at < records.size()) {
    const auto size = record::record_batch_view::peek_size(records.subspan(at));
    if (!size || *size > records.size() - at) {
      out.error = kafka_error::corrupt_message;
      out.message = "records end inside a batch";
      co_return out;
    }
    batch_plan& p = plan.emplace_back();
    p.bytes = records.subspan(at, *size);
    at += *size;
    if (p.bytes.size() > record::k_producer_id_pos + 8 &&
        static_cast<int64_t>(load_be64(p.bytes.data() + record::k_producer_id_pos)) >= 0) {
      idempotent = true;
    }
  }

  // Sequence checks happen in arrival order, before any of this request's
  // appends start; the first produce after a start waits for the rebuild.
  partition_producers* producers = nullptr;
  if (idempotent) producers = co_await b.producers().get(tp, *log);
  const uint32_t max_batch = static_cast<uint32_t>(log->config().max_message_bytes);
  int64_t next_offset = log->log_end_offset();
  const int64_t now_ms = wall_ms();
  std::vector<task<result<storage::append_info>>> appends;
  std::vector<batch_plan*> appended;
  for (batch_plan& p : plan) {
    auto view = record::record_batch_view::parse(p.bytes, {.max_batch_bytes = max_batch});
    if (!view) {
      p.error = to_kafka_error(view.error());
      // Kafka answers a v3+ Produce carrying the legacy format with INVALID_RECORD.
      if (view.error().is(record::errc::unsupported_magic)) p.error = kafka_error::invalid_record;
      p.message = view.error().message();
      continue;
    }
    if (view->codec() == record::compression::zstd && version < 7) {
      p.error = kafka_error::unsupported_compression_type;
      p.message = "zstd needs Produce v7 or later";
      continue;
    }
    if (view->is_transactional() || view->is_control()) {
      p.error = kafka_error::invalid_record;
      p.message = "transactional and control batches are not supported yet";
      continue;
    }
    if (!policy.compacted && view->codec() == record::compression::none) {
      // Every record must decode, as Kafka's LogValidator checks: a batch of
      // garbage records with a right CRC would be a poison pill for every
      // consumer. Uncompressed, this is a walk over varints; compressed
      // batches are checked only where the records are needed anyway (a
      // compacted topic, below), so a produce does not decompress.
      std::vector<std::byte> unused;
      if (status valid = record::validate_records(*view, unused); !valid) {
        p.error = to_kafka_error(valid.error());
        p.message = valid.error().message();
        continue;
      }
    }
    if (policy.compacted) {
      keyless_records keyless = find_keyless_records(*view, tp);
      if (!keyless.decode_error.empty()) {
        p.error = kafka_error::invalid_record;
        p.message = std::move(keyless.decode_error);
        continue;
      }
      if (!keyless.records.empty()) {
        p.error = kafka_error::invalid_record;
        p.message = describe_record_errors(keyless.records);
        p.record_errors = std::move(keyless.records);
        continue;
      }
    }
    if (!policy.log_append_time && !timestamp_in_bounds(*view, policy, now_ms)) {
      p.error = kafka_error::invalid_timestamp;
      p.message = fmt::format("timestamps {}..{} are outside message.timestamp.before/after.max.ms of {}",
                              view->base_timestamp(), view->max_timestamp(), now_ms);
      continue;
    }
    if (view->producer_id() >= 0) {
      const int32_t first = view->base_sequence();
      const int32_t last = last_sequence_of(first, view->last_offset_delta());
      const sequence_check c = producers->check(view->producer_id(), view->producer_epoch(), first, last);
      if (c.verdict == sequence_verdict::duplicate) {
        p.duplicate = true;
        p.duplicate_of = {c.duplicate_of.first_offset, c.duplicate_of.last_offset};
        continue;
      }
      if (c.verdict != sequence_verdict::append) {
        p.error = c.verdict == sequence_verdict::fenced_epoch ? kafka_error::invalid_producer_epoch
                                                               : kafka_error::out_of_order_sequence_number;
        p.message = c.message;
        continue;
      }
      producers->record(view->producer_id(), view->producer_epoch(),
                        batch_record{first, last, next_offset, next_offset + view->last_offset_delta()});
    }
    next_offset += int64_t{view->last_offset_delta()} + 1;
    if (policy.log_append_time) {
      // The broker's clock replaces the producer's: maxTimestamp and the
      // timestamp-type bit are inside the CRC, which is recomputed.
      record::set_max_timestamp_and_type(p.bytes, now_ms, record::timestamp_type::log_append_time);
      out.log_append_time_ms = now_ms;
    }
    appends.push_back(append_one(log, *view, p.bytes));
    appended.push_back(&p);
  }
  // when_all starts each append in order before the first one suspends, so
  // offsets follow the batches' order (and match what was recorded above).
  std::vector<result<storage::append_info>> done = co_await when_all(std::move(appends));
  for (size_t i = 0; i < done.size(); ++i) {
    if (!done[i]) {
      appended[i]->error = to_kafka_error(done[i].error());
      appended[i]->message = done[i].error().message();
    } else {
      appended[i]->duplicate_of = *done[i];
    }
  }
  for (batch_plan& p : plan) {
    if (p.duplicate) {
      // The original may still be waiting for its fsync: answer once it is durable.
      status durable = co_await log->wait_durable(p.duplicate_of.last_offset + 1);
      if (!durable) {
        p.error = to_kafka_error(durable.error());
        p.message = durable.error().message();
      }
    }
    if (p.error != kafka_error::none) {
      if (out.error == kafka_error::none) {
        out.error = p.error;
        out.message = std::move(p.message);
        out.record_errors = std::move(p.record_errors);
      }
    } else if (out.base_offset < 0) {
      out.base_offset = p.duplicate_of.base_offset;
    }
  }
  out.log_start_offset = log->log_start_offset();
  if (!appended.empty()) b.waiters().wake(tp);
  co_return out;
}

task<void> produce_partition(broker& b, storage::topic_partition tp, std::span<std::byte> records,
                             int16_t version, timestamp_policy policy, partition_response* response) {
  const unsigned owner = b.logs().shard_of(tp);
  append_outcome r =
      co_await invoke_on(owner, [&] { return append_local(b, tp, records, version, policy); });
  response->error_code = protocol::code(r.error);
  response->base_offset = r.base_offset;
  response->log_start_offset = r.log_start_offset;
  response->log_append_time_ms = r.log_append_time_ms;
  if (!r.message.empty()) response->error_message = std::move(r.message);
  response->record_errors.reserve(r.record_errors.size());
  for (record_error& e : r.record_errors) {
    response->record_errors.push_back({e.batch_index, std::move(e.message)});
  }
}

}  // namespace

task<net::reply> handle_produce(broker& b, net::request_context& ctx, protocol::wire_writer& out) {
  protocol::produce_request request;
  if (!decode_request(ctx, request, "Produce")) co_return net::reply::close;

  auto image = b.ctl().image();
  const bool acks_valid = request.acks == -1 || request.acks == 0 || request.acks == 1;
  protocol::produce_response response;
  response.responses.reserve(request.topic_data.size());
  std::vector<task<void>> work;
  for (auto& topic : request.topic_data) {
    auto& topic_out = response.responses.emplace_back();
    topic_out.name = std::string(topic.name);
    topic_out.partition_responses.reserve(topic.partition_data.size());
    const auto* known = image->find_topic(topic.name);
    const timestamp_policy policy = known != nullptr ? policy_of(b.config(), *known) : timestamp_policy{};
    for (auto& p : topic.partition_data) {
      auto& part_out = topic_out.partition_responses.emplace_back();
      part_out.index = p.index;
      if (!acks_valid) {
        part_out.error_code = protocol::code(kafka_error::invalid_required_acks);
      } else if (request.transactional_id.has_value()) {
        part_out.error_code = protocol::code(kafka_error::transactional_id_authorization_failed);
        part_out.error_message = "transactional producers are not supported yet";
      } else if (known == nullptr || p.index < 0 ||
                 static_cast<size_t>(p.index) >= known->partitions.size()) {
        part_out.error_code = protocol::code(kafka_error::unknown_topic_or_partition);
      } else if (known->name == k_offsets_topic) {
        // Kafka: "Cannot append to internal topic" (only its coordinator writes there).
        part_out.error_code = protocol::code(kafka_error::invalid_topic_exception);
      } else if (p.records.is_null || p.records.bytes.empty()) {
        part_out.error_code = protocol::code(kafka_error::invalid_record);
        part_out.error_message = "no records";
      } else {
        work.push_back(produce_partition(b, storage::topic_partition{known->name, p.index},
                                         p.records.bytes, ctx.header.api_version, policy,
                                         &part_out));
      }
    }
  }
  co_await when_all(std::move(work));
  if (request.acks == 0) co_return net::reply::none;
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
