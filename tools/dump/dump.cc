#include "tools/dump/dump.h"

#include <fmt/core.h>

#include <cerrno>
#include <charconv>
#include <set>
#include <vector>

#include "engine/log/checkpoint.h"
#include "engine/log/errc.h"
#include "engine/log/segment.h"
#include "tools/dump/file_reader.h"
#include "tools/dump/index_check.h"
#include "tools/dump/segment_walk.h"

namespace ringlog::dump {
namespace {

constexpr std::string_view k_usage =
    R"(usage: ringlog-dump [OPTIONS] FILE...

Prints and checks the files of a Kafka or Ringlog partition as they are on
disk, and reports every problem with its file and byte position. It only
reads. The kind of each FILE comes from its name:

  NNNNNNNNNNNNNNNNNNNN.log        segment: one line per record batch
  NNNNNNNNNNNNNNNNNNNN.index      offset index: one line per entry
  NNNNNNNNNNNNNNNNNNNN.timeindex  time index: one line per entry
  recovery-point-offset-checkpoint, log-start-offset-checkpoint,
  replication-offset-checkpoint, cleaner-offset-checkpoint
                                  topic, partition and offset per entry
  leader-epoch-checkpoint         epoch and start offset per entry

NNNNNNNNNNNNNNNNNNNN is the segment's base offset in 20 digits. Segment files
may end in .deleted, .cleaned or .swap as well.

Options:
  --records, --print-data-log
              also print a line per record: offset, timestamp, key and value
              sizes (-1 = null), header count, sequence; control records are
              decoded (COMMIT/ABORT with the coordinator epoch). Compressed
              batches are decompressed for this.
  --print-values
              also print each record's key, value and headers (implies
              --records)
  --encoding utf8|hex
              how --print-values shows bytes. utf8 (default): quoted text,
              with \" \\ \n \r \t and \xNN for bytes that are control
              characters or not valid UTF-8. hex: lowercase hex digits.
              Header keys are always shown as text.
  --max-bytes N
              cut each printed key, value and header to N bytes (default 256,
              0 = no cut); "..." marks a cut
  --deep      decode and check every record of every batch, compressed ones
              too, without printing them (implied by --records)
  --verify-index
              check instead of print: the offset and time index of each .log
              against it (each entry must point at a batch start holding its
              offset; time entries within the log and not above its max
              timestamps), or a given .index/.timeindex against its .log.
              Prints problems, notes and a summary line per file.
  --json      one JSON object per line instead of text; the fields are listed
              in docs/tools/ringlog-dump.md
  --help      this text

Output. Text lines start with their type: file, batch, record (indented),
entry, note, problem, summary; `grep '^problem'` lists the problems:
  problem: FILE: position P: WHAT            P is a byte position in FILE
  problem: FILE: entry N (byte P): WHAT      an index entry
  problem: FILE:LINE: WHAT                   a checkpoint line
After a bad CRC or a record that does not decode, the walk goes on with the
next batch (by its length). It stops a file where the framing is lost: a
length that is impossible, a magic byte that is not 2, a batch that runs past
the end of the file (a torn write), or zeros where a batch should start.

Exit status:
  0  every file was read and is clean
  1  a problem was found in some file
  2  bad usage, a file whose kind is unknown, or a file that cannot be read

Examples:
  ringlog-dump /data/orders-0/00000000000000000000.log
  ringlog-dump --print-values --max-bytes 64 00000000000000001000.log
  ringlog-dump --records --encoding hex 00000000000000001000.log
  ringlog-dump --verify-index /data/orders-0/*.log
  ringlog-dump --json --deep /data/orders-0/*.log | jq 'select(.type == "problem")'
  ringlog-dump /data/recovery-point-offset-checkpoint /data/orders-0/leader-epoch-checkpoint
)";

constexpr std::string_view k_temporary_suffixes[] = {".deleted", ".cleaned", ".swap"};

struct checkpoint_name {
  std::string_view name;
  file_kind kind;
};
constexpr checkpoint_name k_checkpoints[] = {
    {storage::recovery_point_checkpoint_file, file_kind::offset_checkpoint},
    {storage::log_start_offset_checkpoint_file, file_kind::offset_checkpoint},
    {storage::replication_offset_checkpoint_file, file_kind::offset_checkpoint},
    {storage::cleaner_offset_checkpoint_file, file_kind::offset_checkpoint},
    {storage::leader_epoch_checkpoint_file, file_kind::leader_epoch_checkpoint},
};

struct segment_extension {
  std::string_view extension;
  file_kind kind;
};
// .timeindex before .index is not needed (".timeindex" does not end in
// ".index"), but the order documents the intent.
constexpr segment_extension k_segment_extensions[] = {
    {".timeindex", file_kind::time_index},
    {".index", file_kind::offset_index},
    {".log", file_kind::segment},
};

// State of one run across its files.
struct run_state {
  const dump_options& options;
  reporter& rep;
  std::ostream& err;
  // A file could not be read at all: exit status 2.
  bool fatal = false;
  // Index files already verified against their log in this run (a .log and
  // its .index both on the command line are checked once).
  std::set<std::string> verified;
};

void unreadable(run_state& st, const std::string& file, const error& e) {
  st.fatal = true;
  st.err << "ringlog-dump: " << e.message() << '\n';
  if (st.options.json) st.rep.report({problem_kind::unreadable, file, {}, {}, {}, e.message()});
}

// An index beside a .log for --verify-index: its check, when it can run.
template <class Index, class Check>
struct sibling_index {
  std::optional<file_reader> file;
  std::optional<Index> index;
  std::optional<Check> check;
};

// Opens the sibling index at `path` and prepares its check; a missing file or
// one verified earlier is a note.
template <class Index, class Check, class Open>
void prepare_sibling(run_state& st, const std::string& log_path, const std::string& path,
                     int64_t base_offset, uint64_t log_size, Open open,
                     sibling_index<Index, Check>& out) {
  if (!st.verified.insert(path).second) {
    st.rep.note(log_path, std::nullopt, path + " was verified earlier in this run");
    return;
  }
  auto file = file_reader::open(path);
  if (!file) {
    if (file.error().sys_errno() == ENOENT) {
      st.rep.note(log_path, std::nullopt, "no " + path + " beside the log: not verified");
    } else {
      unreadable(st, path, file.error());
    }
    return;
  }
  out.file.emplace(std::move(*file));
  auto index = open(*out.file, base_offset, st.rep, false);
  if (!index) {
    unreadable(st, path, index.error());
    return;
  }
  if (!*index) return;  // its size problem was reported
  out.index.emplace(std::move(**index));
  out.check.emplace(*out.index, log_size, st.rep);
}

void dump_segment(run_state& st, const std::string& path, const file_identity& id) {
  auto file = file_reader::open(path);
  if (!file) {
    unreadable(st, path, file.error());
    return;
  }
  st.rep.file_start(path, file_kind::segment, id.base_offset, file->size());
  const uint64_t problems_before = st.rep.problems();
  file_summary summary;
  summary.file = path;
  summary.kind = file_kind::segment;
  summary.size = file->size();

  bool indexable = id.base_offset.has_value();
  if (id.base_offset && *id.base_offset > k_index_base_offset_max) {
    st.rep.report({problem_kind::bad_base_offset,
                   path,
                   {},
                   {},
                   {},
                   fmt::format("base offset {} from the file name is above {}, the largest an "
                               "index can hold with int32 relative offsets",
                               *id.base_offset, k_index_base_offset_max)});
    indexable = false;
  }
  sibling_index<storage::offset_index, offset_index_check> offsets;
  sibling_index<storage::time_index, time_index_check> times;
  std::vector<batch_observer*> observers;
  if (st.options.verify_index && indexable) {
    summary.verified = true;
    prepare_sibling(st, path, id.sibling(".index"), *id.base_offset, file->size(),
                    open_offset_index, offsets);
    prepare_sibling(st, path, id.sibling(".timeindex"), *id.base_offset, file->size(),
                    open_time_index, times);
    if (offsets.check) {
      observers.push_back(&*offsets.check);
      summary.offset_index_entries = offsets.index->entries();
    }
    if (times.check) {
      observers.push_back(&*times.check);
      summary.time_index_entries = times.index->entries();
    }
  }

  auto totals =
      walk_segment(*file, id.base_offset, st.options, st.rep, !st.options.verify_index, observers);
  if (!totals) {
    unreadable(st, path, totals.error());
    return;
  }
  if (offsets.check) offsets.check->finish(*totals);
  if (times.check) times.check->finish(*totals);
  summary.batches = totals->batches;
  summary.records = totals->records;
  summary.valid_bytes = totals->end;
  summary.problems = st.rep.problems() - problems_before;
  st.rep.file_end(summary);
}

// --verify-index for an index given directly: walks its .log.
template <class Check, class Index>
void verify_with_log(run_state& st, const file_identity& id, const Index& index,
                     file_summary& summary) {
  const std::string log_path = id.sibling(".log");
  auto log = file_reader::open(log_path);
  if (!log) {
    unreadable(st, log_path, log.error());
    return;
  }
  Check check(index, log->size(), st.rep);
  batch_observer* observers[] = {&check};
  auto totals = walk_segment(*log, id.base_offset, st.options, st.rep, false, observers);
  if (!totals) {
    unreadable(st, log_path, totals.error());
    return;
  }
  check.finish(*totals);
  summary.verified = true;
}

template <class Check, class Open>
void dump_index_of_kind(run_state& st, const std::string& path, const file_identity& id,
                        const file_reader& file, Open open, file_summary& summary) {
  auto index = open(file, *id.base_offset, st.rep, !st.options.verify_index);
  if (!index) {
    unreadable(st, path, index.error());
    return;
  }
  if (!*index) return;
  summary.entries = (*index)->entries();
  if (st.options.verify_index) verify_with_log<Check>(st, id, **index, summary);
}

void dump_index(run_state& st, const std::string& path, const file_identity& id) {
  auto file = file_reader::open(path);
  if (!file) {
    unreadable(st, path, file.error());
    return;
  }
  st.rep.file_start(path, id.kind, id.base_offset, file->size());
  const uint64_t problems_before = st.rep.problems();
  file_summary summary;
  summary.file = path;
  summary.kind = id.kind;
  summary.size = file->size();
  const int64_t base = *id.base_offset;  // identify() requires it for indexes
  if (base > k_index_base_offset_max) {
    st.rep.report({problem_kind::bad_base_offset,
                   path,
                   {},
                   {},
                   {},
                   fmt::format("base offset {} from the file name is above {}, the largest an "
                               "index can hold with int32 relative offsets",
                               base, k_index_base_offset_max)});
  } else if (st.options.verify_index && !st.verified.insert(path).second) {
    st.rep.note(path, std::nullopt, "verified earlier in this run, with its log");
  } else if (id.kind == file_kind::offset_index) {
    dump_index_of_kind<offset_index_check>(st, path, id, *file, open_offset_index, summary);
  } else {
    dump_index_of_kind<time_index_check>(st, path, id, *file, open_time_index, summary);
  }
  summary.problems = st.rep.problems() - problems_before;
  st.rep.file_end(summary);
}

// An engine error detail without the "<path>: " it starts with.
std::string without_path(const std::string& detail, const std::string& path) {
  const std::string prefix = path + ": ";
  if (detail.compare(0, prefix.size(), prefix) == 0) return detail.substr(prefix.size());
  return detail;
}

// A checkpoint parse error reads "<path>:<line>: <what>" (checkpoint.h); the
// line becomes a field of its own.
void report_checkpoint_error(run_state& st, const std::string& path, const error& e) {
  const std::string& detail = e.detail();
  problem p{problem_kind::checkpoint, path, {}, {}, {}, detail};
  const std::string prefix = path + ":";
  if (detail.compare(0, prefix.size(), prefix) == 0) {
    uint64_t line = 0;
    const char* begin = detail.data() + prefix.size();
    const char* end = detail.data() + detail.size();
    auto [rest, ec] = std::from_chars(begin, end, line);
    if (ec == std::errc{} && rest != begin && end - rest >= 2 && rest[0] == ':' && rest[1] == ' ') {
      p.line = line;
      p.message = std::string(rest + 2, end);
    }
  }
  st.rep.report(p);
}

void dump_checkpoint(run_state& st, const std::string& path, const file_identity& id) {
  auto file = file_reader::open(path);
  if (!file) {
    unreadable(st, path, file.error());
    return;
  }
  st.rep.file_start(path, id.kind, std::nullopt, file->size());
  const uint64_t problems_before = st.rep.problems();
  file_summary summary;
  summary.file = path;
  summary.kind = id.kind;
  summary.size = file->size();
  auto text = storage::read_small_file(path, storage::checkpoint_bytes_max);
  if (!text && text.error().is(storage::errc::file_too_large)) {
    st.rep.report({problem_kind::checkpoint,
                   path,
                   {},
                   {},
                   {},
                   without_path(text.error().detail(), path) +
                       ": larger than any checkpoint file can be; not read"});
  } else if (!text) {
    unreadable(st, path, text.error());
    return;
  } else if (id.kind == file_kind::offset_checkpoint) {
    auto entries = storage::parse_offset_checkpoint(*text, path);
    if (!entries) {
      report_checkpoint_error(st, path, entries.error());
    } else {
      for (const storage::checkpoint_entry& e : *entries) {
        st.rep.checkpoint_entry(path, e.topic, e.partition, e.offset);
      }
      summary.entries = entries->size();
    }
  } else {
    auto entries = storage::parse_leader_epoch_checkpoint(*text, path);
    if (!entries) {
      report_checkpoint_error(st, path, entries.error());
    } else {
      for (const storage::epoch_entry& e : *entries) {
        st.rep.epoch_entry(path, e.epoch, e.start_offset);
      }
      summary.entries = entries->size();
    }
  }
  summary.problems = st.rep.problems() - problems_before;
  st.rep.file_end(summary);
}

bool parse_size(std::string_view text, size_t& out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc{} && p == end;
}

}  // namespace

std::optional<file_identity> identify(std::string_view path, bool needs_base_offset,
                                      std::string& why) {
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::string_view dir = path.substr(0, path.size() - name.size());
  if (name.empty()) {
    why = "names a directory; give the files in it (e.g. DIR/*.log)";
    return std::nullopt;
  }
  for (const checkpoint_name& c : k_checkpoints) {
    if (name == c.name) return file_identity{c.kind, std::nullopt, std::string(path), ""};
  }
  std::string_view rest = name;
  std::string_view suffix;
  for (std::string_view s : k_temporary_suffixes) {
    if (rest.size() > s.size() && rest.ends_with(s)) {
      suffix = s;
      rest.remove_suffix(s.size());
      break;
    }
  }
  for (const segment_extension& e : k_segment_extensions) {
    if (!rest.ends_with(e.extension)) continue;
    const int64_t base = storage::parse_segment_file_name(rest, e.extension);
    if (base < 0 && (e.kind != file_kind::segment || needs_base_offset)) {
      why = fmt::format(
          "cannot take the base offset from the name \"{}\": segment files are named by it in "
          "20 digits, like 00000000000000001000{}{}",
          name, e.extension,
          e.kind == file_kind::segment ? " (--verify-index needs it to read the indexes)" : "");
      return std::nullopt;
    }
    file_identity id;
    id.kind = e.kind;
    if (base >= 0) id.base_offset = base;
    id.stem = std::string(dir) + std::string(rest.substr(0, rest.size() - e.extension.size()));
    id.suffix = std::string(suffix);
    return id;
  }
  if (rest.ends_with(".txnindex") || rest.ends_with(".snapshot")) {
    why = fmt::format(
        "\"{}\": transaction indexes and producer snapshots are not read by "
        "ringlog-dump (yet)",
        name);
  } else {
    why = fmt::format(
        "cannot tell what \"{}\" is from its name: ringlog-dump reads "
        "NNNNNNNNNNNNNNNNNNNN.log, .index and .timeindex files and the checkpoint "
        "files (see --help)",
        name);
  }
  return std::nullopt;
}

std::string_view usage() noexcept { return k_usage; }

int dump_files(std::span<const std::string> files, const dump_options& options, std::ostream& out,
               std::ostream& err) {
  // Every name first: a typo is a usage error before any output.
  std::vector<file_identity> ids;
  bool unknown = false;
  for (const std::string& f : files) {
    std::string why;
    auto id = identify(f, options.verify_index, why);
    if (!id) {
      err << "ringlog-dump: " << f << ": " << why << '\n';
      unknown = true;
    } else {
      ids.push_back(std::move(*id));
    }
  }
  if (unknown) return k_exit_usage;

  reporter rep(out, {.json = options.json,
                     .print_values = options.print_values,
                     .encoding = options.encoding,
                     .max_bytes = options.max_bytes});
  run_state st{options, rep, err, false, {}};
  for (size_t i = 0; i < files.size(); ++i) {
    switch (ids[i].kind) {
      case file_kind::segment:
        dump_segment(st, files[i], ids[i]);
        break;
      case file_kind::offset_index:
      case file_kind::time_index:
        dump_index(st, files[i], ids[i]);
        break;
      case file_kind::offset_checkpoint:
      case file_kind::leader_epoch_checkpoint:
        dump_checkpoint(st, files[i], ids[i]);
        break;
    }
  }
  out.flush();
  if (st.fatal) return k_exit_usage;
  return rep.problems() > 0 ? k_exit_problems : k_exit_clean;
}

int run(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  dump_options options;
  std::vector<std::string> files;
  const auto usage_error = [&err](const std::string& message) {
    err << "ringlog-dump: " << message << " (see --help)\n";
    return k_exit_usage;
  };
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      files.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const auto flag = [&](bool& field) {
      if (value) return false;
      field = true;
      return true;
    };
    const auto take_value = [&]() -> std::optional<std::string> {
      if (value) return value;
      if (i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (name == "--help" || name == "-h") {
      out << k_usage;
      return k_exit_clean;
    } else if (name == "--records" || name == "--print-data-log") {
      if (!flag(options.records)) return usage_error(name + " takes no value");
    } else if (name == "--print-values") {
      if (!flag(options.print_values)) return usage_error(name + " takes no value");
    } else if (name == "--deep") {
      if (!flag(options.deep)) return usage_error(name + " takes no value");
    } else if (name == "--verify-index") {
      if (!flag(options.verify_index)) return usage_error(name + " takes no value");
    } else if (name == "--json") {
      if (!flag(options.json)) return usage_error(name + " takes no value");
    } else if (name == "--encoding") {
      const auto v = take_value();
      if (v == "utf8") {
        options.encoding = value_encoding::utf8;
      } else if (v == "hex") {
        options.encoding = value_encoding::hex;
      } else {
        return usage_error(v ? "--encoding " + *v + ": expected utf8 or hex"
                             : std::string("--encoding needs utf8 or hex"));
      }
    } else if (name == "--max-bytes") {
      const auto v = take_value();
      if (!v || !parse_size(*v, options.max_bytes)) {
        return usage_error(v ? "--max-bytes " + *v + ": expected a number of bytes (0 = no cut)"
                             : std::string("--max-bytes needs a number of bytes"));
      }
    } else {
      return usage_error("unknown option " + arg);
    }
  }
  if (files.empty()) return usage_error("no FILE given");
  if (options.print_values) options.records = true;
  return dump_files(files, options, out, err);
}

}  // namespace ringlog::dump
