#include "engine/log/checkpoint.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <iterator>
#include <optional>

#include "engine/log/errc.h"
#include "engine/runtime/io.h"

namespace ringlog::storage {
namespace {

constexpr int k_checkpoint_version = 0;
// Shortest possible entry line ("a 0 0\n" / "0 0\n"): bounds the entries a
// text can hold, so a huge declared count reserves nothing unreasonable.
constexpr size_t k_min_offset_line_bytes = 6;
constexpr size_t k_min_epoch_line_bytes = 4;
// Offending text quoted in an error is cut to this length.
constexpr size_t k_quote_bytes_max = 64;

// The text of a field for an error message: cut short, non-printables escaped.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < k_quote_bytes_max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (s.size() > k_quote_bytes_max) out += "...";
  out.push_back('\'');
  return out;
}

// Splits text into '\n'-terminated lines, counting from 1. The last line may
// lack its '\n' (Kafka's reader accepts that too).
class line_reader {
 public:
  explicit line_reader(std::string_view text) noexcept : _text(text) {}

  bool next(std::string_view& line) noexcept {
    if (_pos >= _text.size()) return false;
    const size_t nl = _text.find('\n', _pos);
    const size_t end = nl == std::string_view::npos ? _text.size() : nl;
    line = _text.substr(_pos, end - _pos);
    _pos = nl == std::string_view::npos ? _text.size() : nl + 1;
    ++_line_no;
    return true;
  }
  size_t line_no() const noexcept { return _line_no; }

 private:
  std::string_view _text;
  size_t _pos = 0;
  size_t _line_no = 0;
};

class parser {
 public:
  parser(std::string_view text, std::string_view path) noexcept : _lines(text), _path(path) {}

  error fail(std::string what) const {
    return make_error(errc::corrupt_checkpoint, "parse_checkpoint",
                      fmt::format("{}:{}: {}", _path, _lines.line_no(), what));
  }

  // Integer field `name` of the current line, within [min, max].
  template <class T>
  std::optional<error> integer(std::string_view field, std::string_view name, T min, T max,
                               T& out) const {
    const char* end = field.data() + field.size();
    auto [p, ec] = std::from_chars(field.data(), end, out);
    if (field.empty() || (ec != std::errc{} && ec != std::errc::result_out_of_range) || p != end) {
      return fail(fmt::format("{} is not a number: {}", name, quote(field)));
    }
    if (ec == std::errc::result_out_of_range || out < min || out > max) {
      return fail(fmt::format("{} {} out of range [{}, {}]", name, field, min, max));
    }
    return std::nullopt;
  }

  // Splits the current line into exactly N single-space-separated fields.
  template <size_t N>
  std::optional<error> fields(std::string_view line, const char* shape,
                              std::array<std::string_view, N>& out) const {
    size_t start = 0;
    for (size_t i = 0; i < N; ++i) {
      const size_t sp = i + 1 < N ? line.find(' ', start) : std::string_view::npos;
      if (i + 1 < N && sp == std::string_view::npos) {
        return fail(fmt::format("expected \"{}\", found {}", shape, quote(line)));
      }
      out[i] = line.substr(start, (sp == std::string_view::npos ? line.size() : sp) - start);
      if (out[i].empty()) {
        return fail(fmt::format("empty field in {} (expected \"{}\", one space between fields)",
                                quote(line), shape));
      }
      start = sp + 1;
    }
    // The last field ran to the end of the line; a space in it is one field
    // too many (or a topic name with a space, which Kafka forbids).
    if (out[N - 1].find(' ') != std::string_view::npos) {
      return fail(
          fmt::format("more than {} fields in {} (expected \"{}\")", N, quote(line), shape));
    }
    return std::nullopt;
  }

  // Reads the version and count lines; `count` is the declared entry count.
  std::optional<error> header(int32_t& count) {
    std::string_view line;
    const bool has_line = _lines.next(line);
    RINGLOG_ASSERT(has_line, "header() of an empty text");
    int32_t version = 0;
    if (auto e = integer<int32_t>(line, "version", INT32_MIN, INT32_MAX, version)) return e;
    if (version != k_checkpoint_version) {
      return fail(
          fmt::format("unsupported version {} (expected {})", version, k_checkpoint_version));
    }
    if (!_lines.next(line)) return fail_next("missing the entry count line");
    return integer<int32_t>(line, "entry count", 0, INT32_MAX, count);
  }

