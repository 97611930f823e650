// controller: the single-node quorum controller. It owns the cluster
// metadata log, validates every metadata change (create/delete topics,
// create partitions, alter configs, producer id blocks), commits it as one
// record batch that is fdatasync'd before anything else happens, applies it
// to a new immutable metadata_image, keeps the partition logs in step with
// that image (creates, removes, reconfigures them on their owning shards)
// and publishes the image to every shard. A single node is a Raft quorum of
// one voter: "committed" means durable in the local log.
//
// Threads: mutations run on the controller shard (shard 0), one at a time in
// arrival order; callers on any shard co_await them (the call hops to shard 0
// and back). A mutation returns only after every shard holds the new image
// and the partition logs it implies exist, so a client that created a topic
// finds it in its next Metadata request on any connection. Each shard reads
// its own image slot without a lock (image_on_this_shard / image); threads
// outside the runtime read a mutex-protected copy (image).
//
// Lifecycle (main thread, runtime running): start() opens and replays the
// metadata log, publishes the image, gives log_manager the topic configs,
// starts log_manager (which loads the partitions with them) and creates the
// logs the image names and the disk lacks; stop() closes the metadata log and
// stops log_manager. The controller thereby owns log_manager's start/stop
// order: topic configs must be known before the logs load, and no log may be
// created before the ones on disk are loaded.
#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/broker_config.h"
#include "base/result.h"
#include "controller/errc.h"
#include "controller/metadata_image.h"
#include "controller/metadata_log.h"
#include "controller/metadata_records.h"
#include "controller/topic_config.h"
#include "controller/uuid.h"
#include "engine/log/log_manager.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/task.h"

namespace ringlog::controller {

// The largest partition count of one topic we accept. Kafka has no such cap;
// ours bounds what one request can make us create (DESIGN: bound everything)
// and keeps a request's records far below k_metadata_batch_bytes_max.
inline constexpr int32_t k_partitions_per_topic_max = 100'000;
// Records one mutation may write (a PartitionRecord is ~60 bytes, so this
// stays under a quarter of the batch cap).
inline constexpr size_t k_records_per_operation_max = 250'000;
// The most producer ids one allocate_producer_ids call hands out. Kafka's
// controller hands out blocks of 1000; the cap keeps a caller from burning
// the id space (each block costs a record and an fsync, so callers ask for
// hundreds or thousands at a time).
inline constexpr int32_t k_producer_id_block_max = 10'000;

// What happened to one item of a request: no error, or a code and a message
// for the client (Kafka's ErrorMessage fields).
struct outcome {
  std::optional<errc> error;
  std::string message;

  bool ok() const noexcept { return !error; }
  // 0 (NONE) on success.
  int16_t kafka_error() const noexcept { return error ? to_kafka_error(*error) : 0; }
};

struct replica_assignment {
  int32_t partition = 0;
  std::vector<int32_t> broker_ids;
};

// One config of a request; a null value is what the client sent as null.
struct config_entry {
  std::string name;
  std::optional<std::string> value;
};

// CreateTopics' CreatableTopic.
struct new_topic {
  std::string name;
  int32_t num_partitions = -1;      // -1: num.partitions (must be -1 with assignments)
  int16_t replication_factor = -1;  // -1: default.replication.factor (likewise)
  std::vector<replica_assignment> assignments;
  std::vector<config_entry> configs;
};

struct create_topic_result : outcome {
  std::string name;
  topic_id id;
  int32_t num_partitions = -1;
  int16_t replication_factor = -1;
  // Every topic config with its effective value and source (CreateTopics v5+).
  std::vector<config_description> configs;
};

// DeleteTopics names a topic by name or (v6+) by id: exactly one is set.
struct topic_ref {
  std::string name;
  topic_id id;
};

struct delete_topic_result : outcome {
  std::string name;
  topic_id id;
};

// CreatePartitions' CreatePartitionsTopic: the new total count, and
// optionally the replicas of each new partition.
struct partition_increase {
  std::string topic;
  int32_t count = 0;
  std::vector<std::vector<int32_t>> assignments;
};

struct create_partitions_result : outcome {
  std::string topic;
};

struct config_resource {
  config_resource_type type = config_resource_type::topic;
  std::string name;
  bool operator==(const config_resource&) const = default;
};

// AlterConfigs (legacy): the resource's whole set of overrides; keys left out
// return to their defaults.
struct alter_configs_resource {
  config_resource resource;
  std::vector<config_entry> configs;
};

// Kafka's AlterConfigOp.OpType ids.
enum class config_op : int8_t {
  set = 0,
  remove = 1,  // DELETE: back to the default
  append = 2,  // list keys: add items not present yet
  subtract = 3,
};

struct config_alteration {
  std::string name;
  config_op op = config_op::set;
  std::optional<std::string> value;
};

struct incremental_alter_configs_resource {
  config_resource resource;
  std::vector<config_alteration> ops;
};

struct alter_configs_result : outcome {
  config_resource resource;
};

// Producer ids first, first + 1, ..., first + count - 1: handed out once.
struct producer_id_block {
  int64_t first = -1;
  int32_t count = 0;
};

class controller {
 public:
  // The shard that owns the metadata log and runs every mutation.
  static constexpr unsigned k_shard = 0;

