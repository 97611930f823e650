// The walk over a .log file: batch by batch from position 0, as recovery
// reads it (record_batch_view::peek_size, then parse with allow_offset_gaps),
// but going on after a problem wherever the framing still holds:
//
//   problem                               then
//   bad CRC, failed header check          report, skip the batch by its length
//   legacy (magic 0/1) message            report, skip it by its length
//   record that does not decode           report, go on with the next batch
//   baseOffset not above the previous     report, go on
//   batch length < 49 / not magic 2       report, stop: the framing is lost
//   batch running past the end of file    report (a torn write), stop
//   < 12 bytes left, or only zeros left   report, stop
//
// Each batch is read whole through a read_window (bounded buffer); a batch
// above options.batch_bytes_max is CRC-checked piecewise and its records are
// not decoded. Observers (the index checks) see every batch walked, in order,
// contiguous from position 0 up to where the walk stopped.
//
// Thread safety: none; one walk at a time per reporter.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/result.h"
#include "tools/dump/file_reader.h"
#include "tools/dump/options.h"
#include "tools/dump/report.h"

namespace ringlog::dump {

class batch_observer {
 public:
  virtual ~batch_observer() = default;
  // A batch (or legacy message) at b.position of b.size bytes. `trusted`: its
  // CRC matched, so the fields inside the CRC range (lastOffsetDelta,
  // maxTimestamp...) mean something.
  virtual void on_batch(const batch_info& b, bool trusted) = 0;
};

struct walk_totals {
  uint64_t batches = 0;
  // Sum of recordsCount over batches with a valid CRC.
  uint64_t records = 0;
  // Where the walk stopped: the file size when it read everything.
  uint64_t end = 0;
  // The last offset of the last batch with a valid CRC.
  std::optional<int64_t> last_offset{};
};

// Walks `file` (the .log of a segment whose base offset, when known, is
// `base_offset`). print: batch and record lines (false for --verify-index).
// Problems go to `rep` under the log's path. Errors: only I/O failures (the
// file is unreadable); every content problem is reported and walked past.
result<walk_totals> walk_segment(const file_reader& file, std::optional<int64_t> base_offset,
                                 const dump_options& options, reporter& rep, bool print,
                                 std::span<batch_observer* const> observers);

}  // namespace ringlog::dump
