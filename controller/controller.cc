#include "controller/controller.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "base/assert.h"
#include "base/log.h"
#include "engine/log/checkpoint.h"
#include "engine/record/errc.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/when_all.h"

namespace ringlog::controller {
namespace {

// Partition logs one shard creates at once (each open makes files).
constexpr size_t k_log_actions_parallel = 32;

outcome failure(errc code, std::string message) { return outcome{code, std::move(message)}; }

void set_outcome(outcome& o, const outcome& from) {
  o.error = from.error;
  o.message = from.message;
}

// Kafka's collision rule: '.' and '_' may not tell two topics apart (both
// become '_' in metric names).
std::string unify_collision_chars(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '.', '_');
  return out;
}

bool has_collision_chars(std::string_view name) noexcept {
  return name.find_first_of("._") != std::string_view::npos;
}

// Kafka's Topic.validate, with its messages.
std::optional<std::string> invalid_name(std::string_view name) {
  constexpr size_t k_topic_bytes_max = 249;
  if (name.empty()) return "Topic name is illegal, it can't be empty";
  if (name == "." || name == "..") return "Topic name cannot be \".\" or \"..\"";
  if (name.size() > k_topic_bytes_max) {
    return fmt::format(
        "Topic name is illegal, it can't be longer than {} characters, topic "
        "name: {}",
        k_topic_bytes_max, name);
  }
  if (!storage::is_legal_topic_name(name)) {
    return fmt::format(
        "Topic name \"{}\" is illegal, it contains a character other than ASCII "
        "alphanumerics, '.', '_' and '-'",
        name);
  }
  return std::nullopt;
}

// A manual replica list: non-empty, no broker twice, every broker registered.
std::optional<std::string> invalid_replicas(const metadata_image& image,
                                            const std::vector<int32_t>& replicas) {
  if (replicas.empty()) return "The manual partition assignment includes an empty replica list.";
  for (size_t i = 0; i < replicas.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (replicas[i] == replicas[j]) {
        return fmt::format(
            "The manual partition assignment includes the broker {} more than "
            "once.",
            replicas[i]);
      }
    }
    if (image.find_broker(replicas[i]) == nullptr) {
      return fmt::format(
          "The manual partition assignment includes broker {}, but no such broker "
          "is registered.",
          replicas[i]);
    }
  }
  return std::nullopt;
}

partition_record new_partition(const topic_id& id, int32_t index, std::vector<int32_t> replicas) {
  partition_record p;
  p.partition_id = index;
  p.topic = id;
  p.isr = replicas;
  p.leader = replicas.front();
  p.replicas = std::move(replicas);
  p.leader_epoch = 0;
  p.partition_epoch = 0;
  return p;
}

int16_t security_protocol_of(std::string_view listener_name) noexcept {
  // Without listener.security.protocol.map, Kafka maps a listener named after
  // a protocol to it; Ringlog serves PLAINTEXT only, so anything else is that.
  if (listener_name == "SSL") return static_cast<int16_t>(security_protocol::ssl);
  if (listener_name == "SASL_PLAINTEXT")
    return static_cast<int16_t>(security_protocol::sasl_plaintext);
  if (listener_name == "SASL_SSL") return static_cast<int16_t>(security_protocol::sasl_ssl);
  return static_cast<int16_t>(security_protocol::plaintext);
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

task<status> sync_dir(std::string path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) co_return error::from_errno(errno, "open", path);
  status st = co_await io::fsync(fd);
  ::close(fd);
  co_return st;
}

outcome commit_failure(const error& e) {
  if (e.is(record::errc::message_too_large)) {
    return failure(errc::invalid_request,
                   fmt::format("The request's changes do not fit one metadata batch ({} MiB at "
                               "most); split the request",
                               k_metadata_batch_bytes_max >> 20));
  }
  return failure(errc::storage_error, "The metadata log could not be written: " + e.message());
}

// The overrides after `ops`, or why they cannot apply.
result<std::map<std::string, std::string>> apply_ops(const broker_config& broker,
                                                     std::map<std::string, std::string> configs,
                                                     const std::vector<config_alteration>& ops) {
  for (size_t i = 0; i < ops.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (ops[i].name == ops[j].name) {
        return make_error(errc::invalid_request, "incremental_alter_configs",
                          fmt::format("Error due to duplicate config keys: {}", ops[i].name));
      }
    }
  }
  for (const config_alteration& op : ops) {
    switch (op.op) {
      case config_op::set: {
        if (!op.value) {
          return make_error(errc::invalid_config, "incremental_alter_configs",
                            "Null value not supported for topic configs: " + op.name);
        }
        auto checked = check_topic_config(op.name, *op.value);
        if (!checked) return std::move(checked).error();
        configs[op.name] = std::move(*checked);
        break;
      }
      case config_op::remove:
        // Deleting a key nobody set (or one we do not know) changes nothing.
        configs.erase(op.name);
        break;
      case config_op::append:
      case config_op::subtract: {
        const char* verb = op.op == config_op::append ? "APPEND" : "SUBTRACT";
        if (topic_config_schema().find(op.name) == nullptr) {
          return make_error(errc::invalid_config, "incremental_alter_configs",
                            "Unknown topic config name: " + op.name);
        }
        if (!is_list_config(op.name)) {
          return make_error(
              errc::invalid_config, "incremental_alter_configs",
              fmt::format("Can't {} to key {} because its type is not LIST.", verb, op.name));
        }
        if (!op.value) {
          return make_error(errc::invalid_config, "incremental_alter_configs",
                            "Null value not supported for topic configs: " + op.name);
        }
        // Both sides through the checker: items trimmed and allowed.
        auto items_text = check_topic_config(op.name, *op.value);
        if (!items_text) return std::move(items_text).error();
        auto split = [](const std::string& text) {
          std::vector<std::string> out;
          size_t pos = 0;
          while (pos < text.size()) {
            size_t comma = text.find(',', pos);
            if (comma == std::string::npos) comma = text.size();
            out.push_back(text.substr(pos, comma - pos));
            pos = comma + 1;
          }
          return out;
        };
        std::vector<std::string> list = split(effective_topic_config(broker, configs, op.name));
        for (const std::string& item : split(*items_text)) {
          auto at = std::find(list.begin(), list.end(), item);
          if (op.op == config_op::append && at == list.end()) list.push_back(item);
          if (op.op == config_op::subtract)
            list.erase(std::remove(list.begin(), list.end(), item), list.end());
        }
        std::string joined;
        for (size_t k = 0; k < list.size(); ++k) joined += (k > 0 ? "," : "") + list[k];
        configs[op.name] = std::move(joined);
        break;
      }
      default:
        return make_error(
            errc::invalid_request, "incremental_alter_configs",
            fmt::format("Unknown config operation {} for {}", static_cast<int>(op.op), op.name));
    }
  }
  return configs;
}

