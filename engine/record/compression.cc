// Codec adapters: zlib (gzip), snappy (xerial framing or raw), liblz4 frame,
// libzstd. See compression.h for the framings and the output cap.
#include "engine/record/compression.h"

#include <fmt/core.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "base/assert.h"
#include "base/bytes.h"
#include "engine/record/errc.h"

namespace ringlog::record {
namespace {

constexpr std::string_view k_op_compress = "compress";
constexpr std::string_view k_op_decompress = "decompress";

// snappy-java's stream header: magic, then int32 version and int32 minimum
// compatible version, both 1 in every release Kafka has shipped with.
constexpr std::array<uint8_t, 8> k_xerial_magic{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00};
constexpr size_t k_xerial_header_bytes = 16;
// snappy-java's SnappyOutputStream default block size, so our blocks look like Kafka's.
constexpr size_t k_xerial_block_bytes = 32 * 1024;
// First output allocation for streams whose size is unknown: 4x the input
// (typical ratios for record data are 2-5x), at least one page-ish chunk.
constexpr size_t k_min_output_chunk_bytes = 4096;
constexpr int k_zstd_default_level = 3;  // Kafka's compression.zstd.level default
// Decompression windows above 2^26 (64 MiB) are refused: a frame header alone
// could otherwise make us allocate 128 MiB. Legit producers use 2^21..2^23.
constexpr int k_zstd_window_log_max = 26;

error corrupt(compression codec, std::string what) {
  return make_error(errc::corrupt_message, k_op_decompress,
                    fmt::format("{} stream: {}", to_string(codec), what));
}

// The output region of one decompression: bytes [start, start + produced) of
// `out` hold output so far; `out` is grown geometrically, and never beyond
// start + cap + 1 (one byte past the cap is how a codec tells us it has more).
class output_window {
 public:
  output_window(std::vector<std::byte>& out, size_t cap_bytes, size_t first_chunk_bytes)
      : _out(out),
        _start(out.size()),
        _cap(cap_bytes),
        _limit(cap_bytes == std::numeric_limits<size_t>::max() ? cap_bytes : cap_bytes + 1),
        _first_chunk(std::min(std::max(first_chunk_bytes, k_min_output_chunk_bytes), _limit)) {}

  size_t produced() const noexcept { return _produced; }
  bool over_cap() const noexcept { return _produced > _cap; }
  std::byte* cursor() noexcept { return _out.data() + _start + _produced; }
  size_t room() const noexcept { return _allocated - _produced; }
  void advance(size_t n) noexcept {
    RINGLOG_ASSERT(n <= room(), "codec wrote {} bytes into {} of room", n, room());
    _produced += n;
  }
  // Makes room() non-zero; false when the cap forbids more output.
  bool grow() {
    if (room() > 0) return true;
    if (_allocated >= _limit) return false;
    const size_t want = _allocated == 0 ? _first_chunk : _allocated * 2;
    _allocated = std::min(std::max(want, _allocated + 1), _limit);
    _out.resize(_start + _allocated);
    return true;
  }
  // Reserves exactly n more bytes (codecs that know the size up front).
  bool reserve_exact(size_t n) {
    if (n > _cap - _produced) return false;
    if (room() < n) {
      _allocated = _produced + n;
      _out.resize(_start + _allocated);
    }
    return true;
  }
  void finish() { _out.resize(_start + _produced); }
  error too_large(compression codec) const {
    return make_error(
        errc::message_too_large, k_op_decompress,
        fmt::format("{} stream decompresses to more than the {}-byte cap", to_string(codec), _cap));
  }

