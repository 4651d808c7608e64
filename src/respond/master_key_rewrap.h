// The master-key re-wrap job: after the keeper's staff-data master key is rotated
// (keeper::Keeper::RotateMasterKey), moves every staff row's wrapped data key to the new version,
// batch by batch, in the background of serve.
//
// Progress is the rows' key_version itself: a pass pages through the rows below the keeper's
// current version by id, has the keeper re-wrap each page (RewrapKeys: no field is decrypted) and
// writes the new keys back only where the row still holds the key it read (a concurrent edit,
// which sealed the row afresh, wins). Nothing else is stored, so a restart simply starts a new
// pass: Start() runs one at once when rows below the current version exist.
//
//   respond::MasterKeyRewrap job(store, keeper, &clock);
//   job.Start();                        // resumes an interrupted re-wrap, if any
//   keeper->RotateMasterKey(caller);    // then
//   job.Kick();                         // moves every row to the new version
//   job.Snapshot();                     // state, counts, last error
//
// A record whose wrapped key does not open (tampered with, or under a retired version) is
// reported and skipped: the pass goes on and ends "done" with failed > 0; the row keeps its old
// key. A transient error (keeper or store unavailable) is retried after retry_millis, from the
// page it failed on; another error (the keeper refusing the job) waits for the next Kick().
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "keeper/keeper.h"
#include "store/store.h"

namespace rampart::respond {

struct MasterKeyRewrapOptions {
  int64_t batch_size = 200;     // rows per keeper call and per store transaction (1..500)
  int64_t retry_millis = 5000;  // wait after a transient failure before trying the page again
};

struct MasterKeyRewrapSnapshot {
  // "idle" (no pass yet), "running", "done" (the last pass reached the end), "retrying" (the
  // last batch failed transiently; last_error says why).
  std::string state = "idle";
  int64_t target_version = 0;  // the keeper's current version when the pass started
  int64_t rewrapped = 0;       // rows moved by the current or last pass
  int64_t failed = 0;          // rows whose wrapped key did not open
  int64_t skipped = 0;         // rows edited or deleted between the read and the write
  int64_t started_at = 0;
  int64_t finished_at = 0;
  std::string last_error;
  std::vector<std::string> failed_staff_ids;  // the first 100 (ids only: no personal data)
};

class MasterKeyRewrap {
 public:
  // Nothing owned; store, keeper and clock must outlive the job.
  MasterKeyRewrap(store::Store* store, keeper::Keeper* keeper, const Clock* clock,
                  MasterKeyRewrapOptions options = {});
  ~MasterKeyRewrap();
  MasterKeyRewrap(const MasterKeyRewrap&) = delete;
  MasterKeyRewrap& operator=(const MasterKeyRewrap&) = delete;

  // Starts the worker thread, which runs a pass at once (resuming a re-wrap a restart cut off)
  // and then one per Kick().
  void Start();
  void Stop();
  // Asks for a pass (after a rotation). Passes do not overlap: a kick during one runs another
  // after it, which finds the rows the first could not see yet.
  void Kick();
  MasterKeyRewrapSnapshot Snapshot() const;

  // One whole pass on the calling thread (the worker's body; tests call it without Start).
  // Returns the first transient error; rows that fail to open are counted, not errors.
  Status RunPass();

 private:
  void Loop();
  // Re-wraps one page; sets *last_id to its last row. *end when no row was left.
  Status RewrapPage(int64_t target, const std::string& after, std::string* last_id, bool* end);

  store::Store* store_;
  keeper::Keeper* keeper_;
  const Clock* clock_;
  MasterKeyRewrapOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  MasterKeyRewrapSnapshot snapshot_;  // guarded by mu_
  bool kicked_ = false;               // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  bool started_ = false;              // guarded by mu_
  std::mutex pass_mu_;                // one pass at a time (worker or a direct RunPass)
  std::string resume_after_;          // guarded by pass_mu_: where a retried pass goes on
  std::thread worker_;
};

}  // namespace rampart::respond
