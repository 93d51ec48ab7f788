#pragma once
// Small file helpers shared by the tests.

#include <filesystem>
#include <string>

namespace corral::test {

/// The whole file as bytes; "" when it cannot be read (the caller's assertion says what it wanted).
std::string readFile(const std::filesystem::path& path);

} // namespace corral::test
