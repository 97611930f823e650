// libFuzzer target for Kafka's text checkpoint files (engine/log/checkpoint.h,
// docs/formats/checkpoint.md): arbitrary bytes as an offset checkpoint
// (recovery-point-offset-checkpoint and its siblings, which log_manager reads
// at start-up) and as a leader-epoch-checkpoint (ringlog-dump reads both).
// The parsers must never crash, assert or read past the text, whatever a
// crash or an operator left in the file.
//
// Where a text parses, the entries must survive a round trip:
// parse(format(entries)) == entries (the text may differ: leading zeros, a
// missing final newline, "-0"), and format of that equals format(entries).
//
// The first input byte picks the reading:
//   bit 0  0: offset checkpoint, 1: leader-epoch checkpoint
//   bit 1  1: the bytes go through a file and read_small_file first, as
//          log_manager reads them (with a cap derived from the next bits)
// The rest is the file.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/log/checkpoint.h"
#include "tests/fuzz/scratch_file.h"

namespace {

using namespace ringlog::storage;

const std::string& scratch_path() {
  static const std::string path = ringlog::fuzz::make_scratch_path("ringlog_checkpoint_fuzz");
  return path;
}

using ringlog::fuzz::write_file;

void check_offsets(std::string_view text) {
  auto entries = parse_offset_checkpoint(text, recovery_point_checkpoint_file);
  if (!entries) {
    if (entries.error().message().empty()) __builtin_trap();
    return;
  }
  for (const auto& e : *entries) {
    if (!is_legal_topic_name(e.topic) || e.partition < 0 || e.offset < 0) __builtin_trap();
  }
  const std::string once = format_offset_checkpoint(*entries);
  auto again = parse_offset_checkpoint(once, "formatted");
  if (!again || *again != *entries) __builtin_trap();
  if (format_offset_checkpoint(*again) != once) __builtin_trap();
  // What log_manager builds from it ("topic-N" -> offset).
  std::unordered_map<std::string, int64_t> out;
  for (const auto& e : *entries) out[e.topic + "-" + std::to_string(e.partition)] = e.offset;
}

void check_epochs(std::string_view text) {
  auto entries = parse_leader_epoch_checkpoint(text, leader_epoch_checkpoint_file);
  if (!entries) {
    if (entries.error().message().empty()) __builtin_trap();
    return;
  }
  for (const auto& e : *entries) {
    if (e.epoch < 0 || e.start_offset < 0) __builtin_trap();
  }
  const std::string once = format_leader_epoch_checkpoint(*entries);
  auto again = parse_leader_epoch_checkpoint(once, "formatted");
  if (!again || *again != *entries) __builtin_trap();
  if (format_leader_epoch_checkpoint(*again) != once) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  // A copy, so that ASan sees reads past the exact end of the text.
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((mode & 2) != 0) {
    const std::string& path = scratch_path();
    if (!write_file(path, text)) return 0;
    // Caps around the size: too small, exact, generous.
    const size_t caps[] = {text.size() > 0 ? text.size() - 1 : 0, text.size(),
                           checkpoint_bytes_max};
    const size_t cap = caps[(mode >> 2) % 3];
    auto read = read_small_file(path, cap);
    ::unlink(path.c_str());
    if (!read) {
      if (cap >= text.size()) __builtin_trap();  // the whole file fits the cap
      return 0;
    }
    if (*read != text || read->size() > cap) __builtin_trap();
    text = std::move(*read);
  }
  if ((mode & 1) == 0) {
    check_offsets(text);
  } else {
    check_epochs(text);
  }
  return 0;
}
