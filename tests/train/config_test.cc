// Training config: defaults, files, --set overrides of every key, unknown keys with suggestions,
// wrong types, ranges and choices, malformed TOML, to_toml round trips, the rules across keys,
// docs/config.md kept equal to the key table, and every file in configs/ loading and validating.
#include "courier/train/config.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/train/config_keys.h"
#include "testutil/read_text.h"

#ifndef COURIER_SOURCE_DIR
#error "tests/CMakeLists.txt defines COURIER_SOURCE_DIR for train_test"
#endif

namespace courier {

// gtest shows a Config as its TOML instead of its bytes.
void PrintTo(const Config& config, std::ostream* out) { *out << "\n" << to_toml(config); }

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;
using courier::testing::read_text;

const std::filesystem::path kSourceDir = COURIER_SOURCE_DIR;

// The message of a parse that must fail with INVALID_ARGUMENT.
std::string parse_error(std::string_view toml) {
  const Result<Config> result = parse_config(toml, "cfg.toml");
  EXPECT_FALSE(result.is_ok()) << toml;
  if (result.is_ok()) return "";
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().to_string();
  return result.status().message();
}

std::string override_error(std::string_view assignment) {
  Config config;
  const Status status = apply_override(config, assignment);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << assignment << " -> " << status.to_string();
  EXPECT_EQ(config, Config{}) << "a failed override must leave the config unchanged: " << assignment;
  return status.message();
}

Config parse_ok(std::string_view toml) {
  Result<Config> result = parse_config(toml, "cfg.toml");
  EXPECT_TRUE(result.is_ok()) << result.status().to_string() << "\n" << toml;
  return result.is_ok() ? std::move(result).value() : Config{};
}

TEST(ConfigTest, DefaultsAreTheDocumentedOnes) {
  const Config c;
  EXPECT_EQ(c.model.kind, "mlp");
  EXPECT_EQ(c.model.hidden, (std::vector<std::int64_t>{256, 128}));
  EXPECT_EQ(c.model.layers, 4);
  EXPECT_EQ(c.model.heads, 4);
  EXPECT_EQ(c.model.embedding, 128);
  EXPECT_EQ(c.model.context, 64);
  EXPECT_EQ(c.model.vocabulary, "bytes");
  EXPECT_EQ(c.data.kind, "fashion-mnist");
  EXPECT_EQ(c.data.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_DOUBLE_EQ(c.data.validation_fraction, 0.1);
  EXPECT_EQ(c.train.workers, 1);
  EXPECT_EQ(c.train.epochs, 1);
  EXPECT_EQ(c.train.iters, 0);
  EXPECT_EQ(c.train.batch, 128);
  EXPECT_EQ(c.train.optimizer, "adam");
  EXPECT_DOUBLE_EQ(c.train.lr, 1e-3);
  EXPECT_DOUBLE_EQ(c.train.beta2, 0.999);
  EXPECT_DOUBLE_EQ(c.train.eps, 1e-8);
  EXPECT_EQ(c.train.schedule, "constant");
  EXPECT_EQ(c.train.out, "runs/run");
  EXPECT_EQ(c.train.log_every, 50);
  EXPECT_EQ(c.dist.transport, "inproc");
  EXPECT_EQ(c.dist.strategy, "allreduce");
  EXPECT_EQ(c.dist.sync, "bsp");
  EXPECT_EQ(c.dist.staleness, 3);
  EXPECT_EQ(c.dist.algo, "auto");
  EXPECT_EQ(c.dist.codec, "identity");
  EXPECT_EQ(c.dist.codec_warmup, 0);
  EXPECT_EQ(c.dist.exchange, "gradients");
  EXPECT_DOUBLE_EQ(c.dist.bucket_mb, 25.0);
  EXPECT_EQ(c.dist.local_steps, 8);
  EXPECT_EQ(c.dist.graph, "ring");
  EXPECT_EQ(c.dist.schedule, "1f1b");
  EXPECT_EQ(c.dist.sim_link, "25Gbps,5us");
  EXPECT_EQ(c.dist.sim_cluster, "switch");
  EXPECT_DOUBLE_EQ(c.dist.sim_compute_scale, 1.0);
  EXPECT_EQ(c.dist.sim_faults, "");
  EXPECT_EQ(c.dist.faults, "");
  EXPECT_EQ(c.dist.delivery, "checked");
  EXPECT_EQ(c.dist.recovery, "stop");
  EXPECT_EQ(c.dist.commit_every, 10);
  EXPECT_EQ(c.dist.timeout_s, 60.0);
  EXPECT_EQ(c.dist.heartbeat_ms, 1000);
  EXPECT_EQ(c.dist.heartbeat_timeout_ms, 10000);
  EXPECT_EQ(c.dist.stragglers, "wait");
  EXPECT_EQ(c.checkpoint.every, 0);
  EXPECT_EQ(c.checkpoint.keep, 3);

  // An empty file, or empty tables, are the defaults; and the defaults are valid.
  EXPECT_EQ(parse_ok(""), c);
  EXPECT_EQ(parse_ok("# nothing\n[model]\n[data]\n[train]\n[dist]\n[checkpoint]\n"), c);
  EXPECT_TRUE(validate(c).is_ok()) << validate(c).to_string();
}

TEST(ConfigTest, EveryKeyIsInTheTableOnce) {
  const std::vector<std::string> names = config_key_names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  EXPECT_EQ(names.size(), 71u) << "a key was added or removed: update the tests below and configs/";
  for (const config_keys::KeySpec& spec : config_keys::table()) {
    EXPECT_FALSE(spec.doc.empty()) << config_keys::full_name(spec);
    EXPECT_TRUE(config_keys::is_section(spec.section)) << config_keys::full_name(spec);
    // Every default passes its own key's check.
    EXPECT_TRUE(config_keys::check_key(spec, Config{}).is_ok()) << config_keys::full_name(spec);
  }
}

TEST(ConfigParseTest, AFullFile) {
  const Config c = parse_ok(R"(# every table, most keys
[model]
kind = "gpt"
hidden = []
layers = 6
heads = 8
embedding = 256
context = 128
dropout = 0.1
vocabulary = "bytes"

[data]
kind = "text"
path = "data/kjv.txt"
validation_fraction = 0.05

[train]
workers = 4
epochs = 0
iters = 5000
batch = 64
optimizer = "adamw"
lr = 6e-4
weight_decay = 0.1
beta2 = 0.95
clip = 1.0
schedule = "cosine"
warmup = 100
min_lr = 6e-5
seed = 1337
out = "runs/gpt"
eval_every = 250
threads = 1

[dist]
strategy = "ps"
sync = "ssp"
staleness = 2
servers = 1
codec = "fp16"

[checkpoint]
every = 1000
keep = 2
)");
  Config expected;
  expected.model = {.kind = "gpt", .hidden = {}, .layers = 6, .heads = 8, .embedding = 256, .context = 128,
                    .dropout = 0.1, .vocabulary = "bytes"};
  expected.data = {.kind = "text", .path = "data/kjv.txt", .validation_fraction = 0.05};
  expected.train.workers = 4;
  expected.train.epochs = 0;
  expected.train.iters = 5000;
  expected.train.batch = 64;
  expected.train.optimizer = "adamw";
  expected.train.lr = 6e-4;
  expected.train.weight_decay = 0.1;
  expected.train.beta2 = 0.95;
  expected.train.clip = 1.0;
  expected.train.schedule = "cosine";
  expected.train.warmup = 100;
  expected.train.min_lr = 6e-5;
  expected.train.seed = 1337;
  expected.train.out = "runs/gpt";
  expected.train.eval_every = 250;
  expected.train.threads = 1;
  expected.dist.strategy = "ps";
  expected.dist.sync = "ssp";
  expected.dist.staleness = 2;
  expected.dist.codec = "fp16";
  expected.checkpoint = {.every = 1000, .keep = 2};
  EXPECT_EQ(c, expected);
  EXPECT_TRUE(validate(c).is_ok()) << validate(c).to_string();
}

TEST(ConfigParseTest, DottedKeysAndIntegersForFloats) {
  const Config c = parse_ok("train.lr = 1\ndist.bucket_mb = 4\nmodel.hidden = [ 32 ]\n");
  EXPECT_DOUBLE_EQ(c.train.lr, 1.0);
  EXPECT_DOUBLE_EQ(c.dist.bucket_mb, 4.0);
  EXPECT_EQ(c.model.hidden, std::vector<std::int64_t>{32});
}

// One override of every key to a value other than its default, with the config it must give.
struct OverrideCase {
  std::string key;
  std::string assignment;
  void (*expect)(Config&);
  void (*start)(Config&) = nullptr;  // for a key whose only choice is its default: start elsewhere
};

std::vector<OverrideCase> every_key_override() {
  return {
      {"model.kind", "model.kind=cnn", [](Config& c) { c.model.kind = "cnn"; }},
      {"model.hidden", "model.hidden=[512, 64, 32]", [](Config& c) { c.model.hidden = {512, 64, 32}; }},
      {"model.layers", "model.layers=12", [](Config& c) { c.model.layers = 12; }},
      {"model.heads", "model.heads=6", [](Config& c) { c.model.heads = 6; }},
      {"model.embedding", "model.embedding=384", [](Config& c) { c.model.embedding = 384; }},
      {"model.context", "model.context=256", [](Config& c) { c.model.context = 256; }},
      {"model.dropout", "model.dropout=0.2", [](Config& c) { c.model.dropout = 0.2; }},
      {"model.vocabulary", "model.vocabulary=\"chars\"", [](Config& c) { c.model.vocabulary = "chars"; },
       [](Config& c) { c.model.vocabulary = "unset"; }},
      {"data.kind", "data.kind=toy", [](Config& c) { c.data.kind = "toy"; }},
      {"data.path", "data.path=/tmp/some dir/x", [](Config& c) { c.data.path = "/tmp/some dir/x"; }},
      {"data.validation_fraction", "data.validation_fraction=0", [](Config& c) { c.data.validation_fraction = 0; }},
      {"train.workers", "train.workers=8", [](Config& c) { c.train.workers = 8; }},
      {"train.epochs", "train.epochs=3", [](Config& c) { c.train.epochs = 3; }},
      {"train.iters", "train.iters=100", [](Config& c) { c.train.iters = 100; }},
      {"train.batch", "train.batch=256", [](Config& c) { c.train.batch = 256; }},
      {"train.optimizer", "train.optimizer=sgd", [](Config& c) { c.train.optimizer = "sgd"; }},
      {"train.lr", "train.lr=3e-4", [](Config& c) { c.train.lr = 3e-4; }},
      {"train.momentum", "train.momentum=0.9", [](Config& c) { c.train.momentum = 0.9; }},
      {"train.weight_decay", "train.weight_decay=0.01", [](Config& c) { c.train.weight_decay = 0.01; }},
      {"train.beta1", "train.beta1=0.8", [](Config& c) { c.train.beta1 = 0.8; }},
      {"train.beta2", "train.beta2=0.95", [](Config& c) { c.train.beta2 = 0.95; }},
      {"train.eps", "train.eps=1e-6", [](Config& c) { c.train.eps = 1e-6; }},
      {"train.clip", "train.clip=1", [](Config& c) { c.train.clip = 1.0; }},
      {"train.max_bad_steps", "train.max_bad_steps=1", [](Config& c) { c.train.max_bad_steps = 1; }},
      {"train.freeze_variance_at", "train.freeze_variance_at=100", [](Config& c) { c.train.freeze_variance_at = 100; }},
      {"train.schedule", "train.schedule=\"cosine\"", [](Config& c) { c.train.schedule = "cosine"; }},
      {"train.warmup", "train.warmup=200", [](Config& c) { c.train.warmup = 200; }},
      {"train.min_lr", "train.min_lr=1e-5", [](Config& c) { c.train.min_lr = 1e-5; }},
      {"train.decay_every", "train.decay_every=30", [](Config& c) { c.train.decay_every = 30; }},
      {"train.decay_factor", "train.decay_factor=0.5", [](Config& c) { c.train.decay_factor = 0.5; }},
      {"train.seed", "train.seed=9223372036854775807",
       [](Config& c) { c.train.seed = std::numeric_limits<std::int64_t>::max(); }},
      {"train.out", "train.out=runs/exp 1", [](Config& c) { c.train.out = "runs/exp 1"; }},
      {"train.log_every", "train.log_every=10", [](Config& c) { c.train.log_every = 10; }},
      {"train.eval_every", "train.eval_every=500", [](Config& c) { c.train.eval_every = 500; }},
      {"train.eval_examples", "train.eval_examples=240", [](Config& c) { c.train.eval_examples = 240; }},
      {"train.final_eval_examples", "train.final_eval_examples=2400",
       [](Config& c) { c.train.final_eval_examples = 2400; }},
      {"train.threads", "train.threads=2", [](Config& c) { c.train.threads = 2; }},
      {"dist.transport", "dist.transport=mpi", [](Config& c) { c.dist.transport = "mpi"; }},
      {"dist.strategy", "dist.strategy=local-sgd", [](Config& c) { c.dist.strategy = "local-sgd"; }},
      {"dist.sync", "dist.sync=asp", [](Config& c) { c.dist.sync = "asp"; }},
      {"dist.staleness", "dist.staleness=0", [](Config& c) { c.dist.staleness = 0; }},
      {"dist.servers", "dist.servers=3", [](Config& c) { c.dist.servers = 3; }},
      {"dist.algo", "dist.algo=halving-doubling", [](Config& c) { c.dist.algo = "halving-doubling"; }},
      {"dist.codec", "dist.codec=powersgd:4", [](Config& c) { c.dist.codec = "powersgd:4"; }},
      {"dist.codec_warmup", "dist.codec_warmup=100", [](Config& c) { c.dist.codec_warmup = 100; }},
      {"dist.powersgd_min_elements", "dist.powersgd_min_elements=9000",
       [](Config& c) { c.dist.powersgd_min_elements = 9000; }},
      {"dist.exchange", "dist.exchange=updates", [](Config& c) { c.dist.exchange = "updates"; }},
      {"dist.bucket_mb", "dist.bucket_mb=0.5", [](Config& c) { c.dist.bucket_mb = 0.5; }},
      {"dist.local_steps", "dist.local_steps=500", [](Config& c) { c.dist.local_steps = 500; }},
      {"dist.outer_lr", "dist.outer_lr=0.7", [](Config& c) { c.dist.outer_lr = 0.7; }},
      {"dist.outer_momentum", "dist.outer_momentum=0.9", [](Config& c) { c.dist.outer_momentum = 0.9; }},
      {"dist.graph", "dist.graph=exponential", [](Config& c) { c.dist.graph = "exponential"; }},
      {"dist.degree", "dist.degree=2", [](Config& c) { c.dist.degree = 2; }},
      {"dist.consensus_step", "dist.consensus_step=0.25", [](Config& c) { c.dist.consensus_step = 0.25; }},
      {"dist.stages", "dist.stages=4", [](Config& c) { c.dist.stages = 4; }},
      {"dist.microbatches", "dist.microbatches=8", [](Config& c) { c.dist.microbatches = 8; }},
      {"dist.schedule", "dist.schedule=gpipe", [](Config& c) { c.dist.schedule = "gpipe"; }},
      {"dist.sim_link", "dist.sim_link=100Gbps,2us", [](Config& c) { c.dist.sim_link = "100Gbps,2us"; }},
      {"dist.sim_cluster", "dist.sim_cluster=fattree:4", [](Config& c) { c.dist.sim_cluster = "fattree:4"; }},
      {"dist.sim_compute_scale", "dist.sim_compute_scale=0", [](Config& c) { c.dist.sim_compute_scale = 0; }},
      {"dist.sim_faults", "dist.sim_faults=crash:1@10ms", [](Config& c) { c.dist.sim_faults = "crash:1@10ms"; }},
      {"dist.faults", "dist.faults=kill:1@5", [](Config& c) { c.dist.faults = "kill:1@5"; }},
      {"dist.delivery", "dist.delivery=reliable", [](Config& c) { c.dist.delivery = "reliable"; }},
      {"dist.recovery", "dist.recovery=elastic", [](Config& c) { c.dist.recovery = "elastic"; }},
      {"dist.commit_every", "dist.commit_every=25", [](Config& c) { c.dist.commit_every = 25; }},
      {"dist.timeout_s", "dist.timeout_s=5.5", [](Config& c) { c.dist.timeout_s = 5.5; }},
      {"dist.heartbeat_ms", "dist.heartbeat_ms=0", [](Config& c) { c.dist.heartbeat_ms = 0; }},
      {"dist.stragglers", "dist.stragglers=skip", [](Config& c) { c.dist.stragglers = "skip"; }},
      {"dist.heartbeat_timeout_ms", "dist.heartbeat_timeout_ms=3000",
       [](Config& c) { c.dist.heartbeat_timeout_ms = 3000; }},
      {"checkpoint.every", "checkpoint.every=100", [](Config& c) { c.checkpoint.every = 100; }},
      {"checkpoint.keep", "checkpoint.keep=0", [](Config& c) { c.checkpoint.keep = 0; }},
  };
}

TEST(ConfigOverrideTest, EveryKey) {
  std::set<std::string> covered;
  for (const OverrideCase& test : every_key_override()) {
    Config start;
    if (test.start != nullptr) test.start(start);
    Config config = start;
    const Status status = apply_override(config, test.assignment);
    ASSERT_TRUE(status.is_ok()) << test.assignment << ": " << status.to_string();
    Config expected = start;
    test.expect(expected);
    EXPECT_NE(expected, start) << test.key << ": the case must change something";
    EXPECT_EQ(config, expected) << test.assignment;
    covered.insert(test.key);
    EXPECT_THAT(test.assignment, StartsWith(test.key + "="));
  }
  const std::vector<std::string> names = config_key_names();
  EXPECT_EQ(covered, std::set<std::string>(names.begin(), names.end()));
}

TEST(ConfigOverrideTest, BareAndQuotedStringsAgreeAndSpacesAreTrimmed) {
  Config bare;
  Config quoted;
  ASSERT_TRUE(apply_override(bare, "dist.strategy=ps").is_ok());
  ASSERT_TRUE(apply_override(quoted, "dist.strategy=\"ps\"").is_ok());
  EXPECT_EQ(bare.dist.strategy, "ps");
  EXPECT_EQ(bare, quoted);

  Config spaced;
  ASSERT_TRUE(apply_override(spaced, "  train.lr = 0.5 ").is_ok());
  EXPECT_DOUBLE_EQ(spaced.train.lr, 0.5);

  // A string key keeps text that would read as another TOML type, and text with '=' or quotes.
  Config text;
  ASSERT_TRUE(apply_override(text, "train.out=2024").is_ok());
  EXPECT_EQ(text.train.out, "2024");
  ASSERT_TRUE(apply_override(text, "train.out=runs/a=b \"c\"").is_ok());
  EXPECT_EQ(text.train.out, "runs/a=b \"c\"");
  ASSERT_TRUE(apply_override(text, "train.out='literal \\ string'").is_ok());
  EXPECT_EQ(text.train.out, "literal \\ string");
}

TEST(ConfigOverrideTest, LaterOverridesWin) {
  Config config;
  ASSERT_TRUE(apply_override(config, "train.workers=2").is_ok());
  ASSERT_TRUE(apply_override(config, "train.workers=4").is_ok());
  EXPECT_EQ(config.train.workers, 4);
}

TEST(ConfigOverrideTest, MalformedAssignments) {
  EXPECT_THAT(override_error("train.lr"), AllOf(HasSubstr("--set train.lr"), HasSubstr("no '='"),
                                                HasSubstr("section.key=value")));
  EXPECT_THAT(override_error("train.lr="), HasSubstr("no value"));
  EXPECT_THAT(override_error("lr=0.1"), AllOf(HasSubstr("unknown key lr"), HasSubstr("did you mean train.lr?")));
  // A value that is not a single TOML value is not smuggled in as more keys.
  EXPECT_THAT(override_error("train.lr=1\n[dist]\nstrategy=\"ps\""), HasSubstr("train.lr = \"1\\n[dist]"));
  EXPECT_THAT(override_error("train.workers=abc"),
              AllOf(HasSubstr("--set train.workers=abc"), HasSubstr("train.workers = \"abc\" is a string"),
                    HasSubstr("expected an integer >= 1")));
}

TEST(ConfigUnknownKeyTest, SuggestsTheClosestKey) {
  EXPECT_THAT(parse_error("[train]\nworkers = 2\nlerning_rate = 0.1\n"),
              AllOf(StartsWith("cfg.toml:3: "), HasSubstr("unknown key train.lerning_rate"),
                    HasSubstr("did you mean train.lr?")));
  EXPECT_THAT(parse_error("[dist]\nstratgy = \"ps\"\n"),
              AllOf(StartsWith("cfg.toml:2: "), HasSubstr("unknown key dist.stratgy"),
                    HasSubstr("did you mean dist.strategy?")));
  EXPECT_THAT(parse_error("[train]\nbacth = 32\n"), HasSubstr("did you mean train.batch?"));
  EXPECT_THAT(parse_error("[train]\nbatch_size = 32\n"), HasSubstr("did you mean train.batch?"));
  // A key of another table.
  EXPECT_THAT(parse_error("[train]\nstrategy = \"ps\"\n"), HasSubstr("did you mean dist.strategy?"));
  EXPECT_THAT(parse_error("lr = 0.1\n"),
              AllOf(HasSubstr("unknown key lr outside any table"), HasSubstr("did you mean train.lr?")));
  // Nothing close: the table's keys are listed instead.
  EXPECT_THAT(parse_error("[checkpoint]\nzzzzzzzz = 1\n"),
              AllOf(HasSubstr("unknown key checkpoint.zzzzzzzz"), Not(HasSubstr("did you mean")),
                    HasSubstr("the keys of [checkpoint] are every, keep")));
  // A table below a key is an unknown key too.
  EXPECT_THAT(parse_error("[train.optim]\nlr = 1\n"), HasSubstr("unknown key train.optim"));
}

TEST(ConfigUnknownKeyTest, UnknownTables) {
  EXPECT_THAT(parse_error("[trian]\nlr = 0.1\n"),
              AllOf(StartsWith("cfg.toml:1: "), HasSubstr("unknown table [trian]"),
                    HasSubstr("did you mean [train]?")));
  EXPECT_THAT(parse_error("\n\n[optimization]\nlr = 0.1\n"),
              AllOf(StartsWith("cfg.toml:3: "), HasSubstr("unknown table [optimization]"),
                    HasSubstr("the tables are [model], [data], [train], [dist], [checkpoint]")));
  EXPECT_THAT(parse_error("train = 5\n"), HasSubstr("train is an integer; expected a table"));
}

TEST(ConfigUnknownKeyTest, OverridesSuggestToo) {
  EXPECT_THAT(override_error("train.lerning_rate=0.1"),
              AllOf(HasSubstr("--set train.lerning_rate=0.1"), HasSubstr("did you mean train.lr?")));
  EXPECT_THAT(override_error("dist.stratgy=ps"), HasSubstr("did you mean dist.strategy?"));
  EXPECT_THAT(override_error("trian.lr=0.1"), HasSubstr("did you mean train.lr?"));
  EXPECT_THAT(override_error("optimization.zzzzzz=1"),
              AllOf(HasSubstr("unknown table [optimization]"), HasSubstr("[checkpoint]")));
}

TEST(ConfigUnknownKeyTest, ReportsTheFirstProblemInFileOrderAndCountsTheRest) {
  // toml++ keeps keys sorted, so "aaa" would come first by name; line 2 is first by position.
  const std::string message = parse_error("[train]\nzzz_first = 1\naaa_second = 2\nlr = -1\n");
  EXPECT_THAT(message,
              AllOf(StartsWith("cfg.toml:2: unknown key train.zzz_first"), HasSubstr("(and 2 more problems)")));
}

TEST(ConfigTypeTest, WrongTypesNameTheKeyValueAndExpectation) {
  EXPECT_THAT(parse_error("[train]\nlr = \"fast\"\n"),
              AllOf(StartsWith("cfg.toml:2: "), HasSubstr("train.lr = \"fast\" is a string; expected a float > 0")));
  EXPECT_THAT(parse_error("[train]\nworkers = 2.5\n"),
              HasSubstr("train.workers = 2.5 is a float; expected an integer >= 1"));
  EXPECT_THAT(parse_error("[train]\nworkers = true\n"), HasSubstr("train.workers = true is a boolean"));
  EXPECT_THAT(parse_error("[model]\nhidden = 256\n"),
              HasSubstr("model.hidden = 256 is an integer; expected an array of integers, each >= 1"));
  EXPECT_THAT(parse_error("[model]\nhidden = [256, \"x\"]\n"), HasSubstr("model.hidden[1] = \"x\" is a string"));
  EXPECT_THAT(parse_error("[dist]\nstrategy = 3\n"),
              HasSubstr("dist.strategy = 3 is an integer; expected a string, one of allreduce | ps | local-sgd | "
                        "gossip | pipeline"));
  EXPECT_THAT(parse_error("[train]\nout = 2024-01-01\n"), HasSubstr("train.out = 2024-01-01 is a date"));
  EXPECT_THAT(parse_error("[train]\nlr = {value = 1}\n"), HasSubstr("train.lr is a table"));
}

TEST(ConfigRangeTest, OutOfRangeValuesNameTheAllowedRange) {
  EXPECT_THAT(parse_error("[train]\nlr = -0.1\n"),
              AllOf(StartsWith("cfg.toml:2: "), HasSubstr("train.lr = -0.1 is out of range; allowed: > 0")));
  EXPECT_THAT(parse_error("[train]\nlr = 0\n"), HasSubstr("allowed: > 0"));
  EXPECT_THAT(parse_error("[train]\nlr = nan\n"), HasSubstr("train.lr = nan is out of range"));
  EXPECT_THAT(parse_error("[train]\nlr = inf\n"), HasSubstr("train.lr = inf is out of range"));
  EXPECT_THAT(parse_error("[train]\nbatch = 0\n"), HasSubstr("train.batch = 0 is out of range; allowed: >= 1"));
  EXPECT_THAT(parse_error("[train]\nworkers = 0\n"), HasSubstr("train.workers = 0 is out of range; allowed: >= 1"));
  EXPECT_THAT(parse_error("[train]\nmomentum = 1.0\n"), HasSubstr("allowed: >= 0 and < 1"));
  EXPECT_THAT(parse_error("[train]\ndecay_factor = 0\n"), HasSubstr("allowed: > 0 and <= 1"));
  EXPECT_THAT(parse_error("[train]\nseed = -1\n"), HasSubstr("train.seed = -1 is out of range; allowed: >= 0"));
  EXPECT_THAT(parse_error("[train]\nout = \"\"\n"), HasSubstr("train.out is empty"));
  EXPECT_THAT(parse_error("[model]\nhidden = [256, 0]\n"), HasSubstr("model.hidden[1] = 0 is out of range"));
  // The edges that are allowed.
  EXPECT_EQ(parse_ok("[train]\nmomentum = 0.0\nepochs = 0\niters = 1\n").train.momentum, 0.0);
  EXPECT_DOUBLE_EQ(parse_ok("[train]\ndecay_factor = 1\n").train.decay_factor, 1.0);
}

TEST(ConfigRangeTest, UnknownChoicesListTheChoices) {
  EXPECT_THAT(parse_error("[dist]\nstrategy = \"bogus\"\n"),
              AllOf(StartsWith("cfg.toml:2: "),
                    HasSubstr("dist.strategy = \"bogus\" is not one of the choices: allreduce, ps, local-sgd, gossip, "
                              "pipeline"),
                    Not(HasSubstr("did you mean"))));
  EXPECT_THAT(parse_error("[dist]\nstrategy = \"local_sgd\"\n"), HasSubstr("did you mean \"local-sgd\"?"));
  EXPECT_THAT(override_error("train.optimizer=adm"), HasSubstr("did you mean \"adam\"?"));
  EXPECT_THAT(override_error("dist.sync=SSP"), HasSubstr("did you mean \"ssp\"?"));  // choices are exact
}

TEST(ConfigParseTest, MalformedTomlNamesLineAndColumn) {
  EXPECT_THAT(parse_error("[train]\nworkers = 2\nlr = = 1\n"),
              AllOf(MatchesRegex("cfg\\.toml:3:[0-9]+: malformed TOML: .+")));
  EXPECT_THAT(parse_error("[train]\nout = \"unterminated\n"), StartsWith("cfg.toml:2:"));
  EXPECT_THAT(parse_error("[train]\nlr = 1\nlr = 2\n"), StartsWith("cfg.toml:3:"));  // a key given twice
  EXPECT_THAT(parse_error("[dist\n"), StartsWith("cfg.toml:1:"));
}

TEST(ConfigFileTest, MissingFileIsNotFound) {
  const std::filesystem::path missing = std::filesystem::path(::testing::TempDir()) / "courier-no-such-config.toml";
  const Result<Config> result = load_config(missing);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(result.status().message(), AllOf(HasSubstr(missing.string()), HasSubstr("does not exist")));

  const Result<Config> directory = load_config(::testing::TempDir());
  ASSERT_FALSE(directory.is_ok());
  EXPECT_THAT(directory.status().message(), HasSubstr("is a directory"));
}

TEST(ConfigFileTest, LoadsAFileAndNamesItInErrors) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / "courier-config-test.toml";
  {
    std::ofstream file(path);
    file << "[train]\nworkers = 2\n";
  }
  const Result<Config> good = load_config(path);
  ASSERT_TRUE(good.is_ok()) << good.status().to_string();
  EXPECT_EQ(good->train.workers, 2);
  {
    std::ofstream file(path);
    file << "[train]\nworkers = 2\nlerning_rate = 1\n";
  }
  const Result<Config> bad = load_config(path);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_THAT(bad.status().message(), StartsWith(path.string() + ":3: unknown key train.lerning_rate"));
  std::filesystem::remove(path);
}

// Every field different from its default, with values that stress the printing: doubles that
// are not short in binary, an exponent, strings needing escapes, an empty array.
Config everything_changed() {
  Config c;
  for (const OverrideCase& test : every_key_override()) test.expect(c);
  c.model.hidden = {};
  c.model.dropout = 0.1 + 0.2;
  c.train.lr = 1.0 / 3.0;
  c.train.eps = 1e-300;
  c.train.min_lr = 1e-5;
  c.dist.bucket_mb = 1e6;
  c.train.out = "runs/\"quoted\" \\ back\ttab\nnewline \x01 ünïcode";
  c.data.path = "";
  c.train.seed = 12345678901234567ULL;
  return c;
}

TEST(ConfigToTomlTest, RoundTrips) {
  for (const Config& config : {Config{}, everything_changed()}) {
    const std::string text = to_toml(config);
    const Result<Config> back = parse_config(text, "to_toml");
    ASSERT_TRUE(back.is_ok()) << back.status().to_string() << "\n" << text;
    EXPECT_EQ(*back, config) << text;
  }
}

TEST(ConfigToTomlTest, PrintsEveryKeyWithItsTable) {
  const std::string text = to_toml(Config{});
  for (const config_keys::SectionSpec& section : config_keys::sections()) {
    EXPECT_THAT(text, HasSubstr(fmt::format("\n[{}]", section.name)));
  }
  for (const config_keys::KeySpec& spec : config_keys::table()) {
    EXPECT_THAT(text, HasSubstr(fmt::format("\n{} = ", spec.name))) << config_keys::full_name(spec);
  }
  EXPECT_THAT(text, HasSubstr("\nlr = 0.001  # learning rate; the peak when scheduled (allowed: > 0)\n"));
  EXPECT_THAT(text, HasSubstr("\nhidden = [256, 128]  # "));
  EXPECT_THAT(text, HasSubstr("\nstrategy = \"allreduce\"  # "));
  EXPECT_THAT(text, HasSubstr("\nbucket_mb = 25.0  # "));
}

TEST(ConfigValidateTest, ChecksEachKeyToo) {
  Config c;
  c.train.lr = -1;
  EXPECT_THAT(validate(c).message(), HasSubstr("train.lr = -1.0 is out of range"));
  c = Config{};
  c.dist.strategy = "bogus";
  EXPECT_THAT(validate(c).message(), HasSubstr("dist.strategy = \"bogus\" is not one of the choices"));
  c = Config{};
  c.train.seed = std::numeric_limits<std::uint64_t>::max();
  EXPECT_THAT(validate(c).message(), HasSubstr("train.seed = 18446744073709551615 is out of range"));
}

// A config that breaks one rule, the substrings its message must hold, and a fix that makes it valid.
struct RuleCase {
  const char* name;
  void (*breaks)(Config&);
  std::vector<std::string> message_parts;
  void (*fixes)(Config&);
};

TEST(ConfigValidateTest, RulesAcrossKeys) {
  const std::vector<RuleCase> cases = {
      {"nothing to train", [](Config& c) { c.train.epochs = 0; }, {"train.epochs = 0", "train.iters = 0"},
       [](Config& c) { c.train.iters = 10; }},
      {"batch below workers", [](Config& c) { c.train.workers = 4; c.train.batch = 2; },
       {"train.batch = 2", "train.workers = 4"}, [](Config& c) { c.train.batch = 4; }},
      {"cosine above peak", [](Config& c) { c.train.schedule = "cosine"; c.train.min_lr = 0.01; },
       {"train.min_lr = 0.01", "train.lr = 0.001"}, [](Config& c) { c.train.schedule = "constant"; }},
      {"ssp without ps", [](Config& c) { c.dist.sync = "ssp"; }, {"dist.sync = \"ssp\"", "dist.strategy = \"ps\""},
       [](Config& c) { c.dist.strategy = "ps"; }},
      {"asp without ps", [](Config& c) { c.dist.sync = "asp"; c.dist.strategy = "gossip"; },
       {"dist.sync = \"asp\"", "(it is \"gossip\")"}, [](Config& c) { c.dist.sync = "bsp"; }},
      {"mpi-native off mpi", [](Config& c) { c.dist.algo = "mpi-native"; },
       {"dist.algo = \"mpi-native\"", "dist.transport = \"mpi\""}, [](Config& c) { c.dist.transport = "mpi"; }},
      {"pipeline of one stage", [](Config& c) { c.dist.strategy = "pipeline"; }, {"dist.stages >= 2"},
       [](Config& c) { c.dist.stages = 2; }},
      {"stages without pipeline", [](Config& c) { c.dist.stages = 4; }, {"dist.stages = 4", "\"pipeline\""},
       [](Config& c) { c.dist.strategy = "pipeline"; }},
      {"microbatches above batch",
       [](Config& c) {
         c.dist.strategy = "pipeline";
         c.dist.stages = 2;
         c.train.workers = 4;
         c.dist.microbatches = 64;
       },
       {"dist.microbatches = 64", "32 samples"}, [](Config& c) { c.dist.microbatches = 32; }},
      {"pipeline with a codec",
       [](Config& c) {
         c.dist.strategy = "pipeline";
         c.dist.stages = 2;
         c.dist.codec = "fp16";
       },
       {"dist.codec = \"fp16\"", "uncompressed"}, [](Config& c) { c.dist.codec = "identity"; }},
      {"heads do not divide", [](Config& c) { c.model.kind = "gpt"; c.data.kind = "text"; c.model.heads = 3; },
       {"model.embedding = 128", "model.heads = 3"}, [](Config& c) { c.model.heads = 8; }},
      {"gpt on images", [](Config& c) { c.model.kind = "gpt"; }, {"model.kind = \"gpt\"", "data.kind = \"text\""},
       [](Config& c) { c.data.kind = "text"; }},
      {"cnn on toy data", [](Config& c) { c.model.kind = "cnn"; c.data.kind = "toy"; },
       {"data.kind = \"fashion-mnist\""},
       [](Config& c) { c.data.kind = "fashion-mnist"; }},
      {"mlp on text", [](Config& c) { c.data.kind = "text"; }, {"model.kind = \"mlp\"", "data.kind = \"text\""},
       [](Config& c) { c.data.kind = "toy"; }},
      {"no data path", [](Config& c) { c.data.path = ""; }, {"data.path is empty"},
       [](Config& c) { c.data.kind = "toy"; }},
      {"clip on sharded servers", [](Config& c) { c.dist.strategy = "ps"; c.dist.servers = 2; c.train.clip = 1; },
       {"train.clip = 1", "dist.servers = 1 (got 2)"}, [](Config& c) { c.dist.servers = 1; }},
      {"unknown codec", [](Config& c) { c.dist.codec = "topk"; }, {"dist.codec", "topk:F", "powersgd:R"},
       [](Config& c) { c.dist.codec = "topk:0.01+ef"; }},
      {"powersgd without its rank", [](Config& c) { c.dist.codec = "powersgd"; }, {"powersgd:4"},
       [](Config& c) { c.dist.codec = "powersgd:2"; }},
      {"frozen variance without adam", [](Config& c) { c.train.optimizer = "sgd"; c.train.freeze_variance_at = 50; },
       {"train.freeze_variance_at = 50", "adam or adamw"}, [](Config& c) { c.train.optimizer = "adamw"; }},
      {"min elements without powersgd", [](Config& c) { c.dist.codec = "int8"; c.dist.powersgd_min_elements = 9000; },
       {"dist.powersgd_min_elements = 9000", "powersgd:R"}, [](Config& c) { c.dist.codec = "powersgd:4"; }},
      {"updates under ps", [](Config& c) { c.dist.exchange = "updates"; c.dist.strategy = "ps"; c.train.optimizer = "adamw"; },
       {"dist.exchange = \"updates\"", "dist.strategy = \"ps\""}, [](Config& c) { c.dist.strategy = "allreduce"; }},
      {"updates with sgd", [](Config& c) { c.dist.exchange = "updates"; c.train.optimizer = "sgd"; },
       {"dist.exchange = \"updates\"", "train.optimizer = \"sgd\"", "adamw"},
       [](Config& c) { c.train.optimizer = "adamw"; }},
      {"powersgd on a parameter server", [](Config& c) { c.dist.codec = "powersgd:4"; c.dist.strategy = "ps"; },
       {"dist.codec = \"powersgd:4\"", "dist.strategy = \"ps\"", "int8"}, [](Config& c) { c.dist.codec = "int8"; }},
  };
  for (const RuleCase& test : cases) {
    Config c;
    test.breaks(c);
    const Status status = validate(c);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << test.name;
    for (const std::string& part : test.message_parts) EXPECT_THAT(status.message(), HasSubstr(part)) << test.name;
    test.fixes(c);
    EXPECT_TRUE(validate(c).is_ok()) << test.name << ": " << validate(c).to_string();
  }
}

TEST(ConfigSuggestTest, EditDistance) {
  EXPECT_EQ(config_keys::edit_distance("", ""), 0u);
  EXPECT_EQ(config_keys::edit_distance("", "abc"), 3u);
  EXPECT_EQ(config_keys::edit_distance("batch", "batch"), 0u);
  EXPECT_EQ(config_keys::edit_distance("bacth", "batch"), 1u);  // a swap is one edit
  EXPECT_EQ(config_keys::edit_distance("LR", "lr"), 0u);        // case does not count
  EXPECT_EQ(config_keys::edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(config_keys::suggest_key("train", "lr"), "train.lr");
  EXPECT_EQ(config_keys::suggest_key("train", "schedul"), "train.schedule");  // its own table wins a tie
  EXPECT_EQ(config_keys::suggest_key("dist", "schedul"), "dist.schedule");
  EXPECT_EQ(config_keys::suggest_key("train", "completely_unrelated"), std::nullopt);
}

TEST(ConfigDocsTest, DocsConfigMdIsUpToDate) {
  const std::filesystem::path path = kSourceDir / "docs" / "config.md";
  const std::string expected = config_reference_markdown();
  if (std::getenv("COURIER_UPDATE_DOCS") != nullptr) {
    std::ofstream(path, std::ios::binary) << expected;
  }
  const std::string actual = read_text(path);
  if (actual == expected) return;
  // Name the first line that differs rather than printing both files.
  std::istringstream actual_lines(actual);
  std::istringstream expected_lines(expected);
  std::string a;
  std::string e;
  int line = 1;
  for (;; ++line) {
    const bool more_actual = static_cast<bool>(std::getline(actual_lines, a));
    const bool more_expected = static_cast<bool>(std::getline(expected_lines, e));
    if (!more_actual) a = "(end of file)";
    if (!more_expected) e = "(end of file)";
    if (!more_actual || !more_expected || a != e) break;
  }
  ADD_FAILURE() << path.string() << " is stale: line " << line << " is\n  " << a << "\nbut the key table gives\n  "
                << e << "\nRegenerate it: COURIER_UPDATE_DOCS=1 build/release/tests/train_test "
                << "--gtest_filter='ConfigDocsTest.*'";
}

TEST(ConfigDocsTest, ReferenceNamesEveryKeyDefaultAndRule) {
  const std::string markdown = config_reference_markdown();
  for (const config_keys::KeySpec& spec : config_keys::table()) {
    EXPECT_THAT(markdown, HasSubstr(fmt::format("| `{}` | {} | `{}` |", spec.name, config_keys::type_name(spec),
                                                config_keys::value_text(spec, Config{}))))
        << config_keys::full_name(spec);
  }
  EXPECT_THAT(markdown, HasSubstr("| `lr` | float | `0.001` | > 0 |"));
  EXPECT_THAT(markdown, HasSubstr("| `strategy` | string | `\"allreduce\"` | one of allreduce \\| ps \\| local-sgd"));
  for (const config_keys::Rule& rule : config_keys::rules()) EXPECT_THAT(markdown, HasSubstr(rule.summary));
}

TEST(ConfigFilesTest, EveryConfigInConfigsLoadsAndValidates) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kSourceDir / "configs")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  EXPECT_GE(files.size(), 7u);
  for (const std::filesystem::path& file : files) {
    SCOPED_TRACE(file.string());
    const Result<Config> config = load_config(file);
    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    EXPECT_TRUE(validate(*config).is_ok()) << validate(*config).to_string();
    // Each starts with a comment that says how to run it.
    EXPECT_THAT(read_text(file), StartsWith("#"));
    EXPECT_THAT(read_text(file), HasSubstr("courier train configs/" + file.filename().string()));
  }
}