  // An error about the line after the last one read (it is missing).
  error fail_next(std::string what) const {
    return make_error(errc::corrupt_checkpoint, "parse_checkpoint",
                      fmt::format("{}:{}: {}", _path, _lines.line_no() + 1, what));
  }

  line_reader& lines() noexcept { return _lines; }

 private:
  line_reader _lines;
  std::string_view _path;
};

// The shared frame of both checkpoint kinds: header, exactly `count` entry
// lines parsed by parse_line, nothing after them.
template <class Entry, class ParseLine>
result<std::vector<Entry>> parse_checkpoint(std::string_view text, std::string_view path,
                                            size_t min_line_bytes, ParseLine parse_line) {
  std::vector<Entry> entries;
  if (text.empty()) return entries;
  parser p(text, path);
  int32_t count = 0;
  if (auto e = p.header(count)) return std::move(*e);
  const size_t count_line = p.lines().line_no();
  entries.reserve(std::min(static_cast<size_t>(count), text.size() / min_line_bytes));
  std::string_view line;
  while (entries.size() < static_cast<size_t>(count)) {
    if (!p.lines().next(line)) {
      return p.fail_next(fmt::format("expected {} entries (line {}), found {}", count, count_line,
                                     entries.size()));
    }
    auto entry = parse_line(p, line);
    if (!entry) return std::move(entry).error();
    entries.push_back(std::move(*entry));
  }
  if (p.lines().next(line)) {
    return p.fail(fmt::format("trailing data after the {} entries declared on line {}: {}", count,
                              count_line, quote(line)));
  }
  return entries;
}

result<checkpoint_entry> parse_offset_line(const parser& p, std::string_view line) {
  std::array<std::string_view, 3> f;
  if (auto e = p.fields(line, "topic partition offset", f)) return std::move(*e);
  checkpoint_entry entry{std::string(f[0]), 0, 0};
  if (!is_legal_topic_name(f[0])) {
    return p.fail(fmt::format("invalid topic name {} (1 to 249 of [a-zA-Z0-9._-])", quote(f[0])));
  }
  if (auto e = p.integer<int32_t>(f[1], "partition", 0, INT32_MAX, entry.partition)) {
    return std::move(*e);
  }
  if (auto e = p.integer<int64_t>(f[2], "offset", 0, INT64_MAX, entry.offset)) {
    return std::move(*e);
  }
  return entry;
}

result<epoch_entry> parse_epoch_line(const parser& p, std::string_view line) {
  std::array<std::string_view, 2> f;
  if (auto e = p.fields(line, "epoch start_offset", f)) return std::move(*e);
  epoch_entry entry{0, 0};
  if (auto e = p.integer<int32_t>(f[0], "epoch", 0, INT32_MAX, entry.epoch)) return std::move(*e);
  if (auto e = p.integer<int64_t>(f[1], "start offset", 0, INT64_MAX, entry.start_offset)) {
    return std::move(*e);
  }
  return entry;
}

// An I/O error with the path it concerned as its detail.
error with_path(const error& e, const std::string& path) {
  std::string detail = e.detail().empty() ? path : fmt::format("{}: {}", path, e.detail());
  return error(e.domain(), e.code(), e.op(), std::move(detail), e.sys_errno());
}

task<status> write_all(int fd, std::string_view contents) {
  size_t done = 0;
  while (done < contents.size()) {
    const std::span<const std::byte> rest(
        reinterpret_cast<const std::byte*>(contents.data()) + done, contents.size() - done);
    auto n = co_await io::write(fd, rest, done);
    if (!n) co_return std::move(n).error();
    // A regular file that accepts nothing would loop forever.
    if (*n == 0) co_return error::from_errno(EIO, "write", "no progress");
    done += *n;
  }
  co_return ok();
}

// Opens `path` with `flags`, fsyncs it and closes it; for the directory.
task<status> fsync_path(std::string path, int flags) {
  auto fd = co_await io::openat(AT_FDCWD, path.c_str(), flags, 0);
  if (!fd) co_return with_path(fd.error(), path);
  status synced = co_await io::fsync(*fd);
  status closed = co_await io::close(*fd);
  if (!synced) co_return with_path(synced.error(), path);
  if (!closed) co_return with_path(closed.error(), path);
  co_return ok();
}

}  // namespace

