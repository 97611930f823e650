#include "broker/broker.h"

#include <cerrno>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "base/log.h"
#include "broker/dispatcher.h"
#include "controller/controller.h"
#include "engine/log/checkpoint.h"
#include "engine/log/log_manager.h"
#include "base/config.h"
#include "controller/uuid.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"

namespace ringlog::broker {
namespace {

// Kafka's meta.properties (KRaft form) in every log dir: which cluster and
// node the directory belongs to. A dir of another node is refused at start,
// so two brokers cannot share data by a config slip; a dir without the file
// gets one. The cluster id is created with the first dir.
result<std::string> check_meta_properties(const broker_config& config, runtime& rt) {
  std::string cluster_id;
  std::vector<std::string> missing;
  for (const auto& dir : config.log_dirs) {
    const std::string path = dir + "/meta.properties";
    auto text = storage::read_small_file(path, 64 * 1024);
    if (!text) {
      if (text.error().sys_errno() == ENOENT) {
        missing.push_back(dir);
        continue;
      }
      return text.error();
    }
    auto props = config::parse_properties(*text, path);
    if (!props) return props.error();
    const config::property* id_entry = props->find("cluster.id");
    const config::property* node_entry = props->find("node.id");
    const std::string id = id_entry != nullptr ? id_entry->value : "";
    const std::string node = node_entry != nullptr ? node_entry->value : "";
    if (node != std::to_string(config.node_id)) {
      return error(system_domain(), EINVAL, "meta.properties",
                   fmt::format("{} belongs to node.id {}, but this broker is node.id {}; "
                               "point log.dirs elsewhere or set node.id={}",
                               path, node, config.node_id, node));
    }
    if (!cluster_id.empty() && id != cluster_id) {
      return error(system_domain(), EINVAL, "meta.properties",
                   fmt::format("{} has cluster.id {}, another log dir has {}: the dirs come "
                               "from different clusters", path, id, cluster_id));
    }
    cluster_id = id;
  }
  if (cluster_id.empty()) cluster_id = controller::topic_id::random().to_string();
  for (const auto& dir : missing) {
    const std::string text = fmt::format(
        "#\n# Written by ringlog-broker: the cluster and node this log dir belongs to.\n"
        "version=1\ncluster.id={}\nnode.id={}\ndirectory.id={}\n",
        cluster_id, config.node_id, controller::topic_id::random().to_string());
    if (status st = rt.block_on(0, storage::write_file_atomically(dir, "meta.properties", text));
        !st) {
      return st.error();
    }
  }
  return cluster_id;
}

// How often each shard checks its groups' session and rebalance deadlines:
// the granularity of session.timeout.ms expiry.
constexpr int64_t k_group_tick_ms = 100;

storage::log_manager_config make_log_manager_config(const broker_config& c) {
  storage::log_manager_config out;
  out.log_dirs = c.log_dirs;
  out.defaults = controller::topic_log_config(c, {});
  out.retention_check_interval_ms = c.log_retention_check_interval_ms;
  out.segment_delete_delay_ms = c.log_segment_delete_delay_ms;
  out.syncfs_min_files = c.ringlog_flush_syncfs_min_files;
  out.cleaner.dedupe_buffer_bytes = static_cast<size_t>(c.log_cleaner_dedupe_buffer_size);
  out.cleaner.file_delete_delay_ms = c.log_segment_delete_delay_ms;
  out.cleaner.backoff_ms = c.log_cleaner_backoff_ms;
  if (c.log_cleaner_io_max_bytes_per_second < std::numeric_limits<int64_t>::max()) {
    out.cleaner.io_max_bytes_per_second = static_cast<double>(c.log_cleaner_io_max_bytes_per_second);
  }
  return out;
}

}  // namespace

broker::broker(broker_config config) : _config(std::move(config)) {}

broker::~broker() { stop(); }

fetch_waiters& broker::waiters() noexcept { return *_waiters[shard::current()->id()]; }

producer_ids& broker::pids() noexcept { return *_pids[shard::current()->id()]; }

producer_states& broker::producers() noexcept { return *_producers[shard::current()->id()]; }

group_coordinator& broker::groups() noexcept { return *_groups[shard::current()->id()]; }

unsigned broker::group_shard(std::string_view group_id) const noexcept {
  const int32_t p = offsets_partition_for(group_id, _config.offsets_topic_num_partitions);
  return _logs->shard_of(storage::topic_partition{std::string(k_offsets_topic), p});
}

const std::vector<net::bound_listener>& broker::listeners() const noexcept {
  return _server->bound();
}

status broker::start() {
  RINGLOG_ASSERT(!_started, "broker started twice");
  for (const auto& dir : _config.log_dirs) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return error::from_errno(ec.value(), "mkdir", fmt::format("log dir {}: {}", dir, ec.message()));
    }
  }
  _rt = std::make_unique<runtime>(
      runtime_options{.shards = static_cast<unsigned>(_config.ringlog_shards),
                      .ring_entries = static_cast<unsigned>(_config.ringlog_io_uring_entries),
                      .pin_threads = _config.ringlog_shards_pin});
  if (status st = _rt->start(); !st) return st;
  auto cluster = check_meta_properties(_config, *_rt);
  if (!cluster) {
    _rt->stop();
    return cluster.error();
  }
  _cluster_id = *cluster;
  for (unsigned i = 0; i < _rt->size(); ++i) {
    _waiters.push_back(std::make_unique<fetch_waiters>());
    _producers.push_back(std::make_unique<producer_states>());
    group_limits limits;
    limits.initial_rebalance_delay_ms = _config.group_initial_rebalance_delay_ms;
    limits.min_session_timeout_ms = _config.group_min_session_timeout_ms;
    limits.max_session_timeout_ms = _config.group_max_session_timeout_ms;
    limits.max_size = _config.group_max_size;
    limits.offsets_retention_ms = int64_t{_config.offsets_retention_minutes} * 60'000;
    limits.offsets_retention_check_interval_ms = _config.offsets_retention_check_interval_ms;
    _groups.push_back(std::make_unique<group_coordinator>(limits));
  }

  _logs = std::make_unique<storage::log_manager>(*_rt, make_log_manager_config(_config));
  _controller = std::make_unique<controller::controller>(*_rt, _config, *_logs);
  for (unsigned i = 0; i < _rt->size(); ++i) {
    _pids.push_back(std::make_unique<producer_ids>(*_controller));
  }
  if (status st = _controller->start(); !st) {
    if (status stopped = _controller->stop(); !stopped) {
      RINGLOG_ERROR("stopping after a failed start: {}", stopped.error().message());
    }
    _rt->stop();
    return st;
  }

  // Groups and committed offsets come back from __consumer_offsets before
  // any client can ask for them.
  for (unsigned s = 0; s < _rt->size(); ++s) {
    _groups[s]->attach(_logs.get(), _config.offsets_topic_num_partitions);
    if (status st = _rt->block_on(s, _groups[s]->load()); !st) {
      if (status stopped = _controller->stop(); !stopped) {
        RINGLOG_ERROR("stopping after a failed start: {}", stopped.error().message());
      }
      _rt->stop();
      return st;
    }
  }

  net::server_config sc;
  for (const auto& text : _config.listeners) {
    auto l = parse_listener(text);
    RINGLOG_ASSERT(l.has_value(), "listener {} passed config validation but does not parse", text);
    sc.listeners.push_back(*l);
  }
  sc.limits.max_request_bytes = static_cast<uint32_t>(_config.socket_request_max_bytes);
  sc.limits.idle_ms = _config.connections_max_idle_ms;
  sc.queued_max_request_bytes = _config.queued_max_request_bytes;
  _dispatcher = std::make_unique<dispatcher>(*this);
  _server = std::make_unique<net::server>(*_rt, sc, *_dispatcher);
  if (status st = _server->start(); !st) {
    if (status stopped = _controller->stop(); !stopped) {
      RINGLOG_ERROR("stopping after a failed start: {}", stopped.error().message());
    }
    _rt->stop();
    return st;
  }
  // The group timers start last: a failed start above never has to stop them.
  for (unsigned s = 0; s < _rt->size(); ++s) {
    _rt->block_on(s, [](group_coordinator* g) -> task<void> {
      spawn(g->run(k_group_tick_ms), "group timers");
      co_return;
    }(_groups[s].get()));
  }
  _started = true;
  return ok();
}

void broker::stop() {
  if (!_started) return;
  _started = false;
  // Parked JoinGroup/SyncGroup calls end first, so no handler waits on a group.
  for (unsigned s = 0; s < _rt->size(); ++s) {
    _rt->block_on(s, [](group_coordinator* g) -> task<void> {
      g->stop();
      co_return;
    }(_groups[s].get()));
  }
  _server->stop();
  if (status st = _controller->stop(); !st) {
    RINGLOG_ERROR("stop: {}", st.error().message());
  }
  _rt->stop();
}

}  // namespace ringlog::broker
