// A standalone stand-in for libFuzzer's main(), for g++ builds: runs every seed of a corpus
// directory through LLVMFuzzerTestOneInput, then pseudo-random mutations of the seeds. The seed of
// the random generator is fixed, so a failure reproduces; the run is bounded in count and in time
// so that it fits in ctest. A target reports a bug by crashing (abort, sanitizer, FUZZ_CHECK).
//
//   fuzz_TARGET CORPUS_DIR [--runs N] [--seconds S] [--seed N]   seeds, then mutations
//   fuzz_TARGET FILE...                                          replays files (a crash input)

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr size_t kMaxInputSize = 64 * 1024;

struct Options {
  std::vector<std::filesystem::path> paths;
  uint64_t runs = 100'000;
  double seconds = 3;
  uint64_t seed = 1;
};

Options parseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--runs" || arg == "--seconds" || arg == "--seed") && i + 1 < argc) {
      const char* value = argv[++i];
      if (arg == "--runs") {
        options.runs = std::strtoull(value, nullptr, 10);
      } else if (arg == "--seconds") {
        options.seconds = std::strtod(value, nullptr);
      } else {
        options.seed = std::strtoull(value, nullptr, 10);
      }
    } else {
      options.paths.emplace_back(arg);
    }
  }
  return options;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void runOne(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

// Bytes that matter to the parsers under test: line ends, separators, quotes, TLS and PROXY
// framing, and the edges of length fields.
constexpr std::string_view kInteresting[] = {"\r\n", "\n", "\r\n\r\n", ";", "=", "\"", " ", ":",
                                             ".", std::string_view("\0", 1), "\xff", "\x7f",
                                             "\x16\x03\x01", "PROXY ", "HTTP/1.1"};

// One of libFuzzer's basic mutations, chosen at random.
void mutate(std::string& input, const std::vector<std::string>& seeds, std::mt19937_64& random) {
  auto pick = [&](size_t bound) { return bound == 0 ? 0 : static_cast<size_t>(random() % bound); };
  const size_t at = pick(input.size() + 1); // a position, possibly the end
  const uint64_t kind = input.empty() ? 2 + random() % 6 : random() % 8;
  if (kind == 0) {
    input[pick(input.size())] ^= static_cast<char>(1 << pick(8)); // flip a bit
  } else if (kind == 1) {
    input[pick(input.size())] = static_cast<char>(random()); // change a byte
  } else if (kind == 2) {
    input.insert(at, 1, static_cast<char>(random()));
  } else if (kind == 3) {
    input.erase(at, 1 + pick(8));
  } else if (kind == 4) {
    input.resize(at); // truncate
  } else if (kind == 5) {
    input.insert(at, kInteresting[pick(std::size(kInteresting))]);
  } else if (kind == 6) {
    input.insert(pick(input.size() + 1), input.substr(at, 1 + pick(32))); // duplicate a range
  } else {
    const std::string& other = seeds[pick(seeds.size())]; // splice with another seed
    input = input.substr(0, at) + other.substr(pick(other.size() + 1));
  }
  if (input.size() > kMaxInputSize) {
    input.resize(kMaxInputSize);
  }
}

std::vector<std::string> loadSeeds(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::string> seeds;
  for (const auto& path : paths) {
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) {
          seeds.push_back(readFile(entry.path()));
        }
      }
    } else {
      seeds.push_back(readFile(path));
    }
  }
  if (seeds.empty()) {
    seeds.emplace_back();
  }
  return seeds;
}

} // namespace

int main(int argc, char** argv) {
  const Options options = parseOptions(argc, argv);
  const std::vector<std::string> seeds = loadSeeds(options.paths);
  for (const std::string& seed : seeds) {
    runOne(seed);
  }
  std::mt19937_64 random(options.seed);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(options.seconds));
  uint64_t runs = 0;
  for (; runs < options.runs; ++runs) {
    if (runs % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::string input = seeds[random() % seeds.size()];
    for (uint64_t count = 1 + random() % 4; count > 0; --count) {
      mutate(input, seeds, random);
    }
    runOne(input);
  }
  std::printf("%zu seeds, %llu mutated inputs, no crash\n", seeds.size(),
              static_cast<unsigned long long>(runs));
  return 0;
}