  // `logs` (not started) is started and stopped by this controller; both
  // must outlive it.
  controller(runtime& rt, broker_config config, storage::log_manager& logs);
  // Without partition logs: the metadata alone (tests, tools).
  controller(runtime& rt, broker_config config);
  ~controller();
  controller(const controller&) = delete;
  controller& operator=(const controller&) = delete;

  // Main thread: opens <log.dirs[0]>/__cluster_metadata-0 and replays it
  // into the image; on an empty log writes the bootstrap records
  // (metadata.version, this broker's registration) and re-registers the
  // broker when its advertised listeners changed; publishes the image to
  // every shard. Then, with a log_manager: gives it the topic configs, starts
  // it, creates the partition logs the image has and the log dirs lack (a
  // crash between a commit and the creation), gives every log its topic's
  // config, and removes the logs of topics the metadata log deleted.
  // Directories of topics the metadata never knew are logged and left alone
  // (another cluster's data, a lost metadata log): creating a topic of that
  // name is refused until they are moved away. Fails on a metadata log that
  // does not replay, one written by another node.id, or a log_manager that
  // does not start; stop() is still required after a failure.
  status start();

  // Main thread: waits for the mutation in progress, closes the metadata log
  // and stops log_manager (flush, checkpoints, clean-shutdown markers).
  // Idempotent. Stop serving requests first.
  status stop();

  // ---- Mutations: any shard; each returns one result per item, in order.
  // Every item that passes validation goes into one record batch (one fsync);
  // with validate_only nothing is written and the results say what would be.

  task<std::vector<create_topic_result>> create_topics(std::vector<new_topic> topics,
                                                       bool validate_only);
  task<std::vector<delete_topic_result>> delete_topics(std::vector<topic_ref> topics);
  task<std::vector<create_partitions_result>> create_partitions(
      std::vector<partition_increase> increases, bool validate_only);
  task<std::vector<alter_configs_result>> alter_configs(
      std::vector<alter_configs_resource> resources, bool validate_only);
  task<std::vector<alter_configs_result>> incremental_alter_configs(
      std::vector<incremental_alter_configs_resource> resources, bool validate_only);

  // Hands out `count` producer ids that no call gave before, in this run or
  // an earlier one on the same log: one ProducerIdsRecord, durable before the
  // block is returned, then the image (next_producer_id) is published.
  // Blocks of successive calls are disjoint and increasing. Errors:
  // errc::invalid_request (count outside [1, k_producer_id_block_max]),
  // errc::storage_error (the controller is stopped or not started, or the
  // metadata log cannot be written: the reason is in the detail; the same
  // code the other mutations give), errc::producer_ids_exhausted.
  task<result<producer_id_block>> allocate_producer_ids(int32_t count);

  // ---- Reads.

  // The image published on the calling shard; valid until the caller next
  // suspends (a publish may replace it at any hop). Shard threads only.
  const metadata_image& image_on_this_shard() const noexcept;
  // The latest published image, held for as long as the caller keeps it. On
  // a shard: that shard's slot (no lock); elsewhere: a locked copy.
  std::shared_ptr<const metadata_image> image() const;

  // DescribeConfigs of a topic: every topic key, its effective value, and
  // whether the topic overrides it.
  std::vector<config_description> describe_configs(const topic& t) const;

  const broker_config& config() const noexcept { return _config; }

