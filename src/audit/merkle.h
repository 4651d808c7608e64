// RFC 6962 (Certificate Transparency) Merkle tree hashing, audit paths and consistency proofs.
//
// Every audit record is one leaf. The hashes are the RFC's, bit for bit, so that a tree head
// Rampart signs can be checked by any RFC 6962 / RFC 9162 implementation:
//   leaf hash     = SHA-256(0x00 || leaf bytes)
//   interior node = SHA-256(0x01 || left || right)
//   MTH({})       = SHA-256("")
//   MTH(D[n])     = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two smaller than n
//
//   std::vector<audit::Hash> leaves = ...;                // LeafHash(bytes) of each record
//   audit::Hash root = audit::RootOf(leaves);
//   auto path = audit::InclusionPath(leaves, 5, leaves.size());
//   bool ok = audit::VerifyInclusion(leaves[5], 5, leaves.size(), *path, root);
//
// All functions are pure and thread-safe. Proof generation is O(tree_size) hashing because
// interior nodes are not stored (the log keeps only leaf hashes: 32 bytes per record); it is
// an operator action, not a hot path.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rampart::audit {

using Hash = std::array<uint8_t, 32>;

Hash LeafHash(std::string_view leaf_bytes);
Hash NodeHash(const Hash& left, const Hash& right);
Hash EmptyRoot();  // SHA-256 of the empty string

std::string ToHex(const Hash& hash);
// Exactly 64 hex digits (either case); InvalidArgument otherwise.
Result<Hash> HashFromHex(std::string_view hex);

// MTH over the leaf hashes (RFC 6962 section 2.1), recursively: O(n).
Hash RootOf(std::span<const Hash> leaves);

// The audit path of leaf `index` in the tree of the first `tree_size` leaves (RFC 6962
// section 2.1.1), nearest sibling first. InvalidArgument unless index < tree_size <= size.
Result<std::vector<Hash>> InclusionPath(std::span<const Hash> leaves, uint64_t index,
                                        uint64_t tree_size);
// The audit paths of several leaves of the same tree, in the order of `indexes`, from one pass:
// the tree's levels are hashed once (O(tree_size) hashes, 2 * tree_size hashes of memory), then
// each path costs O(log tree_size). InclusionPath per leaf would cost O(tree_size) each, which
// an evidence bundle of thousands of records over a long log cannot afford.
Result<std::vector<std::vector<Hash>>> InclusionPaths(std::span<const Hash> leaves,
                                                      std::span<const uint64_t> indexes,
                                                      uint64_t tree_size);
// RFC 9162 section 2.1.3.2: true when `path` proves `leaf` sits at `index` of the tree of
// `tree_size` leaves whose head is `root`.
bool VerifyInclusion(const Hash& leaf, uint64_t index, uint64_t tree_size,
                     std::span<const Hash> path, const Hash& root);

// The consistency proof between the trees of the first `old_size` and `new_size` leaves
// (RFC 6962 section 2.1.2). Empty when old_size is 0 or equal to new_size. InvalidArgument
// unless old_size <= new_size <= size.
Result<std::vector<Hash>> ConsistencyProof(std::span<const Hash> leaves, uint64_t old_size,
                                           uint64_t new_size);
// RFC 9162 section 2.1.4.2.
bool VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                       const Hash& new_root, std::span<const Hash> proof);

// The right edge of a growing tree: one hash per set bit of the size (at most 64), so that
// appending a leaf and computing the head are O(log n) without keeping interior nodes.
// Not thread-safe; the log guards it with its mutex.
class CompactTree {
 public:
  void Append(const Hash& leaf);
  Hash Root() const;
  uint64_t size() const { return size_; }

 private:
  // Roots of the perfect subtrees that make up the tree, largest (leftmost) first.
  std::vector<Hash> edge_;
  uint64_t size_ = 0;
};

}  // namespace rampart::audit
