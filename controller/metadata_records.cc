// Codecs of the metadata records: the flexible encoding, by hand, for the few
// schemas we use. Each decoder reads every field through a bounded reader with
// a sticky error and checks once at the end (base/bytes.h).
#include "controller/metadata_records.h"

#include <fmt/core.h>

#include "base/bytes.h"
#include "controller/errc.h"

namespace ringlog::controller {
namespace {

constexpr uint32_t k_frame_version = 1;

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

void put_string(byte_writer& w, std::string_view s) {
  w.write_uvarint(uint64_t{s.size()} + 1);
  w.write_string(s);
}

void put_nullable_string(byte_writer& w, const std::optional<std::string>& s) {
  if (!s) {
    w.write_uvarint(0);
    return;
  }
  put_string(w, *s);
}

template <class Tag>
void put_uuid(byte_writer& w, const basic_uuid<Tag>& u) {
  w.write_u64(u.msb);
  w.write_u64(u.lsb);
}

void put_int32_array(byte_writer& w, const std::vector<int32_t>& v) {
  w.write_uvarint(uint64_t{v.size()} + 1);
  for (int32_t x : v) w.write_i32(x);
}

void put_no_tags(byte_writer& w) { w.write_uvarint(0); }

void encode_body(byte_writer& w, const register_broker_record& r) {
  w.write_i32(r.broker_id);
  put_uuid(w, r.incarnation);
  w.write_i64(r.broker_epoch);
  w.write_uvarint(uint64_t{r.endpoints.size()} + 1);
  for (const auto& e : r.endpoints) {
    put_string(w, e.name);
    put_string(w, e.host);
    w.write_u16(e.port);
    w.write_i16(e.security_protocol);
    put_no_tags(w);
  }
  w.write_uvarint(uint64_t{r.features.size()} + 1);
  for (const auto& f : r.features) {
    put_string(w, f.name);
    w.write_i16(f.min_supported);
    w.write_i16(f.max_supported);
    put_no_tags(w);
  }
  put_nullable_string(w, r.rack);
  w.write_u8(r.fenced ? 1 : 0);
  w.write_u8(r.in_controlled_shutdown ? 1 : 0);  // v1
  put_no_tags(w);
}

void encode_body(byte_writer& w, const topic_record& r) {
  put_string(w, r.name);
  put_uuid(w, r.id);
  put_no_tags(w);
}

void encode_body(byte_writer& w, const partition_record& r) {
  w.write_i32(r.partition_id);
  put_uuid(w, r.topic);
  put_int32_array(w, r.replicas);
  put_int32_array(w, r.isr);
  put_int32_array(w, r.removing_replicas);
  put_int32_array(w, r.adding_replicas);
  w.write_i32(r.leader);
  w.write_i32(r.leader_epoch);
  w.write_i32(r.partition_epoch);
  // A tagged field is written only when it differs from its default (0).
  if (r.leader_recovery_state != 0) {
    w.write_uvarint(1);  // one tagged field
    w.write_uvarint(0);  // tag 0: LeaderRecoveryState
    w.write_uvarint(1);  // its size: one int8
    w.write_i8(r.leader_recovery_state);
  } else {
    put_no_tags(w);
  }
}

void encode_body(byte_writer& w, const config_record& r) {
  w.write_i8(static_cast<int8_t>(r.resource_type));
  put_string(w, r.resource_name);
  put_string(w, r.name);
  put_nullable_string(w, r.value);
  put_no_tags(w);
}

void encode_body(byte_writer& w, const remove_topic_record& r) {
  put_uuid(w, r.id);
  put_no_tags(w);
}

void encode_body(byte_writer& w, const feature_level_record& r) {
  put_string(w, r.name);
  w.write_i16(r.feature_level);
  put_no_tags(w);
}

void encode_body(byte_writer& w, const producer_ids_record& r) {
  w.write_i32(r.broker_id);
  w.write_i64(r.broker_epoch);
  w.write_i64(r.next_producer_id);
  put_no_tags(w);
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

// The flexible-encoding reads over a byte_reader; failures are sticky in it.
class flex_reader {
 public:
  explicit flex_reader(byte_reader& r) noexcept : _r(r) {}

  std::string string() {
    const uint32_t n = _r.read_uvarint();
    if (!_r.ok()) return {};
    if (n == 0) {
      _r.fail("null string where the schema has a non-null one");
      return {};
    }
    return std::string(_r.read_string_view(n - 1));
  }

  std::optional<std::string> nullable_string() {
    const uint32_t n = _r.read_uvarint();
    if (!_r.ok() || n == 0) return std::nullopt;
    return std::string(_r.read_string_view(n - 1));
  }

  template <class Tag>
  basic_uuid<Tag> uuid() {
    basic_uuid<Tag> u;
    u.msb = _r.read_u64();
    u.lsb = _r.read_u64();
    return u;
  }

  bool boolean() { return _r.read_u8() != 0; }

  // The element count of a non-null compact array. Checked against the bytes
  // left (each element takes at least min_element_bytes) before anyone
  // reserves room for it.
  size_t array_count(size_t min_element_bytes) {
    const uint32_t n = _r.read_uvarint();
    if (!_r.ok()) return 0;
    if (n == 0) {
      _r.fail("null array where the schema has a non-null one");
      return 0;
    }
    const size_t count = n - 1;
    if (count > _r.remaining() / min_element_bytes) {
      _r.fail("array count past the end of the record");
      return 0;
    }
    return count;
  }

  std::vector<int32_t> int32_array() {
    std::vector<int32_t> out(array_count(4));
    for (auto& x : out) x = _r.read_i32();
    return out;
  }

  // A tagged-field section: on_tag(tag, bytes) for each field, in order; tags
  // must increase. Fields nobody asks for are skipped by their size.
  template <class F>
  void tags(F on_tag) {
    const uint32_t count = _r.read_uvarint();
    // Each field takes at least two bytes (tag and size).
    if (_r.ok() && count > _r.remaining() / 2) {
      _r.fail("tagged-field count past the end of the record");
      return;
    }
    int64_t previous = -1;
    for (uint32_t i = 0; i < count && _r.ok(); ++i) {
      const uint32_t tag = _r.read_uvarint();
      const uint32_t size = _r.read_uvarint();
      if (!_r.ok()) return;
      if (static_cast<int64_t>(tag) <= previous) {
        _r.fail("tagged fields out of order");
        return;
      }
      previous = tag;
      const auto bytes = _r.read_bytes(size);
      if (!_r.ok()) return;
      on_tag(tag, bytes);
    }
  }
  void no_known_tags() {
    tags([](uint32_t, std::span<const std::byte>) {});
  }

  byte_reader& raw() noexcept { return _r; }

 private:
  byte_reader& _r;
};

register_broker_record decode_register_broker(flex_reader& f, uint32_t version) {
  register_broker_record r;
  r.broker_id = f.raw().read_i32();
  r.incarnation = f.uuid<incarnation_id_tag>();
  r.broker_epoch = f.raw().read_i64();
  // An endpoint is at least two empty strings, port, protocol, tags: 7 bytes.
  r.endpoints.resize(f.array_count(7));
  for (auto& e : r.endpoints) {
    e.name = f.string();
    e.host = f.string();
    e.port = f.raw().read_u16();
    e.security_protocol = f.raw().read_i16();
    f.no_known_tags();
  }
  // A feature: empty name, two int16, tags: 6 bytes.
  r.features.resize(f.array_count(6));
  for (auto& ft : r.features) {
    ft.name = f.string();
    ft.min_supported = f.raw().read_i16();
    ft.max_supported = f.raw().read_i16();
    f.no_known_tags();
  }
  r.rack = f.nullable_string();
  r.fenced = f.boolean();
  if (version >= 1) r.in_controlled_shutdown = f.boolean();
  f.no_known_tags();
  return r;
}

topic_record decode_topic(flex_reader& f) {
  topic_record r;
  r.name = f.string();
  r.id = f.uuid<topic_id_tag>();
  f.no_known_tags();
  return r;
}

partition_record decode_partition(flex_reader& f) {
  partition_record r;
  r.partition_id = f.raw().read_i32();
  r.topic = f.uuid<topic_id_tag>();
  r.replicas = f.int32_array();
  r.isr = f.int32_array();
  r.removing_replicas = f.int32_array();
  r.adding_replicas = f.int32_array();
  r.leader = f.raw().read_i32();
  r.leader_epoch = f.raw().read_i32();
  r.partition_epoch = f.raw().read_i32();
  f.tags([&](uint32_t tag, std::span<const std::byte> bytes) {
    if (tag != 0) return;  // a later version's tag: skipped by design
    if (bytes.size() != 1) {
      f.raw().fail("LeaderRecoveryState (tag 0) is not one byte");
      return;
    }
    r.leader_recovery_state = static_cast<int8_t>(bytes[0]);
  });
  return r;
}

config_record decode_config(flex_reader& f) {
  config_record r;
  r.resource_type = static_cast<config_resource_type>(f.raw().read_i8());
  r.resource_name = f.string();
  r.name = f.string();
  r.value = f.nullable_string();
  f.no_known_tags();
  return r;
}

remove_topic_record decode_remove_topic(flex_reader& f) {
  remove_topic_record r;
  r.id = f.uuid<topic_id_tag>();
  f.no_known_tags();
  return r;
}

feature_level_record decode_feature_level(flex_reader& f) {
  feature_level_record r;
  r.name = f.string();
  r.feature_level = f.raw().read_i16();
  f.no_known_tags();
  return r;
}

producer_ids_record decode_producer_ids(flex_reader& f) {
  producer_ids_record r;
  r.broker_id = f.raw().read_i32();
  r.broker_epoch = f.raw().read_i64();
  r.next_producer_id = f.raw().read_i64();
  f.no_known_tags();
  return r;
}

// The highest version of each type this build reads; every lower one shares
// its layout up to the fields that version adds.
int16_t max_version_read(metadata_record_type type) noexcept {
  return type == metadata_record_type::register_broker ? 1 : 0;
}

bool is_known_type(uint32_t type) noexcept {
  switch (static_cast<metadata_record_type>(type)) {
    case metadata_record_type::register_broker:
    case metadata_record_type::topic:
    case metadata_record_type::partition:
    case metadata_record_type::config:
    case metadata_record_type::remove_topic:
    case metadata_record_type::feature_level:
    case metadata_record_type::producer_ids:
      return true;
  }
  return false;
}

}  // namespace

metadata_record_type type_of(const metadata_record& record) noexcept {
  struct visitor {
    metadata_record_type operator()(const register_broker_record&) const noexcept {
      return metadata_record_type::register_broker;
    }
    metadata_record_type operator()(const topic_record&) const noexcept {
      return metadata_record_type::topic;
    }
    metadata_record_type operator()(const partition_record&) const noexcept {
      return metadata_record_type::partition;
    }
    metadata_record_type operator()(const config_record&) const noexcept {
      return metadata_record_type::config;
    }
    metadata_record_type operator()(const remove_topic_record&) const noexcept {
      return metadata_record_type::remove_topic;
    }
    metadata_record_type operator()(const feature_level_record&) const noexcept {
      return metadata_record_type::feature_level;
    }
    metadata_record_type operator()(const producer_ids_record&) const noexcept {
      return metadata_record_type::producer_ids;
    }
  };
  return std::visit(visitor{}, record);
}

std::string_view name_of(metadata_record_type type) noexcept {
  switch (type) {
    case metadata_record_type::register_broker:
      return "RegisterBrokerRecord";
    case metadata_record_type::topic:
      return "TopicRecord";
    case metadata_record_type::partition:
      return "PartitionRecord";
    case metadata_record_type::config:
      return "ConfigRecord";
    case metadata_record_type::remove_topic:
      return "RemoveTopicRecord";
    case metadata_record_type::feature_level:
      return "FeatureLevelRecord";
    case metadata_record_type::producer_ids:
      return "ProducerIdsRecord";
  }
  return "UnknownRecord";
}

int16_t version_written(metadata_record_type type) noexcept {
  // RegisterBrokerRecord v1 is what metadata.version 3.3-IV3 writes (it adds
  // InControlledShutdown); every other type has one version we need, v0.
  return type == metadata_record_type::register_broker ? 1 : 0;
}

void encode(const metadata_record& record, std::vector<std::byte>& out) {
  byte_writer w(out);
  const metadata_record_type type = type_of(record);
  w.write_uvarint(k_frame_version);
  w.write_uvarint(static_cast<uint64_t>(type));
  w.write_uvarint(static_cast<uint64_t>(version_written(type)));
  std::visit([&](const auto& r) { encode_body(w, r); }, record);
}

std::vector<std::byte> encode(const metadata_record& record) {
  std::vector<std::byte> out;
  encode(record, out);
  return out;
}

result<metadata_record> decode(std::span<const std::byte> value) {
  byte_reader r(value);
  const uint32_t frame = r.read_uvarint();
  const size_t type_pos = r.position();
  const uint32_t type = r.read_uvarint();
  const size_t version_pos = r.position();
  const uint32_t version = r.read_uvarint();
  if (!r.ok()) {
    return make_error(
        errc::corrupt_metadata_record, "metadata_record",
        fmt::format("record frame: {} at byte {}", r.failure(), r.failure_position()));
  }
  if (frame != k_frame_version) {
    return make_error(
        errc::corrupt_metadata_record, "metadata_record",
        fmt::format("frame version {} at byte 0; expected {}", frame, k_frame_version));
  }
  if (!is_known_type(type)) {
    return make_error(errc::unsupported_metadata_record, "metadata_record",
                      fmt::format("record type {} at byte {} is not one this build implements "
                                  "(written by a newer version?)",
                                  type, type_pos));
  }
  const auto t = static_cast<metadata_record_type>(type);
  if (version > static_cast<uint32_t>(max_version_read(t))) {
    return make_error(errc::unsupported_metadata_record, "metadata_record",
                      fmt::format("{} v{} at byte {}: this build reads up to v{}", name_of(t),
                                  version, version_pos, max_version_read(t)));
  }

  flex_reader f(r);
  metadata_record out;
  switch (t) {
    case metadata_record_type::register_broker:
      out = decode_register_broker(f, version);
      break;
    case metadata_record_type::topic:
      out = decode_topic(f);
      break;
    case metadata_record_type::partition:
      out = decode_partition(f);
      break;
    case metadata_record_type::config:
      out = decode_config(f);
      break;
    case metadata_record_type::remove_topic:
      out = decode_remove_topic(f);
      break;
    case metadata_record_type::feature_level:
      out = decode_feature_level(f);
      break;
    case metadata_record_type::producer_ids:
      out = decode_producer_ids(f);
      break;
  }
  if (!r.ok()) {
    return make_error(errc::corrupt_metadata_record, "metadata_record",
                      fmt::format("{} v{}: {} at byte {}", name_of(t), version, r.failure(),
                                  r.failure_position()));
  }
  if (r.remaining() != 0) {
    return make_error(errc::corrupt_metadata_record, "metadata_record",
                      fmt::format("{} v{}: {} bytes after the record at byte {}", name_of(t),
                                  version, r.remaining(), r.position()));
  }
  return out;
}

}  // namespace ringlog::controller
