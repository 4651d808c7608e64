#include <string_view>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace rampart::store {

Result<std::unique_ptr<Store>> OpenStore(const std::string& uri) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (uri.starts_with(kSqlite)) {
    std::string path = uri.substr(kSqlite.size());
    if (path.empty()) return Status::InvalidArgument("store URI has no path");
    auto store = sqlite::SqliteStore::Open(path);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(store).value());
  }
  return Status::InvalidArgument("unknown store URI scheme");
}

}  // namespace rampart::store
