#pragma once
// The status page's files (src/admin/page/), compiled into the binary by cmake/EmbedFiles.cmake.
// The admin server serves them at "/" + their file name, and index.html at "/" too.

#include <span>
#include <string_view>

namespace corral::admin {

struct PageAsset {
  std::string_view path;         // "/index.html", "/status.js", "/status.css"
  std::string_view content_type; // from the extension
  std::string_view body;
};

std::span<const PageAsset> pageAssets();

} // namespace corral::admin