TEST(ConfigFilesTest, TheFashionConfigsSayWhatTheBriefAsks) {
  const Result<Config> mlp = load_config(kSourceDir / "configs" / "fashion-mlp.toml");
  ASSERT_TRUE(mlp.is_ok()) << mlp.status().to_string();
  EXPECT_EQ(mlp->model.kind, "mlp");
  EXPECT_EQ(mlp->model.hidden, (std::vector<std::int64_t>{256, 128}));
  EXPECT_EQ(mlp->train.optimizer, "adam");
  EXPECT_DOUBLE_EQ(mlp->train.lr, 1e-3);
  EXPECT_EQ(mlp->train.batch, 128);
  EXPECT_EQ(mlp->train.epochs, 10);
  EXPECT_EQ(mlp->train.workers, 4);
  EXPECT_EQ(mlp->dist.strategy, "allreduce");

  const Result<Config> cnn = load_config(kSourceDir / "configs" / "fashion-cnn.toml");
  ASSERT_TRUE(cnn.is_ok()) << cnn.status().to_string();
  EXPECT_EQ(cnn->model.kind, "cnn");
  EXPECT_EQ(cnn->train.epochs, 1);

  struct Expected {
    const char* file;
    const char* strategy;
    const char* sync;
  };
  for (const Expected& e : {Expected{"fashion-mlp-ps-bsp.toml", "ps", "bsp"},
                            Expected{"fashion-mlp-ps-asp.toml", "ps", "asp"},
                            Expected{"fashion-mlp-ps-ssp.toml", "ps", "ssp"},
                            Expected{"fashion-mlp-local-sgd.toml", "local-sgd", "bsp"},
                            Expected{"fashion-mlp-gossip.toml", "gossip", "bsp"}}) {
    const Result<Config> config = load_config(kSourceDir / "configs" / e.file);
    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    EXPECT_EQ(config->dist.strategy, e.strategy) << e.file;
    EXPECT_EQ(config->dist.sync, e.sync) << e.file;
  }
  EXPECT_EQ(load_config(kSourceDir / "configs" / "fashion-mlp-ps-ssp.toml")->dist.staleness, 3);
  EXPECT_EQ(load_config(kSourceDir / "configs" / "fashion-mlp-local-sgd.toml")->dist.local_steps, 8);
  EXPECT_EQ(load_config(kSourceDir / "configs" / "fashion-mlp-gossip.toml")->dist.graph, "ring");
}

}  // namespace
}  // namespace courier
