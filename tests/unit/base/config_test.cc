// Tests of base/config.h (properties syntax, typed keys, errors) and
// base/broker_config.h (the broker schema, aliases, cross-key rules, rendering,
// and docs/config.md staying in step with the schema).
#include "base/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "base/broker_config.h"

#ifndef RINGLOG_SOURCE_DIR
#error "RINGLOG_SOURCE_DIR (the repository root, a string literal) must be defined"
#endif

namespace ringlog {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

config::properties parse_ok(std::string_view text) {
  auto p = config::parse_properties(text, "test.properties");
  EXPECT_TRUE(p.has_value()) << "parse failed: " << p.error().message();
  return p.has_value() ? std::move(p).value() : config::properties{};
}

std::string value_of(const config::properties& props, std::string_view key) {
  const config::property* p = props.find(key);
  EXPECT_NE(p, nullptr) << "key " << key << " missing";
  return p ? p->value : std::string("<missing>");
}

int line_of(const config::properties& props, std::string_view key) {
  const config::property* p = props.find(key);
  EXPECT_NE(p, nullptr) << "key " << key << " missing";
  return p ? p->line : -1;
}

// Builds a broker config from file text (source "server.properties") and overrides.
result<broker_config> broker_from(std::string_view text, std::vector<std::string> overrides = {}) {
  auto props = config::parse_properties(text, "server.properties");
  if (!props) return std::move(props).error();
  if (auto st = config::apply_overrides(*props, overrides); !st) return std::move(st).error();
  return make_broker_config(*props);
}

// The detail of a failed result; a test failure when it succeeded.
template <class T>
std::string error_detail(const result<T>& r) {
  EXPECT_FALSE(r.has_value()) << "expected an error, got success";
  return r.has_value() ? std::string() : r.error().detail();
}

// ---------------------------------------------------------------------------
// Properties syntax
// ---------------------------------------------------------------------------

TEST(ConfigProperties, AcceptsEachSeparatorForm) {
  auto p = parse_ok("a=1\nb: 2\nc 3\nd = 4\ne\t:\t5\nf\ng==6\nh :=7\n");
  EXPECT_EQ(value_of(p, "a"), "1");
  EXPECT_EQ(value_of(p, "b"), "2");
  EXPECT_EQ(value_of(p, "c"), "3");
  EXPECT_EQ(value_of(p, "d"), "4");
  EXPECT_EQ(value_of(p, "e"), "5");
  EXPECT_EQ(value_of(p, "f"), "");
  // Only one separator is eaten; a second '=' belongs to the value (as in Java).
  EXPECT_EQ(value_of(p, "g"), "=6");
  EXPECT_EQ(value_of(p, "h"), "=7");
  EXPECT_EQ(p.size(), 8u);
}

TEST(ConfigProperties, KeepsTrailingWhitespaceOfValue) {
  auto p = parse_ok("a=1  \n");
  EXPECT_EQ(value_of(p, "a"), "1  ");
}

TEST(ConfigProperties, IgnoresCommentsBlankLinesAndLeadingWhitespace) {
  auto p = parse_ok("# x=1\n! y=2\n   # z=3\n\n \t \n   k=v\n");
  EXPECT_EQ(p.size(), 1u);
  EXPECT_EQ(value_of(p, "k"), "v");
  EXPECT_EQ(line_of(p, "k"), 6);
  EXPECT_EQ(p.find("x"), nullptr);
  EXPECT_EQ(p.find("#"), nullptr);
}

TEST(ConfigProperties, JoinsContinuationLinesDroppingLeadingWhitespace) {
  auto p = parse_ok("a=one, \\\n      two,\\\n\tthree\nb=x\n");
  EXPECT_EQ(value_of(p, "a"), "one, two,three");
  EXPECT_EQ(line_of(p, "a"), 1);
  EXPECT_EQ(line_of(p, "b"), 4);
}

TEST(ConfigProperties, EvenTrailingBackslashesDoNotContinue) {
  auto p = parse_ok("a=x\\\\\nb=y\n");
  EXPECT_EQ(value_of(p, "a"), "x\\");
  EXPECT_EQ(value_of(p, "b"), "y");
}

TEST(ConfigProperties, ContinuedLineStartingWithHashIsPartOfTheValue) {
  auto p = parse_ok("a=1\\\n  #2\n");
  EXPECT_EQ(value_of(p, "a"), "1#2");
  EXPECT_EQ(p.size(), 1u);
}

TEST(ConfigProperties, CommentLineEndingInBackslashDoesNotContinue) {
  auto p = parse_ok("# comment \\\nk=v\n");
  EXPECT_EQ(p.size(), 1u);
  EXPECT_EQ(value_of(p, "k"), "v");
}

TEST(ConfigProperties, BackslashOnLastLineEndsTheEntry) {
  auto p = parse_ok("a=1\\");
  EXPECT_EQ(value_of(p, "a"), "1");
}

TEST(ConfigProperties, AcceptsCrLfAndCrLineEndings) {
  auto p = parse_ok("a=1\r\nb=2\rc=3");
  EXPECT_EQ(value_of(p, "a"), "1");
  EXPECT_EQ(value_of(p, "b"), "2");
  EXPECT_EQ(value_of(p, "c"), "3");
  EXPECT_EQ(line_of(p, "c"), 3);
}

TEST(ConfigProperties, DecodesEscapes) {
  auto p = parse_ok(
      "a=tab\\there\\nnl\\rcr\\\\bs\\=eq\\:colon\\fff\\q\n"
      "key\\ with\\=sep\\:s = v\n"
      "u=\\u0041\\u00e9\\u20AC\n"
      "pair=\\uD83D\\uDE00\n"
      "\\#hash=1\n");
  EXPECT_EQ(value_of(p, "a"),
            "tab\there\nnl\rcr\\bs=eq:colon\f"
            "ffq");
  EXPECT_EQ(value_of(p, "key with=sep:s"), "v");
  EXPECT_EQ(value_of(p, "u"), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(value_of(p, "pair"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(value_of(p, "#hash"), "1");
}

TEST(ConfigProperties, PassesUtf8BytesThrough) {
  auto p = parse_ok("name=caf\xC3\xA9\n");
  EXPECT_EQ(value_of(p, "name"), "caf\xC3\xA9");
}

TEST(ConfigProperties, LaterDuplicateWins) {
  auto p = parse_ok("a=1\nb=2\na=3\n");
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(value_of(p, "a"), "3");
  EXPECT_EQ(line_of(p, "a"), 3);
  // The winning entry sits where it appeared: after b.
  EXPECT_EQ(p.entries()[0].key, "b");
  EXPECT_EQ(p.entries()[1].key, "a");
}

TEST(ConfigProperties, ReportsEveryMalformedUnicodeEscapeWithItsLine) {
  auto p = config::parse_properties("a=\\u12g4\nok=1\nb=\\u12\n", "x.properties");
  ASSERT_FALSE(p.has_value());
  EXPECT_TRUE(p.error().is(config::errc::bad_value));
  EXPECT_EQ(p.error().detail(),
            "x.properties:1: malformed \\uXXXX escape (needs exactly 4 hex digits)\n"
            "x.properties:3: malformed \\uXXXX escape (needs exactly 4 hex digits)");
}

TEST(ConfigProperties, RejectsLoneSurrogates) {
  auto high = config::parse_properties("a=\\uD83Dx\n", "x.properties");
  EXPECT_THAT(error_detail(high), HasSubstr("x.properties:1: \\u escape is a high surrogate"));
  auto low = config::parse_properties("a=\\uDE00\n", "x.properties");
  EXPECT_THAT(error_detail(low), HasSubstr("x.properties:1: \\u escape is a low surrogate"));
}

TEST(ConfigProperties, PropertiesLineRoundTripsTrickyText) {
  std::string key = "#a b=c:d!";
  std::string value = "  lead\ttab\\back\nnl=#! \xC3\xA9 trail ";
  auto p = parse_ok(config::to_properties_line(key, value));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p.entries()[0].key, key);
  EXPECT_EQ(p.entries()[0].value, value);
}

TEST(ConfigProperties, LoadsFileAndReportsMissingFileAsIo) {
  auto path = std::filesystem::temp_directory_path() /
              ("ringlog_config_test_" + std::to_string(::getpid()) + ".properties");
  {
    std::ofstream out(path);
    out << "# test\nlog.segment.bytes=12x\n";
  }
  auto p = config::load_properties_file(path.string());
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(p->find("log.segment.bytes")->origin(), path.string() + ":2");

  auto c = load_broker_config(path.string(), {});
  EXPECT_EQ(error_detail(c), "log.segment.bytes: \"12x\" is not an integer (from " + path.string() +
                                 ":2); expected an integer in [14, 2147483647]");
  std::filesystem::remove(path);

  auto missing = config::load_properties_file(path.string());
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(missing.error().is(config::errc::io));
  EXPECT_EQ(missing.error().sys_errno(), ENOENT);
  EXPECT_THAT(missing.error().detail(), HasSubstr(path.string()));

  auto dir = config::load_properties_file(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(dir.has_value());
  EXPECT_TRUE(dir.error().is(config::errc::io));
  EXPECT_EQ(dir.error().sys_errno(), EISDIR);
}

// ---------------------------------------------------------------------------
// Typed values and their errors
// ---------------------------------------------------------------------------

TEST(ConfigTypes, BadIntegerNamesKeyValueSourceAndExpectedForm) {
  auto c = broker_from("\n\n\n\n\n\nlog.segment.bytes=12x\n");
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(c.error().is(config::errc::bad_value));
  EXPECT_EQ(c.error().detail(),
            "log.segment.bytes: \"12x\" is not an integer (from server.properties:7); "
            "expected an integer in [14, 2147483647]");
}

TEST(ConfigTypes, IntegerOutOfRangeIsAnError) {
  EXPECT_EQ(error_detail(broker_from("log.segment.bytes=13\n")),
            "log.segment.bytes: \"13\" is out of range (from server.properties:1); "
            "expected an integer in [14, 2147483647]");
  // Above int32 for an int32 key.
  EXPECT_THAT(error_detail(broker_from("log.segment.bytes=2147483648\n")),
              HasSubstr("\"2147483648\" is out of range"));
  // Above int64 for an int64 key.
  EXPECT_EQ(error_detail(broker_from("log.retention.bytes=99999999999999999999\n")),
            "log.retention.bytes: \"99999999999999999999\" is out of range (from "
            "server.properties:1); expected an integer in [-1, 9223372036854775807]");
  EXPECT_THAT(error_detail(broker_from("default.replication.factor=32768\n")),
              HasSubstr("expected an integer in [1, 32767]"));
}

TEST(ConfigTypes, IntegerAcceptsSignAndSurroundingWhitespace) {
  auto c = broker_from("log.segment.bytes=  +4096  \nlog.retention.bytes=-1\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_segment_bytes, 4096);
  EXPECT_EQ(c->log_retention_bytes, -1);
}

TEST(ConfigTypes, RejectsMalformedIntegers) {
  for (std::string bad : {"", "0x10", "1e3", "1 2", "--1", "+-1", "+", "12.0"}) {
    auto c = broker_from("num.partitions=" + bad + "\n");
    EXPECT_THAT(error_detail(c), HasSubstr("is not an integer")) << "value: " << bad;
  }
}

TEST(ConfigTypes, BoolIsCaseInsensitiveTrueOrFalse) {
  auto t = broker_from("auto.create.topics.enable=TRUE\n");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_TRUE(t->auto_create_topics_enable);
  auto f = broker_from("auto.create.topics.enable=False\n");
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_FALSE(f->auto_create_topics_enable);
  EXPECT_EQ(error_detail(broker_from("", {"auto.create.topics.enable=yes"})),
            "auto.create.topics.enable: \"yes\" is not a boolean (from --override); "
            "expected true or false");
}

TEST(ConfigTypes, ListTrimsItemsAndRejectsEmptyOnes) {
  auto c = broker_from("log.dirs= /a , /b/c ,/d \n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_dirs, (std::vector<std::string>{"/a", "/b/c", "/d"}));
  EXPECT_EQ(error_detail(broker_from("log.dirs=/a,,/b\n")),
            "log.dirs: \"/a,,/b\" has an empty item (from server.properties:1); expected a "
            "comma-separated list of non-empty items");
  EXPECT_THAT(error_detail(broker_from("log.dirs=/a, \n")), HasSubstr("has an empty item"));
}

TEST(ConfigTypes, ListItemsMustBeAllowed) {
  EXPECT_EQ(error_detail(broker_from("process.roles=broker,zookeeper\n")),
            "process.roles: \"broker,zookeeper\" has an item that is not allowed: \"zookeeper\" "
            "(from server.properties:1); expected a comma-separated list of: broker, controller");
  auto c = broker_from("log.cleanup.policy=compact,delete\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_cleanup_policy, (std::vector<std::string>{"compact", "delete"}));
}

TEST(ConfigTypes, StringMustBeAnAllowedValue) {
  EXPECT_EQ(error_detail(broker_from("ringlog.log.level=verbose\n")),
            "ringlog.log.level: \"verbose\" is not an allowed value (from "
            "server.properties:1); expected one of trace, debug, info, warn, error");
  auto c = broker_from("ringlog.log.level= debug\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->ringlog_log_level, log_level::debug);
}

TEST(ConfigTypes, ExtraRuleIsChecked) {
  EXPECT_EQ(error_detail(broker_from("ringlog.io_uring.entries=100\n")),
            "ringlog.io_uring.entries: \"100\" is not a power of two (from "
            "server.properties:1); expected an integer in [64, 32768], a power of two");
  EXPECT_THAT(error_detail(broker_from("ringlog.io_uring.entries=32\n")),
              HasSubstr("is out of range"));
  auto c = broker_from("ringlog.io_uring.entries=128\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->ringlog_io_uring_entries, 128);
}

// A small schema for what the broker schema lacks: doubles and required keys.
const config::schema& test_schema() {
  static const config::schema keys({
      {.name = "ratio",
       .type = config::key_type::float64,
       .default_text = "0.5",
       .min_double = 0.0,
       .max_double = 1.0,
       .doc = "a ratio"},
      {.name = "cluster.name", .type = config::key_type::string, .required = true, .doc = "name"},
      {.name = "seeds", .type = config::key_type::list, .required = true, .doc = "seeds"},
      {.name = "optional.count", .type = config::key_type::int64, .doc = "no default"},
      {.name = "abcdefghijkl", .type = config::key_type::int32, .default_text = "1", .doc = "x"},
  });
  return keys;
}

result<config::config_values> resolve_text(std::string_view text) {
  auto props = config::parse_properties(text, "t.properties");
  if (!props) return std::move(props).error();
  return config::resolve(test_schema(), *props);
}

TEST(ConfigTypes, DoubleParsesAndChecksRange) {
  auto v = resolve_text("cluster.name=c\nseeds=a\nratio=0.25\n");
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_DOUBLE_EQ(v->get_double("ratio"), 0.25);
  EXPECT_EQ(error_detail(resolve_text("cluster.name=c\nseeds=a\nratio=abc\n")),
            "ratio: \"abc\" is not a number (from t.properties:3); expected a number in [0, 1]");
  EXPECT_THAT(error_detail(resolve_text("cluster.name=c\nseeds=a\nratio=1.5\n")),
              HasSubstr("\"1.5\" is out of range"));
  EXPECT_THAT(error_detail(resolve_text("cluster.name=c\nseeds=a\nratio=nan\n")),
              HasSubstr("is not a number"));
}

TEST(ConfigTypes, RequiredKeysMustBeSetAndNonEmpty) {
  auto missing = resolve_text("");
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(missing.error().is(config::errc::missing_value));
  EXPECT_EQ(missing.error().detail(),
            "cluster.name: required key is not set; expected a string\n"
            "seeds: required key is not set; expected a comma-separated list of non-empty items");
  // An escaped space survives the separator's whitespace skipping; trimming
  // then leaves nothing.
  auto empty = resolve_text("cluster.name=\\  \nseeds=\n");
  ASSERT_FALSE(empty.has_value());
  EXPECT_TRUE(empty.error().is(config::errc::missing_value));
  EXPECT_EQ(empty.error().detail(),
            "cluster.name: \"  \" is empty (from t.properties:1); expected a string\n"
            "seeds: \"\" is empty (from t.properties:2); expected a comma-separated list of "
            "non-empty items");
}

TEST(ConfigTypes, OptionalKeyWithoutDefaultIsUnsetUntilGiven) {
  auto v = resolve_text("cluster.name=c\nseeds=a\n");
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_FALSE(v->is_set("optional.count"));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(v->get("optional.count")));
  EXPECT_EQ(v->origin("ratio"), "default");
  auto w = resolve_text("cluster.name=c\nseeds=a\noptional.count=7\n");
  ASSERT_TRUE(w.has_value()) << w.error().message();
  EXPECT_TRUE(w->is_set("optional.count"));
  EXPECT_EQ(w->get_int("optional.count"), 7);
  EXPECT_EQ(w->origin("optional.count"), "t.properties:3");
}

TEST(ConfigTypes, ReportsAllProblemsOfAFileInLineOrder) {
  auto c = broker_from(
      "log.segment.bytes=12x\n"
      "num.partitions=0\n"
      "log.segmnt.bytes=1\n"
      "auto.create.topics.enable=maybe\n");
  ASSERT_FALSE(c.has_value());
  // The code is the first problem's.
  EXPECT_TRUE(c.error().is(config::errc::bad_value));
  EXPECT_EQ(c.error().detail(),
            "log.segment.bytes: \"12x\" is not an integer (from server.properties:1); expected "
            "an integer in [14, 2147483647]\n"
            "num.partitions: \"0\" is out of range (from server.properties:2); expected an "
            "integer in [1, 2147483647]\n"
            "unknown config key \"log.segmnt.bytes\" (from server.properties:3); did you mean "
            "\"log.segment.bytes\"?\n"
            "auto.create.topics.enable: \"maybe\" is not a boolean (from server.properties:4); "
            "expected true or false");
}

TEST(ConfigTypes, CapsTheNumberOfReportedProblems) {
  std::string text;
  for (int i = 0; i < 150; ++i) text += "zz.unknown." + std::to_string(i) + "=1\n";
  std::string detail = error_detail(broker_from(text));
  EXPECT_EQ(std::count(detail.begin(), detail.end(), '\n'), 100);
  EXPECT_THAT(detail, HasSubstr("\n... and 50 more problems"));
}

TEST(ConfigTypes, QuotesControlCharactersAndCutsLongValues) {
  EXPECT_EQ(config::quote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\x01\"");
  std::string long_value(1000, 'x');
  EXPECT_EQ(config::quote(long_value), "\"" + std::string(200, 'x') + "...\" (1000 bytes)");
}

TEST(ConfigTypes, ErrorMessageCarriesDomainAndCode) {
  auto c = broker_from("log.segment.bytes=1\n");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().domain().name, "config");
  EXPECT_EQ(c.error().op(), "config");
  EXPECT_FALSE(c.error().is(config::errc::unknown_key));
  EXPECT_THAT(c.error().message(), HasSubstr("config: bad config value: log.segment.bytes"));
}

TEST(ConfigSchemaDeathTest, RejectsDuplicateKeysAndInvalidDefaults) {
  EXPECT_DEATH(config::schema({{.name = "a", .doc = "x"}, {.name = "a", .doc = "y"}}),
               "declared twice");
  EXPECT_DEATH(config::schema({{.name = "n",
                                .type = config::key_type::int32,
                                .default_text = "5",
                                .min = 10,
                                .doc = "x"}}),
               "default of n is invalid");
}

// ---------------------------------------------------------------------------
// Unknown keys
// ---------------------------------------------------------------------------

TEST(ConfigUnknownKey, SuggestsTheNearestKey) {
  auto c = broker_from("", {"log.segment.byte=1"});
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(c.error().is(config::errc::unknown_key));
  EXPECT_EQ(c.error().detail(),
            "unknown config key \"log.segment.byte\" (from --override); did you mean "
            "\"log.segment.bytes\"?");
  // Kafka's singular log.dir is not a Ringlog key; the plural is suggested.
  EXPECT_THAT(error_detail(broker_from("log.dir=/x\n")), HasSubstr("did you mean \"log.dirs\"?"));
}

TEST(ConfigUnknownKey, SuggestsNothingWhenNoKeyIsNear) {
  EXPECT_EQ(error_detail(broker_from("zookeeper.connect=localhost:2181\n")),
            "unknown config key \"zookeeper.connect\" (from server.properties:1)");
}

TEST(ConfigUnknownKey, SuggestionThresholdIsMaxOfTwoAndAThirdOfTheLength) {
  // 12 chars: the limit is 4 edits.
  EXPECT_EQ(test_schema().suggest("abcdefghWXYZ"), std::optional<std::string_view>("abcdefghijkl"));
  EXPECT_EQ(test_schema().suggest("abcdefgVWXYZ"), std::nullopt);
  // Short names still get up to 2 edits.
  EXPECT_EQ(test_schema().suggest("rat"), std::optional<std::string_view>("ratio"));
  EXPECT_EQ(test_schema().suggest("r"), std::nullopt);
}

TEST(ConfigUnknownKey, LevenshteinDistance) {
  EXPECT_EQ(config::levenshtein("kitten", "sitting"), 3u);
  EXPECT_EQ(config::levenshtein("", "abc"), 3u);
  EXPECT_EQ(config::levenshtein("abc", ""), 3u);
  EXPECT_EQ(config::levenshtein("same", "same"), 0u);
  EXPECT_EQ(config::levenshtein("log.dir", "log.dirs"), 1u);
}

// ---------------------------------------------------------------------------
// Overrides
// ---------------------------------------------------------------------------

TEST(ConfigOverride, OverrideBeatsFileAndLaterOverrideBeatsEarlier) {
  auto c = broker_from("log.segment.bytes=1000\nnum.partitions=3\n",
                       {"log.segment.bytes=2000", "num.partitions=4", "num.partitions=5"});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_segment_bytes, 2000);
  EXPECT_EQ(c->num_partitions, 5);
}

TEST(ConfigOverride, OverrideFixesABadFileValue) {
  // The file's bad value is replaced before it is checked.
  auto c = broker_from("log.segment.bytes=12x\n", {"log.segment.bytes=4096"});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_segment_bytes, 4096);
}

TEST(ConfigOverride, SplitsAtTheFirstEquals) {
  auto p = config::parse_override("log.dirs=/a=b");
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(p->key, "log.dirs");
  EXPECT_EQ(p->value, "/a=b");
  EXPECT_EQ(p->origin(), "--override");
}

TEST(ConfigOverride, RejectsOverridesWithoutKeyEqualsValue) {
  config::properties props;
  std::vector<std::string> overrides = {"log.segment.bytes", "=5", "num.partitions=2"};
  auto st = config::apply_overrides(props, overrides);
  ASSERT_FALSE(st.has_value());
  EXPECT_TRUE(st.error().is(config::errc::bad_value));
  EXPECT_EQ(st.error().detail(),
            "--override \"log.segment.bytes\": no '='; expected KEY=VALUE\n"
            "--override \"=5\": empty key; expected KEY=VALUE");
}

TEST(ConfigOverride, OverrideErrorsNameTheOverrideAsSource) {
  EXPECT_EQ(error_detail(broker_from("", {"num.partitions=abc"})),
            "num.partitions: \"abc\" is not an integer (from --override); expected an integer "
            "in [1, 2147483647]");
}

TEST(ConfigOverride, LoadWithoutFileUsesDefaultsAndOverrides) {
  std::vector<std::string> overrides = {"node.id=7"};
  auto c = load_broker_config(std::nullopt, overrides);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->node_id, 7);
  EXPECT_EQ(c->listeners, (std::vector<std::string>{"PLAINTEXT://127.0.0.1:9092"}));
  EXPECT_EQ(c->log_dirs, (std::vector<std::string>{"./ringlog-data"}));
  EXPECT_EQ(c->log_segment_bytes, 1073741824);
  EXPECT_EQ(c->log_flush_interval_ms, -1);
  EXPECT_EQ(c->log_flush_interval_messages, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(c->ringlog_log_level, log_level::info);
  EXPECT_EQ(c->ringlog_io_uring_entries, 4096);
}

// ---------------------------------------------------------------------------
// Time aliases (Kafka's precedence: ms > minutes > hours)
// ---------------------------------------------------------------------------

TEST(ConfigAliases, DefaultsAre168Hours) {
  auto c = broker_from("");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_retention_ms, 168LL * 3600 * 1000);
  EXPECT_EQ(c->log_roll_ms, 168LL * 3600 * 1000);
}

TEST(ConfigAliases, HoursAloneSetRetentionAndRoll) {
  auto c = broker_from("log.retention.hours=24\nlog.roll.hours=2\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_retention_ms, 24LL * 3600 * 1000);
  EXPECT_EQ(c->log_roll_ms, 2LL * 3600 * 1000);
}

TEST(ConfigAliases, MinutesBeatHours) {
  auto c = broker_from("log.retention.hours=24\nlog.retention.minutes=30\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_retention_ms, 30LL * 60 * 1000);
}

TEST(ConfigAliases, MsBeatsMinutesAndHoursWhateverTheSource) {
  // The ms key is in the file, the coarser ones in later overrides: ms still wins.
  auto c = broker_from("log.retention.ms=1000\nlog.roll.ms=5000\n",
                       {"log.retention.minutes=30", "log.retention.hours=24", "log.roll.hours=1"});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_retention_ms, 1000);
  EXPECT_EQ(c->log_roll_ms, 5000);
}

TEST(ConfigAliases, NegativeRetentionMeansUnlimited) {
  auto c = broker_from("log.retention.hours=-1\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->log_retention_ms, -1);
  EXPECT_THAT(error_detail(broker_from("log.roll.hours=0\n")), HasSubstr("is out of range"));
}

// ---------------------------------------------------------------------------
// Listeners and other cross-key rules
// ---------------------------------------------------------------------------

TEST(ConfigListeners, ParsesValidForms) {
  struct expected_case {
    std::string text;
    listener want;
  };
  std::vector<expected_case> cases = {
      {"PLAINTEXT://127.0.0.1:9092", {"PLAINTEXT", "127.0.0.1", 9092}},
      {"PLAINTEXT://:9092", {"PLAINTEXT", "", 9092}},
      {"EXTERNAL_2://broker-1.example.com:0", {"EXTERNAL_2", "broker-1.example.com", 0}},
      {"IPV6://[::1]:65535", {"IPV6", "::1", 65535}},
      {"LINK://[fe80::1%eth0]:9093", {"LINK", "fe80::1%eth0", 9093}},
  };
  for (const auto& c : cases) {
    auto l = parse_listener(c.text);
    ASSERT_TRUE(l.has_value()) << c.text << ": " << l.error().message();
    EXPECT_EQ(*l, c.want) << c.text;
  }
}

TEST(ConfigListeners, RejectsMalformedListeners) {
  struct bad_case {
    std::string text;
    std::string problem;
  };
  std::vector<bad_case> cases = {
      {"127.0.0.1:9092", "has no \"://\""},
      {"://127.0.0.1:9092", "has no listener name"},
      {"PLAIN TEXT://h:1", "has a listener name with a character"},
      {"PLAINTEXT://host", "has no ':port'"},
      {"PLAINTEXT://host:", "has a port that is not a number"},
      {"PLAINTEXT://host:9x", "has a port that is not a number"},
      {"PLAINTEXT://host:65536", "has port 65536, outside [0, 65535]"},
      {"PLAINTEXT://host:99999999999999999999", "outside [0, 65535]"},
      {"PLAINTEXT://::1:9092", "has an IPv6 host without brackets"},
      {"PLAINTEXT://[::1:9092", "has a '[' without a ']'"},
      {"PLAINTEXT://[]:9092", "has a bracketed host that is not an IPv6 address"},
      {"PLAINTEXT://[host]:9092", "has a bracketed host that is not an IPv6 address"},
      {"PLAINTEXT://[::1]9092", "has no ':port' after the ']'"},
      {"PLAINTEXT://ho/st:9092", "has a host with a character"},
  };
  for (const auto& c : cases) {
    auto l = parse_listener(c.text);
    ASSERT_FALSE(l.has_value()) << c.text << " parsed";
    EXPECT_TRUE(l.error().is(config::errc::bad_value));
    EXPECT_THAT(l.error().detail(), HasSubstr(c.problem)) << c.text;
    EXPECT_THAT(l.error().detail(), HasSubstr(config::quote(c.text))) << c.text;
  }
}

TEST(ConfigListeners, BadListenerInConfigNamesKeyValueAndSource) {
  EXPECT_EQ(error_detail(broker_from("listeners=PLAINTEXT://:9092,SSL://:70000\n")),
            "listeners: \"SSL://:70000\" has port 70000, outside [0, 65535] (from "
            "server.properties:1); expected NAME://host:port with NAME of letters, digits and "
            "'_', host empty, a name, an IPv4 address or a bracketed IPv6 address, and port in "
            "[0, 65535]");
}

TEST(ConfigListeners, NamesAndPortsMustBeUnique) {
  EXPECT_THAT(error_detail(broker_from("listeners=A://:9092,A://:9093\n")),
              HasSubstr("repeats the listener name A"));
  EXPECT_THAT(error_detail(broker_from("listeners=A://:9092,B://h:9092\n")),
              HasSubstr("repeats port 9092"));
  // Port 0 asks for any free port, so it may repeat; IPv4 and IPv6 may share a port.
  auto c = broker_from("listeners=A://:0,B://:0,C://127.0.0.1:9092,D://[::1]:9092\n");
  EXPECT_TRUE(c.has_value()) << c.error().message();
}

TEST(ConfigListeners, ListenersMustNotBeEmpty) {
  auto c = broker_from("listeners=\n");
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(c.error().is(config::errc::missing_value));
  EXPECT_THAT(c.error().detail(), HasSubstr("listeners: \"\" is empty (from server.properties:1)"));
}

TEST(ConfigListeners, AdvertisedListenersDefaultToListeners) {
  auto c = broker_from("listeners=PLAINTEXT://:9092\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->advertised_listeners, (std::vector<std::string>{"PLAINTEXT://:9092"}));
}

TEST(ConfigListeners, AdvertisedListenersMustNameKnownListenersWithRealPorts) {
  EXPECT_EQ(error_detail(broker_from("listeners=PLAINTEXT://:9092\n"
                                     "advertised.listeners=EXTERNAL://example.com:9092\n")),
            "advertised.listeners: \"EXTERNAL://example.com:9092\" names listener EXTERNAL, "
            "which is not in listeners (from server.properties:2); expected a name from "
            "listeners");
  EXPECT_THAT(error_detail(broker_from("listeners=PLAINTEXT://:9092\n"
                                       "advertised.listeners=PLAINTEXT://example.com:0\n")),
              HasSubstr("has port 0, which clients cannot connect to"));
  auto c = broker_from(
      "listeners=PLAINTEXT://:9092\n"
      "advertised.listeners=PLAINTEXT://example.com:9092\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->advertised_listeners, (std::vector<std::string>{"PLAINTEXT://example.com:9092"}));
}

TEST(ConfigListeners, LogDirsAndRolesMustBeNonEmptyWithoutRepeats) {
  auto empty = broker_from("log.dirs=\n");
  ASSERT_FALSE(empty.has_value());
  EXPECT_TRUE(empty.error().is(config::errc::missing_value));
  EXPECT_EQ(empty.error().detail(),
            "log.dirs: \"\" is empty (from server.properties:1); expected at least one item");
  EXPECT_EQ(error_detail(broker_from("", {"log.dirs=/a,/b,/a"})),
            "log.dirs: \"/a\" appears twice (from --override); expected distinct items");
  EXPECT_THAT(error_detail(broker_from("process.roles=\n")),
              HasSubstr("process.roles: \"\" is empty"));
  EXPECT_THAT(error_detail(broker_from("process.roles=broker,broker\n")),
              HasSubstr("\"broker\" appears twice"));
}

// ---------------------------------------------------------------------------
// Rendering and the reference doc
// ---------------------------------------------------------------------------

TEST(ConfigRender, RendersSortedPrimaryKeysAndRoundTrips) {
  auto c = broker_from(
      "node.id=3\n"
      "listeners=PLAINTEXT://:9092,IPV6://[::1]:9093\n"
      "log.dirs=/data/my dir,/data/b\n"
      "log.retention.hours=2\n"
      "ringlog.log.level=warn\n"
      "auto.create.topics.enable=false\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  std::string text = render_broker_config(*c);
  EXPECT_THAT(text, HasSubstr("node.id=3\n"));
  EXPECT_THAT(text, HasSubstr("log.retention.ms=7200000\n"));
  EXPECT_THAT(text, HasSubstr("ringlog.log.level=warn\n"));
  EXPECT_THAT(text, HasSubstr("auto.create.topics.enable=false\n"));
  EXPECT_THAT(text, HasSubstr("advertised.listeners=PLAINTEXT://:9092,IPV6://[::1]:9093\n"));
  EXPECT_THAT(text, Not(HasSubstr("log.retention.hours")));
  EXPECT_THAT(text, Not(HasSubstr("log.roll.hours")));

  std::vector<std::string> keys;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) keys.push_back(line.substr(0, line.find('=')));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  // Every primary key once: all schema keys but the three aliases.
  EXPECT_EQ(keys.size(), broker_schema().keys().size() - 3);

  auto again = broker_from(text);
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(*again, *c);
}

std::string read_docs() {
  std::ifstream in(RINGLOG_SOURCE_DIR "/docs/config.md");
  EXPECT_TRUE(in.good()) << "cannot open " RINGLOG_SOURCE_DIR "/docs/config.md";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConfigDocs, EveryKeyIsDocumented) {
  std::string docs = read_docs();
  for (const config::key_spec& spec : broker_schema().keys()) {
    EXPECT_THAT(docs, HasSubstr("`" + std::string(spec.name) + "`"))
        << "docs/config.md does not mention key " << spec.name;
  }
}

TEST(ConfigDocs, TableRowsMatchTypeDefaultAndRange) {
  std::string docs = read_docs();
  for (const config::key_spec& spec : broker_schema().keys()) {
    std::string start = "| `" + std::string(spec.name) + "` |";
    std::size_t at = docs.find("\n" + start);
    ASSERT_NE(at, std::string::npos) << "docs/config.md has no table row for " << spec.name;
    std::string row = docs.substr(at + 1, docs.find('\n', at + 1) - at - 1);
    // Cells: key, type, default, valid values, description.
    std::vector<std::string> cells;
    std::size_t pos = 1;
    while (pos < row.size()) {
      std::size_t bar = row.find('|', pos);
      if (bar == std::string::npos) break;
      std::string cell = row.substr(pos, bar - pos);
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      cells.push_back(cell);
      pos = bar + 1;
    }
    ASSERT_EQ(cells.size(), 5u) << "row for " << spec.name << ": " << row;
    EXPECT_EQ(cells[1], config::type_name(spec.type)) << "type of " << spec.name;
    std::string want_default = !spec.default_text           ? std::string("(unset)")
                               : spec.default_text->empty() ? std::string("(empty)")
                                                            : std::string(*spec.default_text);
    EXPECT_EQ(cells[2], want_default) << "default of " << spec.name;
    EXPECT_EQ(cells[3], config::expected_form(spec)) << "valid values of " << spec.name;
    EXPECT_FALSE(cells[4].empty()) << "description of " << spec.name;
    // Ringlog-only keys carry the prefix; Kafka keys do not.
    EXPECT_EQ(spec.kafka_name, !std::string_view(spec.name).starts_with("ringlog.")) << spec.name;
  }
}

// config/server.properties is the commented reference users copy: it names
// every primary key with its default, and as shipped (all commented) it
// loads to exactly the built-in defaults.
TEST(ConfigDocs, ServerPropertiesListsEveryKeyWithItsDefault) {
  std::ifstream in(RINGLOG_SOURCE_DIR "/config/server.properties");
  ASSERT_TRUE(in.good()) << "cannot open config/server.properties";
  std::stringstream text;
  text << in.rdbuf();
  const std::string file = text.str();
  auto defaults = load_broker_config(std::nullopt, {});
  ASSERT_TRUE(defaults.has_value());
  std::istringstream effective(render_broker_config(*defaults));
  for (std::string line; std::getline(effective, line);) {
    const std::string key = line.substr(0, line.find('='));
    EXPECT_THAT(file, HasSubstr("\n#" + key + "="))
        << "config/server.properties does not list " << key;
    if (key != "advertised.listeners") {  // rendered as a copy of listeners
      EXPECT_THAT(file, HasSubstr("\n#" + line + "\n")) << "default of " << key << " differs";
    }
  }
  auto loaded = load_broker_config(std::string(RINGLOG_SOURCE_DIR "/config/server.properties"), {});
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  EXPECT_EQ(*loaded, *defaults);
}

}  // namespace
}  // namespace ringlog
