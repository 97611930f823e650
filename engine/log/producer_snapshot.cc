#include "engine/log/producer_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/crc32c.h"
#include "engine/log/checkpoint.h"
#include "engine/log/errc.h"
#include "engine/log/segment.h"
#include "engine/runtime/io.h"

namespace ringlog::storage {
namespace {

error corrupt(std::string_view path, size_t at, std::string what) {
  return make_error(errc::corrupt_checkpoint, "parse_producer_snapshot",
                    fmt::format("{}: {} at byte {}", path, what, at));
}

}  // namespace

std::string producer_snapshot_file_name(int64_t offset) {
  return segment_file_name(offset, k_producer_snapshot_suffix);
}

int64_t parse_producer_snapshot_file_name(std::string_view name) noexcept {
  return parse_segment_file_name(name, k_producer_snapshot_suffix);
}

std::string format_producer_snapshot(std::span<const producer_snapshot_entry> entries) {
  RINGLOG_ASSERT(
      entries.size() <= (producer_snapshot_bytes_max - k_producer_snapshot_header_bytes) /
                            k_producer_snapshot_entry_bytes,
      "{} producers do not fit a snapshot", entries.size());
  std::string out(
      k_producer_snapshot_header_bytes + entries.size() * k_producer_snapshot_entry_bytes, '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  store_be16(p, static_cast<uint16_t>(k_producer_snapshot_version));
  store_be32(p + k_producer_snapshot_count_pos, static_cast<uint32_t>(entries.size()));
  std::byte* e = p + k_producer_snapshot_header_bytes;
  for (const producer_snapshot_entry& entry : entries) {
    store_be64(e, static_cast<uint64_t>(entry.producer_id));
    store_be16(e + 8, static_cast<uint16_t>(entry.epoch));
    store_be32(e + 10, static_cast<uint32_t>(entry.last_sequence));
    store_be64(e + 14, static_cast<uint64_t>(entry.last_offset));
    store_be32(e + 22, static_cast<uint32_t>(entry.offset_delta));
    store_be64(e + 26, static_cast<uint64_t>(entry.timestamp));
    store_be32(e + 34, static_cast<uint32_t>(entry.coordinator_epoch));
    store_be64(e + 38, static_cast<uint64_t>(entry.current_txn_first_offset));
    e += k_producer_snapshot_entry_bytes;
  }
  RINGLOG_ASSERT(e == p + out.size(), "snapshot entries overran their {} bytes", out.size());
  const std::span<const std::byte> covered(p + k_producer_snapshot_count_pos,
                                           out.size() - k_producer_snapshot_count_pos);
  store_be32(p + k_producer_snapshot_crc_pos, crc32c(covered));
  return out;
}

result<std::vector<producer_snapshot_entry>> parse_producer_snapshot(
    std::span<const std::byte> bytes, std::string_view path_for_errors) {
  const std::string_view path = path_for_errors;
  if (bytes.size() < k_producer_snapshot_header_bytes) {
    return corrupt(path, bytes.size(),
                   fmt::format("{} bytes, shorter than the {}-byte header", bytes.size(),
                               k_producer_snapshot_header_bytes));
  }
  const auto version = static_cast<int16_t>(load_be16(bytes.data()));
  if (version != k_producer_snapshot_version) {
    return corrupt(
        path, 0, fmt::format("version {}, only {} is known", version, k_producer_snapshot_version));
  }
  const uint32_t stored = load_be32(bytes.data() + k_producer_snapshot_crc_pos);
  const uint32_t computed = crc32c(bytes.subspan(k_producer_snapshot_count_pos));
  if (stored != computed) {
    return corrupt(path, k_producer_snapshot_crc_pos,
                   fmt::format("CRC-32C {:#010x} stored, {:#010x} computed over bytes {}..{}",
                               stored, computed, k_producer_snapshot_count_pos, bytes.size()));
  }
  const auto count = static_cast<int32_t>(load_be32(bytes.data() + k_producer_snapshot_count_pos));
  if (count < 0) {
    return corrupt(path, k_producer_snapshot_count_pos,
                   fmt::format("entry count {} (the array is not nullable)", count));
  }
  const size_t room = bytes.size() - k_producer_snapshot_header_bytes;
  const size_t need = static_cast<size_t>(count) * k_producer_snapshot_entry_bytes;
  if (need > room) {
    return corrupt(path, k_producer_snapshot_count_pos,
                   fmt::format("entry count {} needs {} bytes, {} follow", count, need, room));
  }
  if (need < room) {
    return corrupt(path, k_producer_snapshot_header_bytes + need,
                   fmt::format("{} bytes after the last of {} entries", room - need, count));
  }
  std::vector<producer_snapshot_entry> out;
  out.reserve(static_cast<size_t>(count));
  byte_reader r(bytes.subspan(k_producer_snapshot_header_bytes));
  for (int32_t i = 0; i < count; ++i) {
    producer_snapshot_entry& e = out.emplace_back();
    e.producer_id = r.read_i64();
    e.epoch = r.read_i16();
    e.last_sequence = r.read_i32();
    e.last_offset = r.read_i64();
    e.offset_delta = r.read_i32();
    e.timestamp = r.read_i64();
    e.coordinator_epoch = r.read_i32();
    e.current_txn_first_offset = r.read_i64();
  }
  RINGLOG_ASSERT(r.ok() && r.remaining() == 0, "{}: sized {} entries but read {} bytes", path,
                 count, r.position());
  return out;
}

result<std::vector<producer_snapshot_entry>> parse_producer_snapshot(
    std::string_view bytes, std::string_view path_for_errors) {
  return parse_producer_snapshot(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
      path_for_errors);
}

result<std::vector<int64_t>> list_producer_snapshots(const std::string& dir) {
  std::vector<int64_t> offsets;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return error::from_errno(errno, "opendir", dir);
  while (dirent* e = ::readdir(d)) {
    const int64_t offset = parse_producer_snapshot_file_name(e->d_name);
    if (offset >= 0) offsets.push_back(offset);
  }
  ::closedir(d);
  std::sort(offsets.begin(), offsets.end());
  return offsets;
}

task<result<std::vector<producer_snapshot_entry>>> read_producer_snapshot(std::string dir,
                                                                          int64_t offset) {
  const std::string path = dir + "/" + producer_snapshot_file_name(offset);
  auto fd = co_await io::openat(AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (!fd) {
    co_return error(fd.error().domain(), fd.error().code(), "openat", path, fd.error().sys_errno());
  }
  // Read to EOF, at most one byte past the cap so a larger file is detected.
  std::vector<std::byte> bytes(4096);
  size_t have = 0;
  std::optional<error> failed;
  for (;;) {
    if (have == bytes.size()) {
      if (bytes.size() > producer_snapshot_bytes_max) break;
      bytes.resize(std::min(bytes.size() * 2, producer_snapshot_bytes_max + 1));
    }
    auto n = co_await io::read(*fd, std::span(bytes.data() + have, bytes.size() - have), have);
    if (!n) {
      failed = error(n.error().domain(), n.error().code(), "read", path, n.error().sys_errno());
      break;
    }
    if (*n == 0) break;
    have += *n;
  }
  (void)co_await io::close(*fd);
  if (failed) co_return *failed;
  if (have > producer_snapshot_bytes_max) {
    co_return make_error(errc::file_too_large, "read_producer_snapshot",
                         fmt::format("{}: more than {} bytes", path, producer_snapshot_bytes_max));
  }
  co_return parse_producer_snapshot(std::span<const std::byte>(bytes.data(), have), path);
}

task<status> write_producer_snapshot(std::string dir, int64_t offset,
                                     std::vector<producer_snapshot_entry> entries) {
  RINGLOG_ASSERT(offset >= 0, "{}: snapshot at offset {}", dir, offset);
  std::string contents = format_producer_snapshot(entries);
  std::string name = producer_snapshot_file_name(offset);
  status written = co_await write_file_atomically(dir, std::move(name), std::move(contents));
  if (!written) co_return written;
  auto offsets = list_producer_snapshots(dir);
  if (!offsets) co_return offsets.error();
  if (offsets->size() <= k_producer_snapshots_kept) co_return ok();
  const size_t doomed = offsets->size() - k_producer_snapshots_kept;
  for (size_t i = 0; i < doomed; ++i) {
    if (status st = co_await remove_producer_snapshot(dir, (*offsets)[i]); !st) co_return st;
  }
  co_return ok();
}

task<status> remove_producer_snapshot(std::string dir, int64_t offset) {
  const std::string path = dir + "/" + producer_snapshot_file_name(offset);
  status st = co_await io::unlinkat(AT_FDCWD, path.c_str());
  if (!st && st.error().sys_errno() != ENOENT) {
    co_return error(st.error().domain(), st.error().code(), "unlinkat", path,
                    st.error().sys_errno());
  }
  co_return ok();
}

}  // namespace ringlog::storage
