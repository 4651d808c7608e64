#include "detect/new_file_use.h"

#include <algorithm>
#include <utility>

#include "common/text.h"
#include "detect/url_path.h"

namespace rampart::detect {
namespace {

std::string_view LastComponent(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

NewFileUseDetector::NewFileUseDetector(NewFileUseOptions options) : options_(std::move(options)) {}

void NewFileUseDetector::FileCreated(std::string_view path, int64_t now_millis) {
  if (path.empty() || LastComponent(path).empty()) return;
  Forget(now_millis);
  std::string key(path);
  const uint64_t generation = ++generation_;
  auto [it, added] = created_.insert_or_assign(key, Created{now_millis, generation});
  if (added) by_name_[std::string(LastComponent(path))].push_back(key);
  order_.push_back({std::move(key), now_millis, generation});
  while (created_.size() > options_.max_files && !order_.empty()) {
    Entry oldest = std::move(order_.front());
    order_.pop_front();
    if (Current(oldest)) FileDeleted(oldest.path);
  }
  // Re-creating or deleting a path leaves its older entries behind: drop them before they
  // outnumber the files remembered.
  if (order_.size() > 2 * created_.size() + 64) {
    std::erase_if(order_, [&](const Entry& e) { return !Current(e); });
  }
}

bool NewFileUseDetector::Current(const Entry& e) const {
  auto found = created_.find(e.path);
  return found != created_.end() && found->second.generation == e.generation;
}

void NewFileUseDetector::FileDeleted(std::string_view path) {
  auto it = created_.find(std::string(path));
  if (it == created_.end()) return;
  created_.erase(it);
  auto named = by_name_.find(std::string(LastComponent(path)));
  if (named == by_name_.end()) return;
  std::erase(named->second, std::string(path));
  if (named->second.empty()) by_name_.erase(named);
}

void NewFileUseDetector::Forget(int64_t now_millis) {
  while (!order_.empty() && order_.front().at + options_.remember_millis <= now_millis) {
    Entry oldest = std::move(order_.front());
    order_.pop_front();
    if (Current(oldest)) FileDeleted(oldest.path);
  }
}

bool NewFileUseDetector::IsScript(std::string_view path) const {
  std::string_view name = LastComponent(path);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string extension = AsciiLower(name.substr(dot + 1));
  return std::find(options_.script_extensions.begin(), options_.script_extensions.end(),
                   extension) != options_.script_extensions.end();
}

NewFileUse NewFileUseDetector::Request(std::string_view url_path, bool parameters,
                                       uint64_t response_bytes, int64_t now_millis) {
  NewFileUse use;
  if (created_.empty() || url_path.empty() || url_path.front() != '/') return use;
  Forget(now_millis);
  // The file the server maps the path to ("/mifs//./x/../403.jsp;a=b" reaches "/mifs/403.jsp");
  // a path above the root is refused by the server.
  std::string path;
  if (ResolveUrlPath(url_path, &path)) return use;
  auto named = by_name_.find(std::string(LastComponent(path)));
  if (named == by_name_.end()) return use;
  for (const std::string& file : named->second) {
    // The URL path is the end of the file's path; it starts with '/', so the match falls on a
    // component boundary.
    if (!std::string_view(file).ends_with(path)) continue;
    if (parameters && IsScript(file)) {
      use = {NewFileUse::Kind::kScriptCalled, file};
      return use;
    }
    if (response_bytes >= options_.large_response_bytes) {
      use = {NewFileUse::Kind::kLargeDownload, file};
    }
  }
  return use;
}

}  // namespace rampart::detect
