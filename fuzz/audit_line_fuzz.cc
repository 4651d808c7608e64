// libFuzzer target: the audit log's line parsers (records.jsonl, checkpoints.jsonl) and the
// verifier that walks whole files of them. Input is any bytes, as a tampered file would be.
// Beyond not crashing, a line that parses must survive a write/parse round trip unchanged:
// the writer and the verifier must agree on every record they both accept.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "audit/format.h"
#include "audit/merkle.h"
#include "audit/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart::audit;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto record = ParseRecordLine(text);
  if (record.ok()) {
    std::string again = RecordLine(record->record, record->root);
    auto reparsed = ParseRecordLine(again);
    if (!reparsed.ok() || LeafBytes(reparsed->record) != LeafBytes(record->record) ||
        reparsed->root != record->root) {
      std::abort();
    }
  }
  auto checkpoint = ParseCheckpointLine(text);
  if (checkpoint.ok()) {
    auto reparsed = ParseCheckpointLine(CheckpointLine(*checkpoint));
    if (!reparsed.ok() || reparsed->signature != checkpoint->signature ||
        reparsed->root_hex != checkpoint->root_hex ||
        reparsed->tree_size != checkpoint->tree_size) {
      std::abort();
    }
  }
  // The same bytes as both files: exercises line splitting, index and checkpoint logic.
  VerifiedLog log = CheckLog(text, text, "");
  if (log.report.ok != log.report.problems.empty()) std::abort();
  return 0;
}
