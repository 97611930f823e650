// ringlog-dump, the library behind the binary (main.cc only forwards argv): it
// reads a partition's files as they sit on disk, prints what they hold, checks
// them and reports every problem with its file and byte position. Reference:
// docs/tools/ringlog-dump.md; the formats are FORMATS.md §1-3 and §6.
//
// The file kind comes from the name: NNNNNNNNNNNNNNNNNNNN.log (a segment),
// .index, .timeindex (with an optional .deleted/.cleaned/.swap suffix), and
// the checkpoint files by their fixed names. Parsing and validation are the
// engine's own code, the code recovery runs: record_batch_view::peek_size and
// parse, record_iterator, the control record parsers, offset_index and
// time_index (read-only, with their entry count and sanity_check), and the
// checkpoint parsers. What is the tool's own is the walk that keeps going
// after a problem, the cross-checks between an index and its log, and the
// output.
//
// Reading is plain pread, front to back, through one bounded buffer; indexes
// are mapped read-only by the engine. Nothing is written, ever.
//
// Thread safety: run and dump_files use only their arguments; a run is
// single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "tools/dump/options.h"
#include "tools/dump/report.h"

namespace ringlog::dump {

// What a path names, by its file name alone.
struct file_identity {
  file_kind kind = file_kind::segment;
  // From the 20-digit name; absent for a .log named otherwise.
  std::optional<int64_t> base_offset{};
  // The path without extension and temporary suffix ("dir/000...042"), and
  // that suffix (".deleted", ".cleaned", ".swap" or empty): the segment's
  // other files are stem + extension + suffix.
  std::string stem{};
  std::string suffix{};

  std::string sibling(std::string_view extension) const {
    return stem + std::string(extension) + suffix;
  }
};

// The identity of `path`, or nullopt with the reason in `why`.
// needs_base_offset: a .log must then have a 20-digit name too (--verify-index).
std::optional<file_identity> identify(std::string_view path, bool needs_base_offset,
                                      std::string& why);

// The --help text.
std::string_view usage() noexcept;

// The whole tool: parses `args` (argv without argv[0]), writes the dump to
// `out` and usage errors and unreadable files to `err`; returns the exit status.
int run(std::span<const std::string> args, std::ostream& out, std::ostream& err);

// Dumps `files` with parsed options (what run does after parsing).
int dump_files(std::span<const std::string> files, const dump_options& options, std::ostream& out,
               std::ostream& err);

}  // namespace ringlog::dump
