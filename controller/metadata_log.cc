#include "controller/metadata_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "controller/errc.h"
#include "engine/record/batch_builder.h"
#include "engine/record/errc.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/io.h"

namespace ringlog::controller {
namespace {

// Bytes read per step of the replay. A batch larger than this is still read
// whole (partition_log::read returns at least the batch holding the offset).
constexpr uint32_t k_replay_read_bytes = 1 << 20;

task<status> read_exact(int fd, std::span<std::byte> out, uint64_t position,
                        const std::string& path) {
  size_t have = 0;
  while (have < out.size()) {
    auto n = co_await io::read(fd, out.subspan(have), position + have);
    if (!n) co_return std::move(n).error();
    if (*n == 0) {
      co_return error::from_errno(
          EIO, "read", fmt::format("{}: ends at {} inside a batch", path, position + have));
    }
    have += *n;
  }
  co_return ok();
}

// fsync of a directory, so a new entry in it survives a power loss.
task<status> sync_dir(std::string path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) co_return error::from_errno(errno, "open", path);
  status st = co_await io::fsync(fd);
  ::close(fd);
  co_return st;
}

}  // namespace

storage::log_config metadata_log::config() {
  storage::log_config c;
  c.retention_ms = -1;
  c.retention_bytes = -1;
  c.max_message_bytes = k_metadata_batch_bytes_max;
  // Small index files: the metadata log is small, and a 10 MiB index per
  // segment (sparse, but mapped) buys nothing here.
  c.index_max_bytes = 1 << 20;
  return c;
}

task<result<std::unique_ptr<metadata_log>>> metadata_log::open(std::string log_dir) {
  const std::string dir = log_dir + "/" + std::string(k_metadata_partition_dir);
  const bool existed = std::filesystem::exists(dir);
  std::unique_ptr<metadata_log> self(new metadata_log());
  // No recovery point of our own: every batch is re-read and CRC-checked.
  auto opened = co_await storage::partition_log::open(dir, config(), self->_flusher,
                                                      storage::recovery_state{});
  if (!opened) co_return std::move(opened).error();
  self->_log = std::move(*opened);
  if (!existed) {
    // partition_log::open makes the directory; its entry in the log dir must
    // be durable before anything in it counts as durable.
    if (auto st = co_await sync_dir(log_dir); !st) {
      (void)co_await self->close();
      co_return st.error();
    }
  }
  const auto& rec = self->_log->recovery();
  if (rec.bytes_truncated > 0) {
    RINGLOG_WARN("{}: recovery cut {} bytes of a torn or corrupt tail", dir, rec.bytes_truncated);
  }
  co_return self;
}

metadata_log::~metadata_log() {
  RINGLOG_ASSERT(_closed || !_log, "metadata log destroyed without close()");
}

task<result<replay_report>> metadata_log::replay(record_callback on_record) {
  replay_report report;
  storage::partition_log& log = *_log;
  int64_t offset = log.log_start_offset();
  std::vector<std::byte> bytes;
  std::vector<std::byte> scratch;
  while (offset < log.durable_end()) {
    auto slice = co_await log.read(offset, k_replay_read_bytes, storage::read_bound::durable);
    if (!slice) co_return std::move(slice).error();
    if (slice->bytes == 0) break;  // the durable end sits in a gap: nothing more
    bytes.resize(slice->bytes);
    if (auto st = co_await read_exact(slice->file->fd, bytes, slice->position, slice->file->path);
        !st) {
      co_return st.error();
    }
    record::batch_iterator batches(bytes);
    bool any = false;
    for (;;) {
      auto b = batches.next();
      if (!b) {
        // A slice may end inside a batch; the next read starts at it.
        if (any && b.error().is(record::errc::truncated)) break;
        co_return make_error(errc::corrupt_metadata_record, "metadata_replay",
                             fmt::format("batch at offset {}: {}", offset, b.error().message()));
      }
      if (!*b) break;
      const record::record_batch_view& batch = **b;
      any = true;
      if (batch.last_offset() < offset) continue;
      report.batches += 1;
      report.bytes += batch.size_bytes();
      // Control batches (raft's own markers, should a Kafka log be read)
      // carry no metadata records.
      if (!batch.is_control()) {
        auto records = record::record_iterator::open(batch, scratch);
        if (!records) co_return std::move(records).error();
        for (;;) {
          auto r = records->next();
          if (!r) co_return std::move(r).error();
          if (!*r) break;
          const record::record_view& rec = **r;
          if (rec.key().has_value() || !rec.value().has_value()) {
            co_return make_error(errc::corrupt_metadata_record, "metadata_replay",
                                 fmt::format("record at offset {}: a metadata record has a null "
                                             "key and a value",
                                             rec.offset()));
          }
          auto decoded = decode(*rec.value());
          if (!decoded) {
            co_return error(
                decoded.error().domain(), decoded.error().code(), "metadata_replay",
                fmt::format("record at offset {}: {}", rec.offset(), decoded.error().detail()));
          }
          if (auto st = on_record(*decoded, rec.offset()); !st) co_return st.error();
          report.records += 1;
        }
      }
      offset = batch.last_offset() + 1;
    }
  }
  co_return report;
}

task<result<storage::append_info>> metadata_log::append(std::span<const metadata_record> records) {
  RINGLOG_ASSERT(!records.empty(), "an empty metadata batch");
  RINGLOG_ASSERT(!_closed, "append to a closed metadata log");
  record::batch_builder builder({});
  std::vector<std::byte> value;
  const int64_t now = wall_ms();
  for (const metadata_record& r : records) {
    value.clear();
    encode(r, value);
    builder.add({.value = std::span<const std::byte>(value), .timestamp_ms = now});
  }
  auto batch = builder.build();
  if (!batch) co_return std::move(batch).error();
  auto appended = co_await _log->append(*batch, storage::durability::fsync);
  if (!appended) co_return std::move(appended).error();
  RINGLOG_ASSERT(
      appended->last_offset - appended->base_offset + 1 == static_cast<int64_t>(records.size()),
      "metadata batch of {} records got offsets {}..{}", records.size(), appended->base_offset,
      appended->last_offset);
  co_return *appended;
}

task<status> metadata_log::close() {
  if (_closed || !_log) co_return ok();
  _closed = true;
  co_return co_await _log->close();
}

}  // namespace ringlog::controller
