// metadata_image: the cluster metadata as of one offset of the metadata log:
// topics (by name and by id) with their partitions and config overrides,
// broker config overrides, registered brokers and finalized features.
//
// An image is immutable once built and is shared through
// std::shared_ptr<const metadata_image>: any thread may read a published
// image without a lock, and it stays valid for as long as the reader holds the
// pointer. A change makes a new image (metadata_delta below) that shares every
// topic it did not touch with the image it came from (copy-on-write per
// topic), so a commit costs O(topics) pointer copies plus the changed topics,
// not a deep copy.
//
// Invariants (checked by apply): topic names and ids are unique; a topic's
// partitions are 0..n-1 in order; every topic config belongs to an existing
// topic; next_producer_id() never decreases; offset() is the offset of the
// last record applied (-1: none).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "controller/metadata_records.h"
#include "controller/uuid.h"

namespace ringlog::controller {

struct partition {
  int32_t id = 0;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  int32_t leader = -1;
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;
  bool operator==(const partition&) const = default;
};

struct topic {
  std::string name;
  topic_id id;
  std::vector<partition> partitions;  // partitions[i].id == i
  // Config overrides as set (validated and normalised when written); the
  // effective values add the broker defaults (topic_config.h).
  std::map<std::string, std::string> configs;
  bool operator==(const topic&) const = default;
};

struct broker_registration {
  int32_t id = -1;
  incarnation_id incarnation;
  int64_t epoch = -1;
  std::vector<broker_endpoint> endpoints;
  std::vector<broker_feature> features;
  std::optional<std::string> rack;
  bool fenced = true;
  bool in_controlled_shutdown = false;
  bool operator==(const broker_registration&) const = default;
};

class metadata_image {
 public:
  using topic_map = std::map<std::string, std::shared_ptr<const topic>, std::less<>>;
  using topic_id_map = std::map<topic_id, std::shared_ptr<const topic>>;
  using config_map = std::map<std::string, std::string>;

  // The image before any record.
  static std::shared_ptr<const metadata_image> empty();

  // The offset of the last record applied; -1 for the empty image.
  int64_t offset() const noexcept { return _offset; }

  const topic_map& topics() const noexcept { return _by_name; }
  const topic* find_topic(std::string_view name) const noexcept;
  const topic* find_topic(const topic_id& id) const noexcept;
  // The shared topic object, for callers that keep it past the image.
  std::shared_ptr<const topic> topic_ptr(std::string_view name) const noexcept;
  size_t partition_count() const noexcept { return _partition_count; }

  const std::map<int32_t, broker_registration>& brokers() const noexcept { return _brokers; }
  const broker_registration* find_broker(int32_t id) const noexcept;

  // Broker config overrides by resource name: a broker id, or "" for the
  // cluster-wide default.
  const std::map<std::string, config_map, std::less<>>& broker_configs() const noexcept {
    return _broker_configs;
  }

  // Finalized feature levels by name.
  const std::map<std::string, int16_t, std::less<>>& features() const noexcept { return _features; }
  // metadata.version's level; 0 before it is set.
  int16_t metadata_version() const noexcept;

  // The first producer id no block has handed out yet (ProducerIdsRecord);
  // 0 before any block.
  int64_t next_producer_id() const noexcept { return _next_producer_id; }

  // One record at `offset` applied: a new image sharing every topic the record
  // does not touch. Errors (errc::inconsistent_metadata) when the record does
  // not fit this image. For many records use metadata_delta: this copies the
  // topic maps once per call.
  result<std::shared_ptr<const metadata_image>> apply(const metadata_record& record,
                                                      int64_t offset) const;

 private:
  friend class metadata_delta;

  int64_t _offset = -1;
  topic_map _by_name;
  topic_id_map _by_id;
  size_t _partition_count = 0;
  std::map<int32_t, broker_registration> _brokers;
  std::map<std::string, config_map, std::less<>> _broker_configs;
  std::map<std::string, int16_t, std::less<>> _features;
  int64_t _next_producer_id = 0;
};

// Records applied in order on top of a base image, then built into a new
// image. Topics are copied the first time a record touches them; the rest
// stay shared with the base. Single-threaded; the base is never modified.
class metadata_delta {
 public:
  explicit metadata_delta(const metadata_image& base);

  // Applies one record at `offset` (offsets must increase). On error the
  // delta is unchanged and the error (errc::inconsistent_metadata) says why,
  // naming the record and offset.
  status replay(const metadata_record& record, int64_t offset);

  // True once any record was replayed.
  bool changed() const noexcept { return _changed; }
  // The image so far; the delta may keep replaying afterwards.
  // Topics owned so far become shared with the built image; later replays
  // copy them again.
  std::shared_ptr<const metadata_image> build();
  // What replay() sees now (for validating records against earlier ones of
  // the same batch).
  const metadata_image& current() const noexcept { return _next; }

 private:
  // The topic named `name` made private to this delta (copied on first touch).
  topic& own(const std::string& name);

  metadata_image _next;
  std::map<std::string, std::shared_ptr<topic>, std::less<>> _owned;
  bool _changed = false;
};

}  // namespace ringlog::controller