 private:
  std::vector<std::byte>& _out;
  size_t _start;
  size_t _cap;
  size_t _limit;
  size_t _first_chunk;
  size_t _produced = 0;
  size_t _allocated = 0;
};

size_t first_chunk_for(size_t input_bytes) noexcept {
  return input_bytes > std::numeric_limits<size_t>::max() / 4 ? input_bytes : input_bytes * 4;
}

unsigned clamp_uint(size_t n) noexcept {
  return static_cast<unsigned>(std::min<size_t>(n, std::numeric_limits<unsigned>::max()));
}

// ---------------------------------------------------------------- gzip

constexpr int k_gzip_window_bits = 15 + 16;  // 32 KiB window, gzip wrapper only

// One inflate state per thread, reset per stream: inflateInit allocates ~40 KiB.
struct inflater {
  z_stream stream{};
  bool ready = false;
  inflater() { ready = inflateInit2(&stream, k_gzip_window_bits) == Z_OK; }
  ~inflater() {
    if (ready) inflateEnd(&stream);
  }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
};

status gzip_decompress(std::span<const std::byte> input, output_window& w) {
  thread_local inflater state;
  if (!state.ready)
    return make_error(errc::compression_failed, k_op_decompress, "inflateInit2 failed");
  z_stream& z = state.stream;
  if (inflateReset(&z) != Z_OK) return corrupt(compression::gzip, "inflateReset failed");
  if (input.empty()) return corrupt(compression::gzip, "empty stream");
  // zlib's API takes non-const input but does not write it.
  z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(input.data()));
  z.avail_in = clamp_uint(input.size());
  RINGLOG_ASSERT(z.avail_in == input.size(), "gzip input of {} bytes exceeds uInt", input.size());
  for (;;) {
    if (!w.grow()) return w.too_large(compression::gzip);
    z.next_out = reinterpret_cast<Bytef*>(w.cursor());
    z.avail_out = clamp_uint(w.room());
    const unsigned room_before = z.avail_out;
    const int rc = inflate(&z, Z_NO_FLUSH);
    w.advance(room_before - z.avail_out);
    if (w.over_cap()) return w.too_large(compression::gzip);
    const size_t consumed = input.size() - z.avail_in;
    switch (rc) {
      case Z_STREAM_END:
        if (z.avail_in == 0) return ok();
        // GZIPInputStream reads concatenated members; anything else is garbage.
        if (z.avail_in < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b) {
          return corrupt(
              compression::gzip,
              fmt::format("{} trailing bytes after the stream at byte {}", z.avail_in, consumed));
        }
        if (inflateReset(&z) != Z_OK) return corrupt(compression::gzip, "inflateReset failed");
        break;
      case Z_OK:
        break;
      case Z_BUF_ERROR:
        // No progress possible: either out of output room (grow and retry) or
        // out of input before the stream ended.
        if (z.avail_in == 0) {
          return corrupt(compression::gzip,
                         fmt::format("stream ends early after {} bytes", input.size()));
        }
        break;
      default:
        return corrupt(compression::gzip, fmt::format("{} at input byte {}",
                                                      z.msg ? z.msg : "inflate failed", consumed));
    }
  }
}

status gzip_compress(std::span<const std::byte> input, std::vector<std::byte>& out) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, k_gzip_window_bits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return make_error(errc::compression_failed, k_op_compress, "deflateInit2 failed");
  }
  const size_t start = out.size();
  const size_t bound = deflateBound(&z, static_cast<uLong>(input.size()));
  out.resize(start + bound);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(input.data()));
  z.avail_in = static_cast<uInt>(input.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  z.avail_out = static_cast<uInt>(bound);
  const int rc = deflate(&z, Z_FINISH);
  const size_t written = bound - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    out.resize(start);
    return make_error(errc::compression_failed, k_op_compress,
                      fmt::format("deflate returned {} with a deflateBound-sized buffer", rc));
  }
  out.resize(start + written);
  return ok();
}

// ---------------------------------------------------------------- snappy

status snappy_block(std::span<const std::byte> block, output_window& w, size_t at) {
  const char* p = reinterpret_cast<const char*>(block.data());
  size_t length = 0;
  if (!snappy::GetUncompressedLength(p, block.size(), &length)) {
    return corrupt(compression::snappy, fmt::format("bad block length preamble at byte {}", at));
  }
  if (!w.reserve_exact(length)) return w.too_large(compression::snappy);
  if (!snappy::RawUncompress(p, block.size(), reinterpret_cast<char*>(w.cursor()))) {
    return corrupt(compression::snappy, fmt::format("corrupt block at byte {}", at));
  }
  w.advance(length);
  return ok();
}

status snappy_decompress(std::span<const std::byte> input, output_window& w) {
  const bool framed = input.size() >= k_xerial_magic.size() &&
                      std::memcmp(input.data(), k_xerial_magic.data(), k_xerial_magic.size()) == 0;
  if (!framed) {
    if (input.empty()) return corrupt(compression::snappy, "empty stream");
    return snappy_block(input, w, 0);
  }
  if (input.size() < k_xerial_header_bytes) {
    return corrupt(compression::snappy, fmt::format("xerial header needs {} bytes, stream has {}",
                                                    k_xerial_header_bytes, input.size()));
  }
  // Version fields are not checked: every snappy-java release writes 1/1 and
  // reads any block stream the same way.
  size_t pos = k_xerial_header_bytes;
  while (pos < input.size()) {
    if (input.size() - pos < 4) {
      return corrupt(compression::snappy, fmt::format("truncated block length at byte {}", pos));
    }
    const auto length = static_cast<int32_t>(load_be32(input.data() + pos));
    if (length <= 0 || static_cast<size_t>(length) > input.size() - pos - 4) {
      return corrupt(compression::snappy, fmt::format("block length {} at byte {}, {} bytes remain",
                                                      length, pos, input.size() - pos - 4));
    }
    pos += 4;
    if (auto s = snappy_block(input.subspan(pos, static_cast<size_t>(length)), w, pos); !s)
      return s;
    pos += static_cast<size_t>(length);
  }
  return ok();
}

