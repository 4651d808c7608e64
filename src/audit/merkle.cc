#include "audit/merkle.h"

#include <bit>
#include <cstring>

#include "common/crypto.h"

namespace rampart::audit {

namespace {

// Largest power of two strictly smaller than n (n >= 2): the RFC 6962 split point.
uint64_t SplitPoint(uint64_t n) {
  return std::bit_floor(n - 1);
}

Hash SubtreeRoot(std::span<const Hash> leaves) {
  if (leaves.size() == 1) return leaves[0];
  uint64_t k = SplitPoint(leaves.size());
  return NodeHash(SubtreeRoot(leaves.first(k)), SubtreeRoot(leaves.subspan(k)));
}

void Path(std::span<const Hash> leaves, uint64_t m, std::vector<Hash>* out) {
  if (leaves.size() <= 1) return;
  uint64_t k = SplitPoint(leaves.size());
  if (m < k) {
    Path(leaves.first(k), m, out);
    out->push_back(SubtreeRoot(leaves.subspan(k)));
  } else {
    Path(leaves.subspan(k), m - k, out);
    out->push_back(SubtreeRoot(leaves.first(k)));
  }
}

void SubProof(std::span<const Hash> leaves, uint64_t m, bool whole, std::vector<Hash>* out) {
  uint64_t n = leaves.size();
  if (m == n) {
    if (!whole) out->push_back(SubtreeRoot(leaves));
    return;
  }
  uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(leaves.first(k), m, whole, out);
    out->push_back(SubtreeRoot(leaves.subspan(k)));
  } else {
    SubProof(leaves.subspan(k), m - k, false, out);
    out->push_back(SubtreeRoot(leaves.first(k)));
  }
}

}  // namespace

Hash LeafHash(std::string_view leaf_bytes) {
  std::string buf;
  buf.reserve(leaf_bytes.size() + 1);
  buf.push_back('\0');
  buf.append(leaf_bytes);
  return crypto::Sha256(buf);
}

Hash NodeHash(const Hash& left, const Hash& right) {
  char buf[65];
  buf[0] = 0x01;
  std::memcpy(buf + 1, left.data(), 32);
  std::memcpy(buf + 33, right.data(), 32);
  return crypto::Sha256(std::string_view(buf, sizeof buf));
}

Hash EmptyRoot() {
  return crypto::Sha256("");
}

std::string ToHex(const Hash& hash) {
  return crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(hash.data()), 32));
}

Result<Hash> HashFromHex(std::string_view hex) {
  if (hex.size() != 64) return Status::InvalidArgument("a hash must be 64 hex digits");
  Hash out{};
  for (size_t i = 0; i < 32; ++i) {
    int hi = crypto::HexDigitValue(hex[2 * i]);
    int lo = crypto::HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("a hash must be 64 hex digits");
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return out;
}

Hash RootOf(std::span<const Hash> leaves) {
  return leaves.empty() ? EmptyRoot() : SubtreeRoot(leaves);
}

Result<std::vector<Hash>> InclusionPath(std::span<const Hash> leaves, uint64_t index,
                                        uint64_t tree_size) {
  if (tree_size > leaves.size() || index >= tree_size) {
    return Status::InvalidArgument(
        "leaf index must be below the tree size, and the tree size "
        "at most the number of records");
  }
  std::vector<Hash> out;
  Path(leaves.first(tree_size), index, &out);
  return out;
}

Result<std::vector<std::vector<Hash>>> InclusionPaths(std::span<const Hash> leaves,
                                                      std::span<const uint64_t> indexes,
                                                      uint64_t tree_size) {
  if (tree_size > leaves.size()) {
    return Status::InvalidArgument("the tree size is beyond the number of records");
  }
  for (uint64_t index : indexes) {
    if (index >= tree_size)
      return Status::InvalidArgument("leaf index must be below the tree size");
  }
  // Bottom-up levels where an unpaired last node moves up unchanged: the same tree as RFC 6962's
  // recursive split at the largest power of two (its left subtrees are always complete).
  std::vector<std::vector<Hash>> levels;
  levels.emplace_back(leaves.begin(), leaves.begin() + static_cast<std::ptrdiff_t>(tree_size));
  while (levels.back().size() > 1) {
    const std::vector<Hash>& below = levels.back();
    std::vector<Hash> above;
    above.reserve((below.size() + 1) / 2);
    for (size_t i = 0; i + 1 < below.size(); i += 2)
      above.push_back(NodeHash(below[i], below[i + 1]));
    if (below.size() % 2 == 1) above.push_back(below.back());
    levels.push_back(std::move(above));
  }
  std::vector<std::vector<Hash>> out;
  out.reserve(indexes.size());
  for (uint64_t index : indexes) {
    std::vector<Hash> path;
    uint64_t node = index;
    for (size_t level = 0; level + 1 < levels.size(); ++level, node >>= 1) {
      const uint64_t sibling = node ^ 1;
      // No sibling: the node is the unpaired last one and moves up with nothing to prove.
      if (sibling < levels[level].size()) path.push_back(levels[level][sibling]);
    }
    out.push_back(std::move(path));
  }
  return out;
}

bool VerifyInclusion(const Hash& leaf, uint64_t index, uint64_t tree_size,
                     std::span<const Hash> path, const Hash& root) {
  if (index >= tree_size) return false;
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  Hash r = leaf;
  for (const Hash& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

Result<std::vector<Hash>> ConsistencyProof(std::span<const Hash> leaves, uint64_t old_size,
                                           uint64_t new_size) {
  if (new_size > leaves.size() || old_size > new_size) {
    return Status::InvalidArgument("consistency proof needs old size <= new size <= records");
  }
  std::vector<Hash> out;
  if (old_size == 0 || old_size == new_size) return out;
  SubProof(leaves.first(new_size), old_size, true, &out);
  return out;
}

bool VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                       const Hash& new_root, std::span<const Hash> proof) {
  if (old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  // Every tree extends the empty one; there is nothing to prove.
  if (old_size == 0) return proof.empty();
  std::vector<Hash> path(proof.begin(), proof.end());
  // When the old tree is a perfect subtree of the new one its head is the first node.
  if (std::has_single_bit(old_size)) path.insert(path.begin(), old_root);
  if (path.empty()) return false;
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

void CompactTree::Append(const Hash& leaf) {
  Hash h = leaf;
  // Each trailing one bit of the old size is a perfect subtree of the same height as the one
  // being built: merge them, as binary addition carries.
  for (uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    h = NodeHash(edge_.back(), h);
    edge_.pop_back();
  }
  edge_.push_back(h);
  ++size_;
}

Hash CompactTree::Root() const {
  if (edge_.empty()) return EmptyRoot();
  Hash r = edge_.back();
  for (size_t i = edge_.size() - 1; i-- > 0;) r = NodeHash(edge_[i], r);
  return r;
}

}  // namespace rampart::audit