bool is_legal_topic_name(std::string_view topic) noexcept {
  // Kafka's Topic.MAX_NAME_LENGTH and legal characters.
  constexpr size_t k_topic_bytes_max = 249;
  if (topic.empty() || topic.size() > k_topic_bytes_max) return false;
  return std::all_of(topic.begin(), topic.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string format_offset_checkpoint(std::span<const checkpoint_entry> entries) {
  std::string out;
  out.reserve(16 + entries.size() * 48);
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{}\n{}\n", k_checkpoint_version, entries.size());
  for (const checkpoint_entry& e : entries) {
    RINGLOG_ASSERT(is_legal_topic_name(e.topic) && e.partition >= 0 && e.offset >= 0,
                   "unwritable checkpoint entry {} {} {}", quote(e.topic), e.partition, e.offset);
    fmt::format_to(it, "{} {} {}\n", e.topic, e.partition, e.offset);
  }
  return out;
}

std::string format_leader_epoch_checkpoint(std::span<const epoch_entry> entries) {
  std::string out;
  out.reserve(16 + entries.size() * 24);
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{}\n{}\n", k_checkpoint_version, entries.size());
  for (const epoch_entry& e : entries) {
    RINGLOG_ASSERT(e.epoch >= 0 && e.start_offset >= 0, "unwritable epoch entry {} {}", e.epoch,
                   e.start_offset);
    fmt::format_to(it, "{} {}\n", e.epoch, e.start_offset);
  }
  return out;
}

result<std::vector<checkpoint_entry>> parse_offset_checkpoint(std::string_view text,
                                                              std::string_view path_for_errors) {
  return parse_checkpoint<checkpoint_entry>(text, path_for_errors, k_min_offset_line_bytes,
                                            parse_offset_line);
}

result<std::vector<epoch_entry>> parse_leader_epoch_checkpoint(std::string_view text,
                                                               std::string_view path_for_errors) {
  return parse_checkpoint<epoch_entry>(text, path_for_errors, k_min_epoch_line_bytes,
                                       parse_epoch_line);
}

task<status> write_file_atomically(std::string dir, std::string name, std::string contents) {
  const std::string path = dir + "/" + name;
  const std::string tmp_path = path + ".tmp";
  auto fd = co_await io::openat(AT_FDCWD, tmp_path.c_str(),
                                O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (!fd) co_return with_path(fd.error(), tmp_path);

  status written = co_await write_all(*fd, contents);
  // fsync before the rename: otherwise the rename can reach the disk before
  // the data, and a crash leaves an empty or partial file under the real name.
  if (written) written = co_await io::fsync(*fd);
  status closed = co_await io::close(*fd);
  if (written && !closed) written = std::move(closed);
  if (written) written = co_await io::renameat(AT_FDCWD, tmp_path.c_str(), AT_FDCWD, path.c_str());
  if (!written) {
    // Best effort: the error that matters is the one already in hand.
    (void)co_await io::unlinkat(AT_FDCWD, tmp_path.c_str());
    co_return with_path(written.error(), tmp_path);
  }
  // The rename is an update of the directory; only an fsync of the directory
  // makes it durable.
  co_return co_await fsync_path(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error::from_errno(errno, "open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return error::from_errno(err, "fstat", path);
  }
  auto too_large = [&](size_t size) {
    return make_error(errc::file_too_large, "read_small_file",
                      fmt::format("{}: {} bytes, at most {} allowed", path, size, max_bytes));
  };
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return too_large(static_cast<size_t>(st.st_size));
  }
  // Read to EOF rather than trusting st_size (the file may grow), one byte
  // past the cap at most so growth beyond it is detected.
  std::string out(std::min(static_cast<size_t>(st.st_size), max_bytes) + 1, '\0');
  size_t done = 0;
  for (;;) {
    if (done == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return error::from_errno(err, "read", path);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (done > max_bytes) return too_large(done);
  out.resize(done);
  return out;
}

}  // namespace ringlog::storage