status snappy_compress(std::span<const std::byte> input, std::vector<std::byte>& out) {
  byte_writer wr(out);
  for (uint8_t b : k_xerial_magic) wr.write_u8(b);
  wr.write_i32(1);  // version
  wr.write_i32(1);  // minimum compatible version
  for (size_t pos = 0; pos < input.size(); pos += k_xerial_block_bytes) {
    const size_t n = std::min(k_xerial_block_bytes, input.size() - pos);
    const size_t at = out.size();
    out.resize(at + 4 + snappy::MaxCompressedLength(n));
    size_t written = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(input.data() + pos), n,
                        reinterpret_cast<char*>(out.data() + at + 4), &written);
    store_be32(out.data() + at, static_cast<uint32_t>(written));
    out.resize(at + 4 + written);
  }
  return ok();
}

// ---------------------------------------------------------------- lz4

struct lz4_dctx {
  LZ4F_dctx* ctx = nullptr;
  lz4_dctx() {
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) ctx = nullptr;
  }
  ~lz4_dctx() {
    if (ctx) LZ4F_freeDecompressionContext(ctx);
  }
  lz4_dctx(const lz4_dctx&) = delete;
  lz4_dctx& operator=(const lz4_dctx&) = delete;
};

status lz4_decompress(std::span<const std::byte> input, output_window& w) {
  thread_local lz4_dctx state;
  if (state.ctx == nullptr) {
    return make_error(errc::compression_failed, k_op_decompress,
                      "LZ4F_createDecompressionContext failed");
  }
  // Every exit leaves the context clean for the next batch on this thread.
  struct reset_on_exit {
    LZ4F_dctx* ctx;
    ~reset_on_exit() { LZ4F_resetDecompressionContext(ctx); }
  } reset{state.ctx};
  if (input.empty()) return corrupt(compression::lz4, "empty stream");
  size_t pos = 0;
  size_t hint = 1;
  while (pos < input.size() || hint != 0) {
    if (!w.grow()) return w.too_large(compression::lz4);
    size_t dst_bytes = w.room();
    size_t src_bytes = input.size() - pos;
    hint =
        LZ4F_decompress(state.ctx, w.cursor(), &dst_bytes, input.data() + pos, &src_bytes, nullptr);
    if (LZ4F_isError(hint)) {
      return corrupt(compression::lz4,
                     fmt::format("{} near input byte {}", LZ4F_getErrorName(hint), pos));
    }
    const bool output_full = dst_bytes == w.room();
    w.advance(dst_bytes);
    pos += src_bytes;
    if (w.over_cap()) return w.too_large(compression::lz4);
    // Concatenated frames are legal in the frame format; the loop continues.
    if (hint != 0 && pos == input.size() && !output_full) {
      return corrupt(compression::lz4,
                     fmt::format("frame ends early after {} bytes", input.size()));
    }
    if (src_bytes == 0 && dst_bytes == 0 && !output_full) {
      return corrupt(compression::lz4, fmt::format("decoder stalled at input byte {}", pos));
    }
  }
  return ok();
}

status lz4_compress(std::span<const std::byte> input, std::vector<std::byte>& out) {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  // Kafka's KafkaLZ4BlockInputStream decodes each block on its own: linked
  // blocks would be unreadable to Java consumers of our re-compressed data.
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  const size_t start = out.size();
  const size_t bound = LZ4F_compressFrameBound(input.size(), &prefs);
  out.resize(start + bound);
  const size_t written =
      LZ4F_compressFrame(out.data() + start, bound, input.data(), input.size(), &prefs);
  if (LZ4F_isError(written)) {
    out.resize(start);
    return make_error(errc::compression_failed, k_op_compress,
                      fmt::format("LZ4F_compressFrame: {}", LZ4F_getErrorName(written)));
  }
  out.resize(start + written);
  return ok();
}

// ---------------------------------------------------------------- zstd

struct zstd_dctx {
  ZSTD_DCtx* ctx = nullptr;
  zstd_dctx() {
    ctx = ZSTD_createDCtx();
    if (ctx &&
        ZSTD_isError(ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, k_zstd_window_log_max))) {
      ZSTD_freeDCtx(ctx);
      ctx = nullptr;
    }
  }
  ~zstd_dctx() {
    if (ctx) ZSTD_freeDCtx(ctx);
  }
  zstd_dctx(const zstd_dctx&) = delete;
  zstd_dctx& operator=(const zstd_dctx&) = delete;
};