 private:
  // A FIFO lock for coroutines of one shard: one mutation at a time, so each
  // validates against the image the previous one committed.
  class mutation_lock {
   public:
    struct awaiter {
      mutation_lock* lock;
      bool await_ready() noexcept {
        if (lock->_held) return false;
        lock->_held = true;
        return true;
      }
      void await_suspend(std::coroutine_handle<> h) { lock->_waiters.push_back(h); }
      void await_resume() const noexcept {}
    };
    // Releases the lock when it goes out of scope.
    struct guard {
      explicit guard(mutation_lock* l) noexcept : lock(l) {}
      guard(const guard&) = delete;
      guard& operator=(const guard&) = delete;
      ~guard() { lock->unlock(); }
      mutation_lock* lock;
    };
    awaiter acquire() noexcept { return awaiter{this}; }
    void unlock();
    bool held() const noexcept { return _held; }

   private:
    bool _held = false;
    std::deque<std::coroutine_handle<>> _waiters;
  };

  // One change to a partition log, run on the partition's shard.
  struct log_action {
    enum class kind { create, remove, configure };
    kind what = kind::create;
    storage::topic_partition tp;
    storage::log_config config;
  };

  struct alignas(64) image_slot {
    std::shared_ptr<const metadata_image> image;
  };

  // A new topic, validated: its records and what CreateTopics answers.
  struct topic_plan {
    outcome result;
    topic_id id;
    int32_t num_partitions = -1;
    int16_t replication_factor = -1;
    std::map<std::string, std::string> configs;
    std::vector<metadata_record> records;
  };

  // AlterConfigs or IncrementalAlterConfigs of one resource.
  struct config_change {
    config_resource resource;
    bool legacy = false;                 // AlterConfigs: full_set replaces all overrides
    std::vector<config_entry> full_set;  // legacy
    std::vector<config_alteration> ops;  // incremental
  };

  task<status> start_on_shard();
  // After log_manager.start(): see start().
  status sync_partition_logs();
  task<status> sync_on_shard();
  task<status> stop_on_shard();
  topic_plan plan_topic(const metadata_image& image, const new_topic& t) const;
  task<std::vector<create_topic_result>> do_create_topics(std::vector<new_topic> topics,
                                                          bool validate_only);
  task<std::vector<delete_topic_result>> do_delete_topics(std::vector<topic_ref> topics);
  task<std::vector<create_partitions_result>> do_create_partitions(
      std::vector<partition_increase> increases, bool validate_only);
  task<std::vector<alter_configs_result>> do_alter_configs(std::vector<config_change> changes,
                                                           bool validate_only);
  task<result<producer_id_block>> do_allocate_producer_ids(int32_t count);

  // Why no mutation may run now, or nullopt.
  std::optional<std::string> refuse_mutation() const;
  // Appends the records, returning their base offset, after checking that
  // the delta replayed them at the offsets they get.
  task<result<int64_t>> commit(const std::vector<metadata_record>& records);
  // Runs the actions on their shards; one error (or nullopt) per action.
  task<std::vector<std::optional<error>>> run_log_actions(std::vector<log_action> actions);
  task<std::vector<std::optional<error>>> run_log_actions_here(std::vector<log_action> actions);
  // One action on this shard; for a log it created, the log dir to fsync.
  task<result<std::string>> apply_log_action(log_action a);
  // Puts `image` in every shard's slot and the shared copy.
  task<void> publish(std::shared_ptr<const metadata_image> image);
  void set_slot(unsigned shard_id, const std::shared_ptr<const metadata_image>& image);
  // The bootstrap / re-registration records start() writes, if any.
  result<std::vector<metadata_record>> startup_records(const metadata_image& image,
                                                       int64_t next_offset);

  runtime& _rt;
  const broker_config _config;
  storage::log_manager* _logs;

  // Controller shard only.
  std::unique_ptr<metadata_log> _log;
  mutation_lock _lock;
  bool _logs_synced = false;
  bool _logs_started = false;  // main thread
  bool _stopped = false;
  // Topic names the replay saw deleted and not re-created: their leftover
  // directories are finished off by sync_partition_logs.
  std::set<std::string, std::less<>> _deleted_topics;
  // Topic names with directories the metadata never knew (see
  // sync_partition_logs); creates of these names are refused.
  std::set<std::string, std::less<>> _stray_topics;

  // Slot i is written and read by shard i only.
  std::unique_ptr<image_slot[]> _slots;
  mutable std::mutex _latest_mu;
  std::shared_ptr<const metadata_image> _latest;
};

}  // namespace ringlog::controller