// ConfigRecords turning `before` into `after` for one topic.
void config_changes(const std::string& topic_name, const std::map<std::string, std::string>& before,
                    const std::map<std::string, std::string>& after,
                    std::vector<metadata_record>& out) {
  for (const auto& [key, value] : before) {
    if (after.count(key) == 0) {
      out.push_back(config_record{config_resource_type::topic, topic_name, key, std::nullopt});
    }
  }
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    if (it == before.end() || it->second != value) {
      out.push_back(config_record{config_resource_type::topic, topic_name, key, value});
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Lock, slots, lifecycle
// ---------------------------------------------------------------------------

void controller::mutation_lock::unlock() {
  RINGLOG_ASSERT(_held, "unlock of a free mutation lock");
  if (_waiters.empty()) {
    _held = false;
    return;
  }
  // Ownership passes straight to the next waiter: no one can barge in.
  auto next = _waiters.front();
  _waiters.pop_front();
  shard::current()->schedule(next);
}

controller::controller(runtime& rt, broker_config config, storage::log_manager& logs)
    : controller(rt, std::move(config)) {
  _logs = &logs;
}

controller::controller(runtime& rt, broker_config config)
    : _rt(rt),
      _config(std::move(config)),
      _logs(nullptr),
      _slots(std::make_unique<image_slot[]>(rt.size())),
      _latest(metadata_image::empty()) {
  for (unsigned s = 0; s < rt.size(); ++s) _slots[s].image = _latest;
}

controller::~controller() {
  RINGLOG_ASSERT(!_log || _stopped, "controller destroyed while running: stop() it first");
}

void controller::set_slot(unsigned shard_id, const std::shared_ptr<const metadata_image>& image) {
  RINGLOG_ASSERT(shard::current() != nullptr && shard::current()->id() == shard_id,
                 "image slot {} written off its shard", shard_id);
  _slots[shard_id].image = image;
}

const metadata_image& controller::image_on_this_shard() const noexcept {
  shard* s = shard::current();
  RINGLOG_ASSERT(s != nullptr && &s->owner() == &_rt, "image_on_this_shard outside a shard");
  return *_slots[s->id()].image;
}

std::shared_ptr<const metadata_image> controller::image() const {
  shard* s = shard::current();
  if (s != nullptr && &s->owner() == &_rt) return _slots[s->id()].image;
  std::lock_guard lock(_latest_mu);
  return _latest;
}

std::vector<config_description> controller::describe_configs(const topic& t) const {
  return describe_topic_configs(_config, t.configs);
}

task<void> controller::publish(std::shared_ptr<const metadata_image> image) {
  std::vector<task<void>> hops;
  hops.reserve(_rt.size());
  for (unsigned s = 0; s < _rt.size(); ++s) {
    hops.push_back(invoke_on(s, [this, s, &image] { set_slot(s, image); }));
  }
  co_await when_all(std::move(hops));
  std::lock_guard lock(_latest_mu);
  _latest = std::move(image);
}

std::optional<std::string> controller::refuse_mutation() const {
  if (_stopped) return std::string("The controller is shutting down");
  if (!_log) return std::string("The controller has not started");
  if (_logs != nullptr && !_logs_synced) return std::string("The controller is still starting up");
  if (_log->log().offline()) {
    return std::string("The metadata log is offline after an I/O error; restart the broker");
  }
  return std::nullopt;
}

status controller::start() {
  RINGLOG_ASSERT(shard::current() == nullptr, "start() from a shard thread");
  RINGLOG_ASSERT(!_log, "controller started twice");
  status st = _rt.block_on(k_shard, start_on_shard());
  if (!st) return st;
  if (_logs == nullptr) {
    _logs_synced = true;
    return ok();
  }
  // Called on each shard while log_manager loads: each reads its own slot.
  _logs->set_topic_config([this](std::string_view name) {
    static const std::map<std::string, std::string> k_none;
    auto current = image();
    const topic* t = current->find_topic(name);
    return topic_log_config(_config, t != nullptr ? t->configs : k_none);
  });
  auto loaded = _logs->start();
  if (!loaded) return std::move(loaded).error();
  _logs_started = true;
  RINGLOG_INFO("partition logs: {} loaded, {} segments re-read, {} bytes cut, clean shutdown: {}",
               loaded->partitions, loaded->segments_scanned, loaded->bytes_truncated,
               loaded->clean_shutdown);
  return sync_partition_logs();
}

result<std::vector<metadata_record>> controller::startup_records(const metadata_image& image,
                                                                 int64_t next_offset) {
  std::vector<metadata_record> out;
  if (!image.brokers().empty() && image.find_broker(_config.node_id) == nullptr) {
    std::string ids;
    for (const auto& [id, b] : image.brokers())
      ids += (ids.empty() ? "" : ", ") + std::to_string(id);
    return make_error(errc::inconsistent_metadata, "controller_start",
                      fmt::format("the metadata log in {} was written by node {}, and node.id is "
                                  "{}: set node.id back, or give this node its own log.dirs",
                                  _config.log_dirs.front(), ids, _config.node_id));
  }
  if (image.metadata_version() == 0) {
    out.push_back(
        feature_level_record{std::string(k_metadata_version_feature), k_metadata_version_level});
  }
  std::vector<broker_endpoint> endpoints;
  for (const std::string& text : _config.advertised_listeners) {
    auto l = parse_listener(text);
    if (!l) return std::move(l).error();
    endpoints.push_back({l->name, l->host, l->port, security_protocol_of(l->name)});
  }
  const broker_registration* me = image.find_broker(_config.node_id);
  if (me == nullptr || me->endpoints != endpoints || me->fenced) {
    register_broker_record r;
    r.broker_id = _config.node_id;
    r.incarnation = incarnation_id::random();
    // Kafka's broker epoch is the offset of the registration record.
    r.broker_epoch = next_offset + static_cast<int64_t>(out.size());
    r.endpoints = std::move(endpoints);
    r.features.push_back(broker_feature{std::string(k_metadata_version_feature),
                                        k_metadata_version_level, k_metadata_version_level});
    // Unfenced at once: a single node has no heartbeats to wait for.
    r.fenced = false;
    out.push_back(std::move(r));
  }
  return out;
}

task<status> controller::start_on_shard() {
  if (_config.log_dirs.empty()) {
    co_return make_error(errc::invalid_request, "controller_start", "log.dirs is empty");
  }
  auto opened = co_await metadata_log::open(_config.log_dirs.front());
  if (!opened) co_return std::move(opened).error();
  _log = std::move(*opened);

  metadata_delta delta(*metadata_image::empty());
  metadata_log::record_callback on_record = [&](const metadata_record& r,
                                                int64_t offset) -> status {
    if (const auto* removed = std::get_if<remove_topic_record>(&r)) {
      if (const topic* t = delta.current().find_topic(removed->id)) _deleted_topics.insert(t->name);
    } else if (const auto* created = std::get_if<topic_record>(&r)) {
      _deleted_topics.erase(created->name);
    }
    return delta.replay(r, offset);
  };
  auto replayed = co_await _log->replay(std::move(on_record));
  if (!replayed) {
    // The log stays open: stop() closes it.
    co_return error(replayed.error().domain(), replayed.error().code(), "metadata_replay",
                    fmt::format("{}/{}: {}", _config.log_dirs.front(), k_metadata_partition_dir,
                                replayed.error().message()));
  }

  auto records = startup_records(delta.current(), _log->next_offset());
  if (!records) co_return std::move(records).error();
  if (!records->empty()) {
    const int64_t first = _log->next_offset();
    for (size_t i = 0; i < records->size(); ++i) {
      status st = delta.replay((*records)[i], first + static_cast<int64_t>(i));
      RINGLOG_ASSERT(st.has_value(), "bootstrap record does not apply: {}", st.error().message());
    }
    auto committed = co_await commit(*records);
    if (!committed) co_return std::move(committed).error();
  }
  auto image = delta.build();
  RINGLOG_INFO(
      "metadata: {} topics, {} partitions, {} brokers, metadata.version {}, at offset {} "
      "({} records replayed, {} written)",
      image->topics().size(), image->partition_count(), image->brokers().size(),
      image->metadata_version(), image->offset(), replayed->records, records->size());
  co_await publish(std::move(image));
  co_return ok();
}

status controller::sync_partition_logs() {
  RINGLOG_ASSERT(shard::current() == nullptr, "sync_partition_logs() from a shard thread");
  RINGLOG_ASSERT(_log != nullptr, "sync_partition_logs() before start()");
  if (_logs == nullptr) return ok();
  return _rt.block_on(k_shard, sync_on_shard());
}

task<status> controller::sync_on_shard() {
  co_await _lock.acquire();
  mutation_lock::guard held{&_lock};
  const auto image = _slots[k_shard].image;
  std::vector<log_action> actions;
  for (const auto& [name, t] : image->topics()) {
    const storage::log_config cfg = topic_log_config(_config, t->configs);
    for (const partition& p : t->partitions) {
      actions.push_back({log_action::kind::create, {name, p.id}, cfg});
    }
  }
  for (const std::string& dir : _config.log_dirs) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) co_return error::from_errno(errno, "opendir", dir);
    while (dirent* e = ::readdir(d)) {
      const std::string name(e->d_name);
      auto tp = storage::topic_partition::from_dir_name(name);
      if (!tp || tp->topic == k_metadata_topic) continue;
      struct stat st;
      if (::stat((dir + "/" + name).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      const topic* t = image->find_topic(tp->topic);
      if (t != nullptr && tp->partition < static_cast<int32_t>(t->partitions.size())) continue;
      if (t == nullptr && _deleted_topics.count(tp->topic) != 0) {
        // Deleted in the metadata log; the crash came before its logs went.
        RINGLOG_INFO("removing {}/{}: its topic was deleted", dir, name);
        actions.push_back({log_action::kind::remove, *tp, {}});
        continue;
      }
      RINGLOG_WARN(
          "{}/{} belongs to no topic in the metadata log; leaving it alone (creating a "
          "topic named {} is refused until it is moved away)",
          dir, name, tp->topic);
      _stray_topics.insert(tp->topic);
    }
    ::closedir(d);
  }
  auto errors = co_await run_log_actions(std::move(actions));
  for (auto& e : errors) {
    if (e) co_return *e;
  }
  _logs_synced = true;
  co_return ok();
}

status controller::stop() {
  RINGLOG_ASSERT(shard::current() == nullptr, "stop() from a shard thread");
  status first;
  if (_log && !_stopped) {
    first = _rt.block_on(k_shard, stop_on_shard());  // sets _stopped on its shard
  } else {
    _stopped = true;
  }
  if (_logs_started) {
    _logs_started = false;
    if (status st = _logs->stop(); !st && first) first = st;
  }
  return first;
}

task<status> controller::stop_on_shard() {
  co_await _lock.acquire();
  mutation_lock::guard held{&_lock};
  _stopped = true;
  co_return co_await _log->close();
}

// ---------------------------------------------------------------------------
// Commit and partition logs
// ---------------------------------------------------------------------------

task<result<int64_t>> controller::commit(const std::vector<metadata_record>& records) {
  const int64_t expected = _log->next_offset();
  auto appended = co_await _log->append(records);
  if (!appended) co_return std::move(appended).error();
  // One mutation at a time (the lock): nothing else can have taken offsets.
  RINGLOG_ASSERT(appended->base_offset == expected, "metadata batch at {}, expected {}",
                 appended->base_offset, expected);
  co_return appended->base_offset;
}

task<result<std::string>> controller::apply_log_action(log_action a) {
  switch (a.what) {
    case log_action::kind::create: {
      const bool existed = _logs->get(a.tp) != nullptr;
      auto log = co_await _logs->create(a.tp, a.config);
      if (!log) co_return std::move(log).error();
      (*log)->set_config(a.config);
      co_return existed ? std::string() : parent_dir((*log)->dir());
    }
    case log_action::kind::remove: {
      status st = co_await _logs->remove(a.tp);
      if (!st) co_return std::move(st).error();
      co_return std::string();
    }
    case log_action::kind::configure:
      if (storage::partition_log* log = _logs->get(a.tp)) log->set_config(a.config);
      co_return std::string();
  }
  co_return std::string();
}

task<std::vector<std::optional<error>>> controller::run_log_actions_here(
    std::vector<log_action> actions) {
  std::vector<std::optional<error>> out(actions.size());
  std::map<std::string, std::vector<size_t>> created_in;  // log dir -> actions
  for (size_t i = 0; i < actions.size(); i += k_log_actions_parallel) {
    const size_t end = std::min(actions.size(), i + k_log_actions_parallel);
    std::vector<task<result<std::string>>> batch;
    for (size_t j = i; j < end; ++j) batch.push_back(apply_log_action(std::move(actions[j])));
    auto done = co_await when_all(std::move(batch));
    for (size_t j = i; j < end; ++j) {
      auto& r = done[j - i];
      if (!r) {
        out[j] = std::move(r).error();
      } else if (!r->empty()) {
        created_in[*r].push_back(j);
      }
    }
  }
  // A new partition directory's entry in its log dir must be durable before
  // the partition's data counts as durable (log_manager::create does not
  // sync the log dir itself).
  for (auto& [dir, indexes] : created_in) {
    if (status st = co_await sync_dir(dir); !st) {
      for (size_t j : indexes) out[j] = st.error();
    }
  }
  co_return out;
}

task<std::vector<std::optional<error>>> controller::run_log_actions(
    std::vector<log_action> actions) {
  std::vector<std::optional<error>> out(actions.size());
  if (_logs == nullptr || actions.empty()) co_return out;
  const unsigned shards = _rt.size();
  std::vector<std::vector<log_action>> per_shard(shards);
  std::vector<std::vector<size_t>> index(shards);
  for (size_t i = 0; i < actions.size(); ++i) {
    const unsigned s = _logs->shard_of(actions[i].tp);
    index[s].push_back(i);
    per_shard[s].push_back(std::move(actions[i]));
  }
  std::vector<task<std::vector<std::optional<error>>>> runs;
  std::vector<unsigned> run_shards;
  for (unsigned s = 0; s < shards; ++s) {
    if (per_shard[s].empty()) continue;
    runs.push_back(invoke_on(
        s, [this, s, &per_shard] { return run_log_actions_here(std::move(per_shard[s])); }));
    run_shards.push_back(s);
  }
  auto results = co_await when_all(std::move(runs));
  for (size_t r = 0; r < results.size(); ++r) {
    const auto& idx = index[run_shards[r]];
    for (size_t k = 0; k < idx.size(); ++k) out[idx[k]] = std::move(results[r][k]);
  }
  co_return out;
}

// ---------------------------------------------------------------------------
// CreateTopics
// ---------------------------------------------------------------------------

controller::topic_plan controller::plan_topic(const metadata_image& image,
                                              const new_topic& t) const {
  topic_plan plan;
  if (t.name == k_metadata_topic) {
    plan.result = failure(errc::invalid_request,
                          fmt::format("Creation of internal topic {} is prohibited.", t.name));
    return plan;
  }
  if (auto why = invalid_name(t.name)) {
    plan.result = failure(errc::invalid_topic, *why);
    return plan;
  }
  if (image.find_topic(t.name) != nullptr) {
    plan.result =
        failure(errc::topic_already_exists, fmt::format("Topic '{}' already exists.", t.name));
    return plan;
  }
  if (has_collision_chars(t.name)) {
    const std::string unified = unify_collision_chars(t.name);
    for (const auto& [name, other] : image.topics()) {
      if (has_collision_chars(name) && unify_collision_chars(name) == unified) {
        plan.result =
            failure(errc::invalid_topic,
                    fmt::format("Topic '{}' collides with existing topic: {}", t.name, name));
        return plan;
      }
    }
  }
  if (_stray_topics.count(t.name) != 0) {
    plan.result = failure(errc::invalid_topic,
                          fmt::format("Topic '{}' has partition directories in the log dirs that "
                                      "the metadata does not know (see the broker log); move them "
                                      "away first",
                                      t.name));
    return plan;
  }

  // Configs, as Kafka checks them: before partitions and replicas.
  for (size_t i = 0; i < t.configs.size(); ++i) {
    const config_entry& c = t.configs[i];
    if (!c.value) {
      plan.result =
          failure(errc::invalid_config, "Null value not supported for topic configs: " + c.name);
      return plan;
    }
    if (plan.configs.count(c.name) != 0) {
      plan.result = failure(errc::invalid_request, fmt::format("Config {} is given twice", c.name));
      return plan;
    }
    auto checked = check_topic_config(c.name, *c.value);
    if (!checked) {
      plan.result = failure(errc::invalid_config, checked.error().detail());
      return plan;
    }
    plan.configs.emplace(c.name, std::move(*checked));
  }

  // Partitions and their replicas.
  std::vector<std::vector<int32_t>> replicas;
  if (!t.assignments.empty()) {
    if (t.replication_factor != -1) {
      plan.result = failure(errc::invalid_request,
                            "A manual partition assignment was specified, but replication factor "
                            "was not set to -1.");
      return plan;
    }
    if (t.num_partitions != -1) {
      plan.result = failure(errc::invalid_request,
                            "A manual partition assignment was specified, but numPartitions was "
                            "not set to -1.");
      return plan;
    }
    if (t.assignments.size() > static_cast<size_t>(k_partitions_per_topic_max)) {
      plan.result = failure(errc::invalid_partitions,
                            fmt::format("{} partitions is more than the {} a topic may have",
                                        t.assignments.size(), k_partitions_per_topic_max));
      return plan;
    }
    replicas.resize(t.assignments.size());
    std::vector<bool> seen(t.assignments.size(), false);
    for (const replica_assignment& a : t.assignments) {
      if (a.partition < 0 || static_cast<size_t>(a.partition) >= t.assignments.size() ||
          seen[static_cast<size_t>(a.partition)]) {
        plan.result = failure(errc::invalid_replica_assignment,
                              "Partitions should be a consecutive 0-based integer sequence");
        return plan;
      }
      seen[static_cast<size_t>(a.partition)] = true;
      if (auto why = invalid_replicas(image, a.broker_ids)) {
        plan.result = failure(errc::invalid_replica_assignment, *why);
        return plan;
      }
      if (a.broker_ids.size() != t.assignments.front().broker_ids.size()) {
        plan.result =
            failure(errc::invalid_replica_assignment,
                    fmt::format("The manual partition assignment includes a partition "
                                "with {} replica(s), but this is not consistent with "
                                "previous partitions, which have {} replica(s).",
                                a.broker_ids.size(), t.assignments.front().broker_ids.size()));
        return plan;
      }
      replicas[static_cast<size_t>(a.partition)] = a.broker_ids;
    }
    plan.replication_factor = static_cast<int16_t>(replicas.front().size());
  } else {
    const int32_t count = t.num_partitions == -1 ? _config.num_partitions : t.num_partitions;
    if (count <= 0) {
      plan.result = failure(errc::invalid_partitions,
                            "Number of partitions was set to an invalid non-positive value.");
      return plan;
    }
    if (count > k_partitions_per_topic_max) {
      plan.result = failure(errc::invalid_partitions,
                            fmt::format("{} partitions is more than the {} a topic may have", count,
                                        k_partitions_per_topic_max));
      return plan;
    }
    const int32_t factor =
        t.replication_factor == -1 ? _config.default_replication_factor : t.replication_factor;
    if (factor <= 0) {
      plan.result = failure(errc::invalid_replication_factor,
                            "Replication factor must be larger than 0, or -1 to use the default "
                            "value.");
      return plan;
    }
    // Every replica on its own broker; unfenced brokers only.
    int32_t usable = 0;
    for (const auto& [id, b] : image.brokers()) usable += b.fenced ? 0 : 1;
    if (factor > usable) {
      plan.result = failure(errc::invalid_replication_factor,
                            fmt::format("Unable to replicate the partition {} time(s): The target "
                                        "replication factor of {} cannot be reached because only "
                                        "{} broker(s) are registered.",
                                        factor, factor, usable));
      return plan;
    }
    // One usable broker: this one (factor <= usable == 1).
    replicas.assign(static_cast<size_t>(count), std::vector<int32_t>{_config.node_id});
    plan.replication_factor = static_cast<int16_t>(factor);
  }

  topic_id id;
  do {
    id = topic_id::random();
  } while (image.find_topic(id) != nullptr);
  plan.id = id;
  plan.num_partitions = static_cast<int32_t>(replicas.size());
  // TopicRecord, then its ConfigRecords, then its PartitionRecords (Kafka's order).
  plan.records.push_back(topic_record{t.name, id});
  for (const auto& [key, value] : plan.configs) {
    plan.records.push_back(config_record{config_resource_type::topic, t.name, key, value});
  }
  for (size_t p = 0; p < replicas.size(); ++p) {
    plan.records.push_back(new_partition(id, static_cast<int32_t>(p), std::move(replicas[p])));
  }
  return plan;
}

task<std::vector<create_topic_result>> controller::create_topics(std::vector<new_topic> topics,
                                                                 bool validate_only) {
  co_return co_await invoke_on(k_shard,
                               [&] { return do_create_topics(std::move(topics), validate_only); });
}

task<std::vector<create_topic_result>> controller::do_create_topics(std::vector<new_topic> topics,
                                                                    bool validate_only) {
  std::vector<create_topic_result> results(topics.size());
  for (size_t i = 0; i < topics.size(); ++i) results[i].name = topics[i].name;
  co_await _lock.acquire();
  mutation_lock::guard held{&_lock};
  if (auto why = refuse_mutation()) {
    for (auto& r : results) set_outcome(r, failure(errc::storage_error, *why));
    co_return results;
  }

  std::map<std::string, int, std::less<>> occurrences;
  for (const auto& t : topics) ++occurrences[t.name];
  metadata_delta delta(*_slots[k_shard].image);
  std::vector<metadata_record> records;
  const int64_t first_offset = _log->next_offset();
  std::vector<size_t> accepted;
  for (size_t i = 0; i < topics.size(); ++i) {
    create_topic_result& r = results[i];
    if (occurrences[topics[i].name] > 1) {
      set_outcome(r, failure(errc::invalid_request,
                             fmt::format("Topic '{}' appears more than once in the request.",
                                         topics[i].name)));
      continue;
    }
    // Planned against the image plus the topics accepted before it, so two
    // new topics of one request cannot collide either.
    topic_plan plan = plan_topic(delta.current(), topics[i]);
    if (!plan.result.ok()) {
      set_outcome(r, plan.result);
      continue;
    }
    if (records.size() + plan.records.size() > k_records_per_operation_max) {
      set_outcome(r, failure(errc::invalid_request,
                             fmt::format("The request creates too many partitions at once (at most "
                                         "{} metadata records per request); split it",
                                         k_records_per_operation_max)));
      continue;
    }
    for (auto& rec : plan.records) {
      status st = delta.replay(rec, first_offset + static_cast<int64_t>(records.size()));
      RINGLOG_ASSERT(st.has_value(), "planned record does not apply: {}", st.error().message());
      records.push_back(std::move(rec));
    }
    r.id = plan.id;
    r.num_partitions = plan.num_partitions;
    r.replication_factor = plan.replication_factor;
    r.configs = describe_topic_configs(_config, plan.configs);
    accepted.push_back(i);
  }
  if (validate_only || records.empty()) co_return results;

  auto committed = co_await commit(records);
  if (!committed) {
    const outcome why = commit_failure(committed.error());
    for (size_t i : accepted) {
      set_outcome(results[i], why);
      results[i].id = topic_id{};
      results[i].num_partitions = -1;
      results[i].replication_factor = -1;
      results[i].configs.clear();
    }
    co_return results;
  }
  auto image = delta.build();

  // The logs exist before any shard can see the topic.
  std::vector<log_action> actions;
  std::vector<size_t> action_topic;
  for (size_t i : accepted) {
    const topic* t = image->find_topic(results[i].name);
    const storage::log_config cfg = topic_log_config(_config, t->configs);
    for (const partition& p : t->partitions) {
      actions.push_back({log_action::kind::create, {t->name, p.id}, cfg});
      action_topic.push_back(i);
    }
  }
  std::vector<storage::topic_partition> tps;
  for (const auto& a : actions) tps.push_back(a.tp);
  auto errors = co_await run_log_actions(std::move(actions));
  for (size_t k = 0; k < errors.size(); ++k) {
    if (!errors[k] || !results[action_topic[k]].ok()) continue;
    RINGLOG_ERROR("topic {} created, but its partition log {} was not: {}", tps[k].topic,
                  tps[k].dir_name(), errors[k]->message());
    set_outcome(results[action_topic[k]],
                failure(errc::storage_error,
                        fmt::format("The topic was created, but partition {} could not be: {}",
                                    tps[k].partition, errors[k]->message())));
  }
  co_await publish(std::move(image));
  co_return results;
}

// ---------------------------------------------------------------------------
// DeleteTopics
// ---------------------------------------------------------------------------

task<std::vector<delete_topic_result>> controller::delete_topics(std::vector<topic_ref> topics) {
  co_return co_await invoke_on(k_shard, [&] { return do_delete_topics(std::move(topics)); });
}

task<std::vector<delete_topic_result>> controller::do_delete_topics(std::vector<topic_ref> topics) {
  std::vector<delete_topic_result> results(topics.size());
  for (size_t i = 0; i < topics.size(); ++i) {
    results[i].name = topics[i].name;
    results[i].id = topics[i].id;
  }
  co_await _lock.acquire();
  mutation_lock::guard held{&_lock};
  if (auto why = refuse_mutation()) {
    for (auto& r : results) set_outcome(r, failure(errc::storage_error, *why));
    co_return results;
  }
  const auto base = _slots[k_shard].image;
  std::vector<const topic*> found(topics.size(), nullptr);
  std::map<topic_id, int> occurrences;
  for (size_t i = 0; i < topics.size(); ++i) {
    const topic_ref& ref = topics[i];
    delete_topic_result& r = results[i];
    if (!ref.name.empty() && !ref.id.is_zero()) {
      set_outcome(r, failure(errc::invalid_request, "Give a topic name or a topic id, not both."));
    } else if (ref.name.empty() && ref.id.is_zero()) {
      set_outcome(r, failure(errc::invalid_request, "Give a topic name or a topic id."));
    } else if (!ref.name.empty()) {
      found[i] = base->find_topic(ref.name);
      if (found[i] == nullptr) {
        set_outcome(r, failure(errc::unknown_topic_or_partition,
                               fmt::format("Topic '{}' does not exist.", ref.name)));
      }
    } else {
      found[i] = base->find_topic(ref.id);
      if (found[i] == nullptr) {
        set_outcome(r, failure(errc::unknown_topic_id,
                               fmt::format("Topic id {} does not exist.", ref.id.to_string())));
      }
    }
    if (found[i] != nullptr) {
      r.name = found[i]->name;
      r.id = found[i]->id;
      ++occurrences[found[i]->id];
    }
  }
  metadata_delta delta(*base);
  std::vector<metadata_record> records;
  const int64_t first_offset = _log->next_offset();
  std::vector<size_t> accepted;
  for (size_t i = 0; i < topics.size(); ++i) {
    if (found[i] == nullptr) continue;
    if (occurrences[found[i]->id] > 1) {
      set_outcome(results[i], failure(errc::invalid_request,
                                      fmt::format("Topic '{}' appears more than once in the "
                                                  "request.",
                                                  found[i]->name)));
      continue;
    }
    records.push_back(remove_topic_record{found[i]->id});
    status st =
        delta.replay(records.back(), first_offset + static_cast<int64_t>(records.size()) - 1);
    RINGLOG_ASSERT(st.has_value(), "RemoveTopicRecord does not apply: {}", st.error().message());
    accepted.push_back(i);
  }
  if (records.empty()) co_return results;
  auto committed = co_await commit(records);
  if (!committed) {
    const outcome why = commit_failure(committed.error());
    for (size_t i : accepted) set_outcome(results[i], why);
    co_return results;
  }
  // Out of every shard's image first, so nothing new reaches the logs; then
  // the logs go. `base` keeps the removed topics alive for this.
  auto image = delta.build();
  co_await publish(std::move(image));
  std::vector<log_action> actions;
  for (size_t i : accepted) {
    for (const partition& p : found[i]->partitions) {
      actions.push_back({log_action::kind::remove, {found[i]->name, p.id}, {}});
    }
  }
  std::vector<storage::topic_partition> tps;
  for (const auto& a : actions) tps.push_back(a.tp);
  auto errors = co_await run_log_actions(std::move(actions));
  for (size_t k = 0; k < errors.size(); ++k) {
    if (!errors[k]) continue;
    // The topic is deleted (committed); its directory is finished off at the
    // next start. Until then the name cannot be reused over the leftover.
    RINGLOG_ERROR("topic {} deleted, but its partition log {} could not be removed: {}",
                  tps[k].topic, tps[k].dir_name(), errors[k]->message());
    _stray_topics.insert(tps[k].topic);
  }
  co_return results;
}

// ---------------------------------------------------------------------------
// CreatePartitions
// ---------------------------------------------------------------------------

task<std::vector<create_partitions_result>> controller::create_partitions(
    std::vector<partition_increase> increases, bool validate_only) {
  co_return co_await invoke_on(
      k_shard, [&] { return do_create_partitions(std::move(increases), validate_only); });
}

task<std::vector<create_partitions_result>> controller::do_create_partitions(
    std::vector<partition_increase> increases, bool validate_only) {
  std::vector<create_partitions_result> results(increases.size());
  for (size_t i = 0; i < increases.size(); ++i) results[i].topic = increases[i].topic;
  co_await _lock.acquire();
  mutation_lock::guard held{&_lock};
  if (auto why = refuse_mutation()) {
    for (auto& r : results) set_outcome(r, failure(errc::storage_error, *why));
    co_return results;
  }
  std::map<std::string, int, std::less<>> occurrences;
  for (const auto& inc : increases) ++occurrences[inc.topic];
  metadata_delta delta(*_slots[k_shard].image);
  std::vector<metadata_record> records;
  const int64_t first_offset = _log->next_offset();
  struct added {
    size_t result;
    std::string topic;
    int32_t from;
    int32_t to;
  };
  std::vector<added> accepted;
  for (size_t i = 0; i < increases.size(); ++i) {
    const partition_increase& inc = increases[i];
    create_partitions_result& r = results[i];
    if (occurrences[inc.topic] > 1) {
      set_outcome(
          r, failure(errc::invalid_request,
                     fmt::format("Topic '{}' appears more than once in the request.", inc.topic)));
      continue;
    }
    const topic* t = delta.current().find_topic(inc.topic);
    if (t == nullptr) {
      set_outcome(r, failure(errc::unknown_topic_or_partition,
                             fmt::format("Topic '{}' does not exist.", inc.topic)));
      continue;
    }
    const auto current = static_cast<int32_t>(t->partitions.size());
    if (inc.count < current) {
      set_outcome(r, failure(errc::invalid_partitions,
                             fmt::format("Topic currently has {} partitions, which is higher than "
                                         "the requested {}.",
                                         current, inc.count)));
      continue;
    }
    if (inc.count == current) {
      set_outcome(r, failure(errc::invalid_partitions,
                             fmt::format("Topic already has {} partitions.", current)));
      continue;
    }
    if (inc.count > k_partitions_per_topic_max) {
      set_outcome(r, failure(errc::invalid_partitions,
                             fmt::format("{} partitions is more than the {} a topic may have",
                                         inc.count, k_partitions_per_topic_max)));
      continue;
    }
    const int32_t more = inc.count - current;
    if (!inc.assignments.empty() && inc.assignments.size() != static_cast<size_t>(more)) {
      set_outcome(r, failure(errc::invalid_replica_assignment,
                             fmt::format("Attempted to add {} additional partition(s), but only {} "
                                         "assignment(s) were specified.",
                                         more, inc.assignments.size())));
      continue;
    }
    const size_t factor = t->partitions.empty() ? 1 : t->partitions.front().replicas.size();
    std::optional<std::string> bad;
    for (const auto& a : inc.assignments) {
      bad = invalid_replicas(delta.current(), a);
      if (!bad && a.size() != factor) {
        bad = fmt::format(
            "The manual partition assignment includes a partition with {} "
            "replica(s), but this is not consistent with previous partitions, which "
            "have {} replica(s).",
            a.size(), factor);
      }
      if (bad) break;
    }
    if (bad) {
      set_outcome(r, failure(errc::invalid_replica_assignment, *bad));
      continue;
    }
    if (records.size() + static_cast<size_t>(more) > k_records_per_operation_max) {
      set_outcome(r, failure(errc::invalid_request,
                             fmt::format("The request creates too many partitions at once (at most "
                                         "{} metadata records per request); split it",
                                         k_records_per_operation_max)));
      continue;
    }
    const topic_id id = t->id;
    const std::string name = t->name;
    for (int32_t p = current; p < inc.count; ++p) {
      std::vector<int32_t> replicas = inc.assignments.empty()
                                          ? std::vector<int32_t>{_config.node_id}
                                          : inc.assignments[static_cast<size_t>(p - current)];
      records.push_back(new_partition(id, p, std::move(replicas)));
      status st =
          delta.replay(records.back(), first_offset + static_cast<int64_t>(records.size()) - 1);
      RINGLOG_ASSERT(st.has_value(), "PartitionRecord does not apply: {}", st.error().message());
    }
    accepted.push_back({i, name, current, inc.count});
  }
  if (validate_only || records.empty()) co_return results;
  auto committed = co_await commit(records);
  if (!committed) {
    const outcome why = commit_failure(committed.error());
    for (const auto& a : accepted) set_outcome(results[a.result], why);
    co_return results;
  }
  auto image = delta.build();
  std::vector<log_action> actions;
  std::vector<size_t> action_result;
  for (const auto& a : accepted) {
    const storage::log_config cfg = topic_log_config(_config, image->find_topic(a.topic)->configs);
    for (int32_t p = a.from; p < a.to; ++p) {
      actions.push_back({log_action::kind::create, {a.topic, p}, cfg});
      action_result.push_back(a.result);
    }
  }
  auto errors = co_await run_log_actions(std::move(actions));
  for (size_t k = 0; k < errors.size(); ++k) {
    if (!errors[k] || !results[action_result[k]].ok()) continue;
    set_outcome(results[action_result[k]],
                failure(errc::storage_error,
                        "The partitions were added, but a partition log could not be created: " +
                            errors[k]->message()));
  }
  co_await publish(std::move(image));
  co_return results;
}

// ---------------------------------------------------------------------------
// AlterConfigs and IncrementalAlterConfigs
// ---------------------------------------------------------------------------

task<std::vector<alter_configs_result>> controller::alter_configs(
    std::vector<alter_configs_resource> resources, bool validate_only) {
  // Both requests become "the new overrides of each resource".
  std::vector<config_change> changes(resources.size());
  for (size_t i = 0; i < resources.size(); ++i) {
    changes[i].resource = std::move(resources[i].resource);
    changes[i].full_set = std::move(resources[i].configs);
    changes[i].legacy = true;
  }
  co_return co_await invoke_on(k_shard,
                               [&] { return do_alter_configs(std::move(changes), validate_only); });
}

task<std::vector<alter_configs_result>> controller::incremental_alter_configs(
    std::vector<incremental_alter_configs_resource> resources, bool validate_only) {
  std::vector<config_change> changes(resources.size());
  for (size_t i = 0; i < resources.size(); ++i) {
    changes[i].resource = std::move(resources[i].resource);
    changes[i].ops = std::move(resources[i].ops);
    changes[i].legacy = false;
  }
  co_return co_await invoke_on(k_shard,
                               [&] { return do_alter_configs(std::move(changes), validate_only); });
}

task<std::vector<alter_configs_result>> controller::do_alter_configs(
    std::vector<config_change> changes, bool validate_only) {
  std::vector<alter_configs_result> results(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) results[i].resource = changes[i].resource;
  co_await _lock.acquire();
  mutation_lock::guard held{&_lock};
  if (auto why = refuse_mutation()) {
    for (auto& r : results) set_outcome(r, failure(errc::storage_error, *why));
    co_return results;
  }
  const auto base = _slots[k_shard].image;
  std::vector<metadata_record> records;
  std::vector<std::string> changed_topics;
  for (size_t i = 0; i < changes.size(); ++i) {
    const config_change& c = changes[i];
    alter_configs_result& r = results[i];
    bool duplicate = false;
    for (size_t j = 0; j < changes.size(); ++j)
      duplicate |= j != i && changes[j].resource == c.resource;
    if (duplicate) {
      set_outcome(r, failure(errc::invalid_request,
                             fmt::format("Resource '{}' appears more than once in the request.",
                                         c.resource.name)));
      continue;
    }
    if (c.resource.type == config_resource_type::broker) {
      if (c.full_set.empty() && c.ops.empty()) continue;  // nothing to change
      set_outcome(r, failure(errc::invalid_request,
                             "Dynamic broker configs are not supported yet; set the key in the "
                             "broker's config file and restart it."));
      continue;
    }
    if (c.resource.type != config_resource_type::topic) {
      set_outcome(
          r, failure(errc::invalid_request, fmt::format("Config resource type {} is not supported.",
                                                        static_cast<int>(c.resource.type))));
      continue;
    }
    const topic* t = base->find_topic(c.resource.name);
    if (t == nullptr) {
      set_outcome(r, failure(errc::unknown_topic_or_partition,
                             fmt::format("Topic '{}' does not exist.", c.resource.name)));
      continue;
    }
    std::map<std::string, std::string> after;
    if (c.legacy) {
      std::optional<outcome> bad;
      for (const config_entry& e : c.full_set) {
        if (after.count(e.name) != 0) {
          bad = failure(errc::invalid_request, "Error due to duplicate config keys: " + e.name);
        } else if (!e.value) {
          bad = failure(errc::invalid_config,
                        "Null value not supported for topic configs: " + e.name);
        } else if (auto checked = check_topic_config(e.name, *e.value); !checked) {
          bad = failure(errc::invalid_config, checked.error().detail());
        } else {
          after.emplace(e.name, std::move(*checked));
        }
        if (bad) break;
      }
      if (bad) {
        set_outcome(r, *bad);
        continue;
      }
    } else {
      auto applied = apply_ops(_config, t->configs, c.ops);
      if (!applied) {
        set_outcome(r,
                    failure(static_cast<errc>(applied.error().code()), applied.error().detail()));
        continue;
      }
      after = std::move(*applied);
    }
    const size_t before_count = records.size();
    config_changes(t->name, t->configs, after, records);
    if (records.size() != before_count) changed_topics.push_back(t->name);
  }
  if (validate_only || records.empty()) co_return results;

  metadata_delta delta(*base);
  const int64_t first_offset = _log->next_offset();
  for (size_t k = 0; k < records.size(); ++k) {
    status st = delta.replay(records[k], first_offset + static_cast<int64_t>(k));
    RINGLOG_ASSERT(st.has_value(), "ConfigRecord does not apply: {}", st.error().message());
  }
  auto committed = co_await commit(records);
  if (!committed) {
    const outcome why = commit_failure(committed.error());
    for (auto& r : results) {
      if (r.ok()) set_outcome(r, why);
    }
    co_return results;
  }
  auto image = delta.build();
  std::vector<log_action> actions;
  for (const std::string& name : changed_topics) {
    const topic* t = image->find_topic(name);
    const storage::log_config cfg = topic_log_config(_config, t->configs);
    for (const partition& p : t->partitions) {
      actions.push_back({log_action::kind::configure, {name, p.id}, cfg});
    }
  }
  (void)co_await run_log_actions(std::move(actions));  // configure cannot fail
  co_await publish(std::move(image));
  co_return results;
}

// ---------------------------------------------------------------------------
// Producer id blocks
// ---------------------------------------------------------------------------

task<result<producer_id_block>> controller::allocate_producer_ids(int32_t count) {
  co_return co_await invoke_on(k_shard, [this, count] { return do_allocate_producer_ids(count); });
}

task<result<producer_id_block>> controller::do_allocate_producer_ids(int32_t count) {
  if (count < 1 || count > k_producer_id_block_max) {
    co_return make_error(
        errc::invalid_request, "allocate_producer_ids",
        fmt::format("a block of {} producer ids; ask for 1 to {}", count, k_producer_id_block_max));
  }
  co_await _lock.acquire();
  mutation_lock::guard held{&_lock};
  if (auto why = refuse_mutation()) {
    co_return make_error(errc::storage_error, "allocate_producer_ids", std::move(*why));
  }
  const auto base = _slots[k_shard].image;
  const int64_t first = base->next_producer_id();
  if (first > std::numeric_limits<int64_t>::max() - count) {
    co_return make_error(
        errc::producer_ids_exhausted, "allocate_producer_ids",
        fmt::format("the next producer id is {}; no block of {} is left", first, count));
  }
  producer_ids_record record;
  record.broker_id = _config.node_id;
  const broker_registration* me = base->find_broker(_config.node_id);
  record.broker_epoch = me != nullptr ? me->epoch : -1;
  record.next_producer_id = first + count;
  std::vector<metadata_record> records;
  records.push_back(record);
  metadata_delta delta(*base);
  status st = delta.replay(records.front(), _log->next_offset());
  RINGLOG_ASSERT(st.has_value(), "ProducerIdsRecord does not apply: {}", st.error().message());
  auto committed = co_await commit(records);
  if (!committed) {
    co_return make_error(errc::storage_error, "allocate_producer_ids",
                         "the metadata log could not be written: " + committed.error().message());
  }
  // Published before the block is returned: the next allocation (the lock
  // orders them) starts from this image, above the block just handed out.
  auto image = delta.build();
  RINGLOG_ASSERT(image->next_producer_id() == first + count,
                 "next producer id {} after a block at {}", image->next_producer_id(), first);
  co_await publish(std::move(image));
  co_return producer_id_block{first, count};
}

}  // namespace ringlog::controller