status zstd_decompress(std::span<const std::byte> input, output_window& w) {
  thread_local zstd_dctx state;
  if (state.ctx == nullptr) {
    return make_error(errc::compression_failed, k_op_decompress, "ZSTD_createDCtx failed");
  }
  ZSTD_DCtx_reset(state.ctx, ZSTD_reset_session_only);
  if (input.empty()) return corrupt(compression::zstd, "empty stream");
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  size_t hint = 1;
  while (in.pos < in.size || hint != 0) {
    if (!w.grow()) return w.too_large(compression::zstd);
    const size_t room = w.room();
    ZSTD_outBuffer o{w.cursor(), room, 0};
    const size_t in_before = in.pos;
    hint = ZSTD_decompressStream(state.ctx, &o, &in);
    if (ZSTD_isError(hint)) {
      const std::string what =
          fmt::format("{} near input byte {}", ZSTD_getErrorName(hint), in_before);
      ZSTD_DCtx_reset(state.ctx, ZSTD_reset_session_only);
      return corrupt(compression::zstd, what);
    }
    w.advance(o.pos);
    if (w.over_cap()) return w.too_large(compression::zstd);
    const bool output_full = o.pos == room;
    if (hint != 0 && in.pos == in.size && !output_full) {
      return corrupt(compression::zstd,
                     fmt::format("frame ends early after {} bytes", input.size()));
    }
    if (in.pos == in_before && o.pos == 0 && !output_full) {
      return corrupt(compression::zstd, fmt::format("decoder stalled at input byte {}", in.pos));
    }
  }
  return ok();
}

size_t zstd_first_chunk(std::span<const std::byte> input) noexcept {
  // A one-shot compressor records the content size; use it to allocate once.
  const unsigned long long size = ZSTD_getFrameContentSize(input.data(), input.size());
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR)
    return first_chunk_for(input.size());
  // One byte more so a second frame or a lying header is noticed without regrowing.
  return size >= std::numeric_limits<size_t>::max() ? std::numeric_limits<size_t>::max()
                                                    : static_cast<size_t>(size) + 1;
}

status zstd_compress(std::span<const std::byte> input, std::vector<std::byte>& out) {
  const size_t start = out.size();
  const size_t bound = ZSTD_compressBound(input.size());
  out.resize(start + bound);
  const size_t written =
      ZSTD_compress(out.data() + start, bound, input.data(), input.size(), k_zstd_default_level);
  if (ZSTD_isError(written)) {
    out.resize(start);
    return make_error(errc::compression_failed, k_op_compress,
                      fmt::format("ZSTD_compress: {}", ZSTD_getErrorName(written)));
  }
  out.resize(start + written);
  return ok();
}

}  // namespace

status compress(compression codec, std::span<const std::byte> input, std::vector<std::byte>& out) {
  RINGLOG_ASSERT(input.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                 "compress input of {} bytes exceeds a batch", input.size());
  switch (codec) {
    case compression::none:
      out.insert(out.end(), input.begin(), input.end());
      return ok();
    case compression::gzip:
      return gzip_compress(input, out);
    case compression::snappy:
      return snappy_compress(input, out);
    case compression::lz4:
      return lz4_compress(input, out);
    case compression::zstd:
      return zstd_compress(input, out);
  }
  return make_error(errc::unsupported_compression, k_op_compress,
                    fmt::format("codec {}", static_cast<int>(codec)));
}

status decompress(compression codec, std::span<const std::byte> input, std::vector<std::byte>& out,
                  size_t max_output_bytes) {
  const size_t start = out.size();
  status s = ok();
  switch (codec) {
    case compression::none: {
      if (input.size() > max_output_bytes) {
        return output_window(out, max_output_bytes, 0).too_large(codec);
      }
      out.insert(out.end(), input.begin(), input.end());
      return ok();
    }
    case compression::gzip: {
      output_window w(out, max_output_bytes, first_chunk_for(input.size()));
      s = gzip_decompress(input, w);
      if (s) w.finish();
      break;
    }
    case compression::snappy: {
      output_window w(out, max_output_bytes, 0);
      s = snappy_decompress(input, w);
      if (s) w.finish();
      break;
    }
    case compression::lz4: {
      output_window w(out, max_output_bytes, first_chunk_for(input.size()));
      s = lz4_decompress(input, w);
      if (s) w.finish();
      break;
    }
    case compression::zstd: {
      output_window w(out, max_output_bytes, zstd_first_chunk(input));
      s = zstd_decompress(input, w);
      if (s) w.finish();
      break;
    }
    default:
      return make_error(errc::unsupported_compression, k_op_decompress,
                        fmt::format("codec {}", static_cast<int>(codec)));
  }
  // A failed call leaves `out` as it found it.
  if (!s) out.resize(start);
  return s;
}

}  // namespace ringlog::record
