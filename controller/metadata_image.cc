#include "controller/metadata_image.h"

#include <fmt/core.h>

#include "base/assert.h"
#include "controller/errc.h"

namespace ringlog::controller {

std::shared_ptr<const metadata_image> metadata_image::empty() {
  static const auto k_empty = std::make_shared<const metadata_image>();
  return k_empty;
}

const topic* metadata_image::find_topic(std::string_view name) const noexcept {
  auto it = _by_name.find(name);
  return it == _by_name.end() ? nullptr : it->second.get();
}

const topic* metadata_image::find_topic(const topic_id& id) const noexcept {
  auto it = _by_id.find(id);
  return it == _by_id.end() ? nullptr : it->second.get();
}

std::shared_ptr<const topic> metadata_image::topic_ptr(std::string_view name) const noexcept {
  auto it = _by_name.find(name);
  return it == _by_name.end() ? nullptr : it->second;
}

const broker_registration* metadata_image::find_broker(int32_t id) const noexcept {
  auto it = _brokers.find(id);
  return it == _brokers.end() ? nullptr : &it->second;
}

int16_t metadata_image::metadata_version() const noexcept {
  auto it = _features.find(k_metadata_version_feature);
  return it == _features.end() ? 0 : it->second;
}

result<std::shared_ptr<const metadata_image>> metadata_image::apply(const metadata_record& record,
                                                                    int64_t offset) const {
  metadata_delta delta(*this);
  if (auto st = delta.replay(record, offset); !st) return std::move(st).error();
  return delta.build();
}

metadata_delta::metadata_delta(const metadata_image& base) : _next(base) {}

topic& metadata_delta::own(const std::string& name) {
  auto owned = _owned.find(name);
  if (owned != _owned.end()) return *owned->second;
  auto it = _next._by_name.find(name);
  RINGLOG_ASSERT(it != _next._by_name.end(), "own({}) of a topic that is not there", name);
  auto copy = std::make_shared<topic>(*it->second);
  it->second = copy;
  _next._by_id[copy->id] = copy;
  _owned.emplace(name, copy);
  return *copy;
}

namespace {

error inconsistent(const metadata_record& record, int64_t offset, std::string why) {
  return make_error(errc::inconsistent_metadata, "metadata_replay",
                    fmt::format("{} at offset {}: {}", name_of(type_of(record)), offset, why));
}

}  // namespace

status metadata_delta::replay(const metadata_record& record, int64_t offset) {
  RINGLOG_ASSERT(offset > _next._offset, "metadata record at offset {} after offset {}", offset,
                 _next._offset);
  // Each case checks first and changes the delta only once the record fits.
  if (const auto* r = std::get_if<register_broker_record>(&record)) {
    if (r->broker_id < 0)
      return inconsistent(record, offset, fmt::format("broker id {}", r->broker_id));
    broker_registration b{r->broker_id, r->incarnation, r->broker_epoch, r->endpoints,
                          r->features,  r->rack,        r->fenced,       r->in_controlled_shutdown};
    _next._brokers[r->broker_id] = std::move(b);
  } else if (const auto* t = std::get_if<topic_record>(&record)) {
    if (t->name.empty() || t->id.is_zero()) {
      return inconsistent(record, offset, "a topic needs a name and a non-zero id");
    }
    if (_next._by_name.count(t->name) != 0) {
      return inconsistent(record, offset, fmt::format("topic {} exists already", t->name));
    }
    if (_next._by_id.count(t->id) != 0) {
      return inconsistent(record, offset,
                          fmt::format("topic id {} is taken already", t->id.to_string()));
    }
    auto fresh = std::make_shared<topic>();
    fresh->name = t->name;
    fresh->id = t->id;
    _next._by_name.emplace(t->name, fresh);
    _next._by_id.emplace(t->id, fresh);
    _owned.emplace(t->name, std::move(fresh));
  } else if (const auto* p = std::get_if<partition_record>(&record)) {
    const topic* existing = _next.find_topic(p->topic);
    if (existing == nullptr) {
      return inconsistent(record, offset,
                          fmt::format("partition {} of unknown topic id {}", p->partition_id,
                                      p->topic.to_string()));
    }
    const auto count = static_cast<int32_t>(existing->partitions.size());
    if (p->partition_id < 0 || p->partition_id > count) {
      return inconsistent(record, offset,
                          fmt::format("partition {} of {}, which has {} partitions (they must "
                                      "stay 0..n-1)",
                                      p->partition_id, existing->name, count));
    }
    topic& mine = own(existing->name);
    partition part{p->partition_id, p->replicas,     p->isr,
                   p->leader,       p->leader_epoch, p->partition_epoch};
    if (p->partition_id == count) {
      mine.partitions.push_back(std::move(part));
      ++_next._partition_count;
    } else {
      mine.partitions[static_cast<size_t>(p->partition_id)] = std::move(part);
    }
  } else if (const auto* c = std::get_if<config_record>(&record)) {
    if (c->resource_type == config_resource_type::topic) {
      const topic* existing = _next.find_topic(c->resource_name);
      if (existing == nullptr) {
        return inconsistent(
            record, offset,
            fmt::format("config {} of unknown topic {}", c->name, c->resource_name));
      }
      topic& mine = own(existing->name);
      if (c->value) {
        mine.configs[c->name] = *c->value;
      } else {
        mine.configs.erase(c->name);
      }
    } else if (c->resource_type == config_resource_type::broker) {
      auto& configs = _next._broker_configs[c->resource_name];
      if (c->value) {
        configs[c->name] = *c->value;
      } else {
        configs.erase(c->name);
        if (configs.empty()) _next._broker_configs.erase(c->resource_name);
      }
    } else {
      return make_error(errc::unsupported_metadata_record, "metadata_replay",
                        fmt::format("ConfigRecord at offset {}: resource type {} is not one this "
                                    "build keeps",
                                    offset, static_cast<int>(c->resource_type)));
    }
  } else if (const auto* rm = std::get_if<remove_topic_record>(&record)) {
    const topic* existing = _next.find_topic(rm->id);
    if (existing == nullptr) {
      return inconsistent(record, offset, fmt::format("unknown topic id {}", rm->id.to_string()));
    }
    const std::string name = existing->name;
    _next._partition_count -= existing->partitions.size();
    _next._by_id.erase(rm->id);
    _next._by_name.erase(name);  // `existing` dies here if no image holds it
    _owned.erase(name);
  } else if (const auto* f = std::get_if<feature_level_record>(&record)) {
    if (f->feature_level == 0) {
      _next._features.erase(f->name);
    } else {
      _next._features[f->name] = f->feature_level;
    }
  } else if (const auto* ids = std::get_if<producer_ids_record>(&record)) {
    // Each record hands out a non-empty block, so the next id only grows;
    // going back would hand ids out twice (Kafka's replay refuses it too).
    if (ids->next_producer_id <= _next._next_producer_id) {
      return inconsistent(record, offset,
                          fmt::format("next producer id {} is not above the current {}: producer "
                                      "ids would be handed out twice",
                                      ids->next_producer_id, _next._next_producer_id));
    }
    _next._next_producer_id = ids->next_producer_id;
  }
  _next._offset = offset;
  _changed = true;
  return ok();
}

std::shared_ptr<const metadata_image> metadata_delta::build() {
  auto image = std::make_shared<const metadata_image>(_next);
  // The built image shares the topics this delta owned; later replays must
  // copy them again rather than change a published image.
  _owned.clear();
  return image;
}

}  // namespace ringlog::controller
