#include "tools/dump/report.h"

#include <fmt/core.h>

#include "engine/record/batch_header.h"
#include "engine/record/control_record.h"
#include "tools/dump/json.h"

namespace ringlog::dump {
namespace {

std::string_view yes_no(bool b) noexcept { return b ? "true" : "false"; }

std::string codec_name(uint16_t attributes) {
  const uint8_t bits = record::codec_bits(attributes);
  if (bits > record::k_max_codec) return fmt::format("unknown({})", bits);
  return std::string(record::to_string(static_cast<record::compression>(bits)));
}

std::string_view timestamp_type_name(uint16_t attributes) noexcept {
  return record::to_string((attributes & record::k_attr_log_append_time) != 0
                               ? record::timestamp_type::log_append_time
                               : record::timestamp_type::create_time);
}

std::string hex32(uint32_t v) { return fmt::format("{:#010x}", v); }

// " key: ..." etc. for --print-values in text mode.
std::string text_values(const record::record_view& r, const render_options& o) {
  std::string out = " key: " + render_text(r.key(), o.encoding, o.max_bytes);
  out += " value: " + render_text(r.value(), o.encoding, o.max_bytes);
  out += " headers: [";
  bool first = true;
  for (const record::record_header& h : r.headers()) {
    if (!first) out += ", ";
    first = false;
    out += render_text_key(h.key, o.max_bytes);
    out += '=';
    out += render_text(h.value, o.encoding, o.max_bytes);
  }
  out += ']';
  return out;
}

std::string json_headers(const record::record_view& r, const render_options& o) {
  std::string out = "[";
  bool first = true;
  for (const record::record_header& h : r.headers()) {
    if (!first) out += ',';
    first = false;
    json_object item;
    // Header keys are strings in Kafka's API: always utf8 (hex only if invalid).
    add_json_bytes(item, "key", record::as_bytes(h.key), value_encoding::utf8, o.max_bytes);
    add_json_bytes(item, "value", h.value, o.encoding, o.max_bytes);
    out += item.finish();
  }
  out += ']';
  return out;
}

int64_t size_of(const record::nullable_bytes& b) noexcept {
  return b ? static_cast<int64_t>(b->size()) : -1;
}

}  // namespace

std::string_view to_string(problem_kind kind) noexcept {
  switch (kind) {
    case problem_kind::unreadable:
      return "unreadable";
    case problem_kind::trailing_bytes:
      return "trailing_bytes";
    case problem_kind::zero_tail:
      return "zero_tail";
    case problem_kind::bad_batch_length:
      return "bad_batch_length";
    case problem_kind::torn_batch:
      return "torn_batch";
    case problem_kind::bad_magic:
      return "bad_magic";
    case problem_kind::legacy_message:
      return "legacy_message";
    case problem_kind::crc_mismatch:
      return "crc_mismatch";
    case problem_kind::invalid_batch:
      return "invalid_batch";
    case problem_kind::offset_order:
      return "offset_order";
    case problem_kind::offset_overflow:
      return "offset_overflow";
    case problem_kind::invalid_records:
      return "invalid_records";
    case problem_kind::invalid_control:
      return "invalid_control";
    case problem_kind::bad_base_offset:
      return "bad_base_offset";
    case problem_kind::index_size:
      return "index_size";
    case problem_kind::index_order:
      return "index_order";
    case problem_kind::index_garbage:
      return "index_garbage";
    case problem_kind::index_mid_batch:
      return "index_mid_batch";
    case problem_kind::index_past_end:
      return "index_past_end";
    case problem_kind::index_unreadable_region:
      return "index_unreadable_region";
    case problem_kind::index_offset_mismatch:
      return "index_offset_mismatch";
    case problem_kind::time_index_offset:
      return "time_index_offset";
    case problem_kind::time_index_timestamp:
      return "time_index_timestamp";
    case problem_kind::checkpoint:
      return "checkpoint";
  }
  return "unknown";
}

std::string_view to_string(file_kind kind) noexcept {
  switch (kind) {
    case file_kind::segment:
      return "segment";
    case file_kind::offset_index:
      return "offset_index";
    case file_kind::time_index:
      return "time_index";
    case file_kind::offset_checkpoint:
      return "offset_checkpoint";
    case file_kind::leader_epoch_checkpoint:
      return "leader_epoch_checkpoint";
  }
  return "unknown";
}

std::string control_type_name(int16_t type) {
  switch (static_cast<record::control_type>(type)) {
    case record::control_type::abort:
      return "ABORT";
    case record::control_type::commit:
      return "COMMIT";
    case record::control_type::leader_change:
      return "LEADER_CHANGE";
    case record::control_type::snapshot_header:
      return "SNAPSHOT_HEADER";
    case record::control_type::snapshot_footer:
      return "SNAPSHOT_FOOTER";
    case record::control_type::kraft_version:
      return "KRAFT_VERSION";
    case record::control_type::kraft_voters:
      return "KRAFT_VOTERS";
  }
  return fmt::format("UNKNOWN({})", type);
}

void reporter::line(const std::string& text) { _out << text << '\n'; }

void reporter::file_start(std::string_view file, file_kind kind, std::optional<int64_t> base_offset,
                          uint64_t size) {
  if (_options.json) {
    json_object o;
    o.str("type", "file").str("file", file).str("kind", to_string(kind));
    if (base_offset) {
      o.num("baseOffset", *base_offset);
    } else {
      o.null("baseOffset");
    }
    o.num("size", size);
    line(o.finish());
    return;
  }
  std::string text = fmt::format("file: {} kind: {}", file, to_string(kind));
  if (kind == file_kind::segment || kind == file_kind::offset_index ||
      kind == file_kind::time_index) {
    text += base_offset ? fmt::format(" baseOffset: {}", *base_offset) : " baseOffset: unknown";
  }
  text += fmt::format(" size: {}", size);
  line(text);
}

void reporter::file_end(const file_summary& s) {
  const bool segment = s.kind == file_kind::segment;
  const bool index = s.kind == file_kind::offset_index || s.kind == file_kind::time_index;
  if (_options.json) {
    json_object o;
    o.str("type", "summary").str("file", s.file).str("kind", to_string(s.kind));
    if (segment) {
      o.num("batches", s.batches).num("records", s.records).num("validBytes", s.valid_bytes);
    } else {
      o.num("entries", s.entries);
    }
    o.num("size", s.size);
    if (segment || index) o.boolean("verified", s.verified);
    if (segment) {
      if (s.offset_index_entries) {
        o.num("offsetIndexEntries", *s.offset_index_entries);
      } else {
        o.null("offsetIndexEntries");
      }
      if (s.time_index_entries) {
        o.num("timeIndexEntries", *s.time_index_entries);
      } else {
        o.null("timeIndexEntries");
      }
    }
    o.num("problems", s.problems);
    line(o.finish());
    return;
  }
  std::string text = fmt::format("summary: {}", s.file);
  if (segment) {
    text +=
        fmt::format(" batches: {} records: {} validBytes: {}", s.batches, s.records, s.valid_bytes);
  } else {
    text += fmt::format(" entries: {}", s.entries);
  }
  text += fmt::format(" size: {}", s.size);
  if (s.verified) {
    text += " verified: true";
    if (s.offset_index_entries) {
      text += fmt::format(" offsetIndexEntries: {}", *s.offset_index_entries);
    }
    if (s.time_index_entries) text += fmt::format(" timeIndexEntries: {}", *s.time_index_entries);
  }
  text += fmt::format(" problems: {}", s.problems);
  line(text);
}

void reporter::batch(std::string_view file, const batch_info& b) {
  const bool transactional = (b.attributes & record::k_attr_transactional) != 0;
  const bool control = (b.attributes & record::k_attr_control) != 0;
  const bool horizon = (b.attributes & record::k_attr_delete_horizon) != 0;
  if (_options.json) {
    json_object o;
    o.str("type", "batch")
        .str("file", file)
        .num("baseOffset", b.base_offset)
        .num("lastOffset", b.last_offset())
        .num("count", b.records_count)
        .num("position", b.position)
        .num("size", b.size)
        .num("crc", b.crc)
        .num("computedCrc", b.computed_crc)
        .boolean("crcValid", b.crc_valid())
        .num("magic", static_cast<int>(b.magic))
        .num("attributes", static_cast<int>(b.attributes))
        .str("compression", codec_name(b.attributes))
        .str("timestampType", timestamp_type_name(b.attributes))
        .num("baseTimestamp", b.base_timestamp)
        .num("maxTimestamp", b.max_timestamp)
        .num("producerId", b.producer_id)
        .num("producerEpoch", static_cast<int>(b.producer_epoch))
        .num("baseSequence", b.base_sequence)
        .boolean("isTransactional", transactional)
        .boolean("isControl", control)
        .num("partitionLeaderEpoch", b.partition_leader_epoch);
    if (horizon) {
      o.num("deleteHorizonMs", b.base_timestamp);
    } else {
      o.null("deleteHorizonMs");
    }
    line(o.finish());
    return;
  }
  std::string text = fmt::format(
      "batch baseOffset: {} lastOffset: {} count: {} position: {} size: {} crc: {} crcValid: {}",
      b.base_offset, b.last_offset(), b.records_count, b.position, b.size, hex32(b.crc),
      yes_no(b.crc_valid()));
  if (!b.crc_valid()) text += " computedCrc: " + hex32(b.computed_crc);
  text += fmt::format(
      " magic: {} compression: {} timestampType: {} baseTimestamp: {} maxTimestamp: {} "
      "producerId: {} producerEpoch: {} baseSequence: {} isTransactional: {} isControl: {} "
      "partitionLeaderEpoch: {}",
      b.magic, codec_name(b.attributes), timestamp_type_name(b.attributes), b.base_timestamp,
      b.max_timestamp, b.producer_id, b.producer_epoch, b.base_sequence, yes_no(transactional),
      yes_no(control), b.partition_leader_epoch);
  if (horizon) text += fmt::format(" deleteHorizonMs: {}", b.base_timestamp);
  line(text);
}

void reporter::record(std::string_view file, const record_info& info) {
  const record::record_view& r = *info.record;
  if (_options.json) {
    json_object o;
    o.str("type", "record")
        .str("file", file)
        .num("batchPosition", info.batch_position)
        .num("offset", r.offset())
        .num("timestamp", r.timestamp())
        .num("keySize", size_of(r.key()))
        .num("valueSize", size_of(r.value()))
        .num("headerCount", r.headers().size())
        .num("sequence", info.sequence);
    if (info.control) {
      json_object c;
      c.str("type", control_type_name(info.control->type))
          .num("typeId", static_cast<int>(info.control->type))
          .num("version", static_cast<int>(info.control->key_version));
      if (info.control->coordinator_epoch) {
        c.num("coordinatorEpoch", *info.control->coordinator_epoch);
      } else {
        c.null("coordinatorEpoch");
      }
      o.raw("control", c.finish());
    } else {
      o.null("control");
    }
    if (_options.print_values) {
      add_json_bytes(o, "key", r.key(), _options.encoding, _options.max_bytes);
      add_json_bytes(o, "value", r.value(), _options.encoding, _options.max_bytes);
      o.raw("headers", json_headers(r, _options));
    }
    line(o.finish());
    return;
  }
  std::string text = fmt::format(
      "  record offset: {} timestamp: {} keySize: {} valueSize: {} headerCount: {} sequence: {}",
      r.offset(), r.timestamp(), size_of(r.key()), size_of(r.value()), r.headers().size(),
      info.sequence);
  if (info.control) {
    text += " control: " + control_type_name(info.control->type);
    if (info.control->coordinator_epoch) {
      text += fmt::format(" coordinatorEpoch: {}", *info.control->coordinator_epoch);
    }
  }
  if (_options.print_values) text += text_values(r, _options);
  line(text);
}

void reporter::offset_entry(std::string_view file, uint64_t entry, int64_t offset,
                            uint32_t position) {
  if (_options.json) {
    json_object o;
    o.str("type", "offset_index_entry")
        .str("file", file)
        .num("entry", entry)
        .num("offset", offset)
        .num("position", position);
    line(o.finish());
    return;
  }
  line(fmt::format("entry {} offset: {} position: {}", entry, offset, position));
}

void reporter::time_entry(std::string_view file, uint64_t entry, int64_t timestamp,
                          int64_t offset) {
  if (_options.json) {
    json_object o;
    o.str("type", "time_index_entry")
        .str("file", file)
        .num("entry", entry)
        .num("timestamp", timestamp)
        .num("offset", offset);
    line(o.finish());
    return;
  }
  line(fmt::format("entry {} timestamp: {} offset: {}", entry, timestamp, offset));
}

void reporter::checkpoint_entry(std::string_view file, std::string_view topic, int32_t partition,
                                int64_t offset) {
  if (_options.json) {
    json_object o;
    o.str("type", "checkpoint_entry")
        .str("file", file)
        .str("topic", topic)
        .num("partition", partition)
        .num("offset", offset);
    line(o.finish());
    return;
  }
  line(fmt::format("entry topic: {} partition: {} offset: {}", topic, partition, offset));
}

void reporter::epoch_entry(std::string_view file, int32_t epoch, int64_t start_offset) {
  if (_options.json) {
    json_object o;
    o.str("type", "leader_epoch_entry")
        .str("file", file)
        .num("epoch", epoch)
        .num("startOffset", start_offset);
    line(o.finish());
    return;
  }
  line(fmt::format("entry epoch: {} startOffset: {}", epoch, start_offset));
}

void reporter::note(std::string_view file, std::optional<uint64_t> position,
                    std::string_view message) {
  if (_options.json) {
    json_object o;
    o.str("type", "note").str("file", file);
    if (position) {
      o.num("position", *position);
    } else {
      o.null("position");
    }
    o.str("message", message);
    line(o.finish());
    return;
  }
  if (position) {
    line(fmt::format("note: {}: position {}: {}", file, *position, message));
  } else {
    line(fmt::format("note: {}: {}", file, message));
  }
}

void reporter::report(const problem& p) {
  ++_problems;
  if (_options.json) {
    json_object o;
    o.str("type", "problem").str("file", p.file).str("kind", to_string(p.kind));
    const auto opt = [&o](std::string_view key, const std::optional<uint64_t>& v) {
      if (v) {
        o.num(key, *v);
      } else {
        o.null(key);
      }
    };
    opt("position", p.position);
    opt("entry", p.entry);
    opt("line", p.line);
    o.str("message", p.message);
    line(o.finish());
    return;
  }
  std::string where;
  if (p.line) {
    where = fmt::format("{}:{}", p.file, *p.line);
  } else if (p.entry && p.position) {
    where = fmt::format("{}: entry {} (byte {})", p.file, *p.entry, *p.position);
  } else if (p.position) {
    where = fmt::format("{}: position {}", p.file, *p.position);
  } else {
    where = p.file;
  }
  line(fmt::format("problem: {}: {}", where, p.message));
}

}  // namespace ringlog::dump
