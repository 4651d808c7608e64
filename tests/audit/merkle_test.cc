// RFC 6962 hashing against the published Certificate Transparency vectors
// (transparency-dev/merkle testonly/constants.go and proof/verify_test.go, the same values as
// google/certificate-transparency's merkle_tree_test.cc), then every proof of trees of 1..70
// leaves against the recursive definition.
#include "audit/merkle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/crypto.h"

namespace rampart::audit {
namespace {

std::string Unhex(const std::string& hex) {
  return *crypto::HexDecode(hex);
}
Hash H(const std::string& hex) {
  return *HashFromHex(hex);
}

const std::vector<std::string> kLeafInputs = {"",
                                              "00",
                                              "10",
                                              "2021",
                                              "3031",
                                              "40414243",
                                              "5051525354555657",
                                              "606162636465666768696a6b6c6d6e6f"};

// Root for each tree size 0..8.
const std::vector<std::string> kRoots = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

std::vector<Hash> VectorLeaves() {
  std::vector<Hash> leaves;
  for (const auto& in : kLeafInputs) leaves.push_back(LeafHash(Unhex(in)));
  return leaves;
}

std::vector<Hash> Paths(std::vector<std::string> hex) {
  std::vector<Hash> out;
  for (const auto& h : hex) out.push_back(H(h));
  return out;
}

TEST(AuditMerkle, EmptyTreeIsSha256OfNothing) {
  EXPECT_EQ(ToHex(EmptyRoot()), kRoots[0]);
  EXPECT_EQ(ToHex(RootOf({})), kRoots[0]);
  EXPECT_EQ(ToHex(CompactTree().Root()), kRoots[0]);
}

TEST(AuditMerkle, LeafHashesOfTheVectorInputs) {
  // Level 0 of testonly.NodeHashes().
  const std::vector<std::string> want = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
      "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"};
  auto leaves = VectorLeaves();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(ToHex(leaves[i]), want[i]) << i;
  // Level 1, node 1: the interior hash with the 0x01 prefix.
  EXPECT_EQ(ToHex(NodeHash(leaves[2], leaves[3])),
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e");
}

TEST(AuditMerkle, RootsMatchTheVectorsForEverySize) {
  auto leaves = VectorLeaves();
  CompactTree compact;
  for (size_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(ToHex(RootOf(std::span<const Hash>(leaves).first(n))), kRoots[n]) << n;
    EXPECT_EQ(ToHex(compact.Root()), kRoots[n]) << n;
    if (n < leaves.size()) compact.Append(leaves[n]);
  }
}

TEST(AuditMerkle, InclusionProofsMatchTheVectors) {
  // proof/verify_test.go inclusionProofs, whose leaf numbers are 1-based.
  struct Vector {
    uint64_t index, size;
    std::vector<std::string> path;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {0,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5,
       8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1,
       5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  auto leaves = VectorLeaves();
  for (const auto& v : vectors) {
    auto path = InclusionPath(leaves, v.index, v.size);
    ASSERT_TRUE(path.ok());
    EXPECT_EQ(*path, Paths(v.path)) << v.index << "/" << v.size;
    EXPECT_TRUE(VerifyInclusion(leaves[v.index], v.index, v.size, *path, H(kRoots[v.size])));
  }
}

TEST(AuditMerkle, ConsistencyProofsMatchTheVectors) {
  struct Vector {
    uint64_t old_size, new_size;
    std::vector<std::string> proof;
  };
  const std::vector<Vector> vectors = {
      {1, 1, {}},
      {1,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6,
       8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2,
       5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
      {6,
       7,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  };
  auto leaves = VectorLeaves();
  for (const auto& v : vectors) {
    auto proof = ConsistencyProof(leaves, v.old_size, v.new_size);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(*proof, Paths(v.proof)) << v.old_size << "->" << v.new_size;
    EXPECT_TRUE(VerifyConsistency(v.old_size, v.new_size, H(kRoots[v.old_size]),
                                  H(kRoots[v.new_size]), *proof));
    if (!proof->empty()) {
      // Swapped roots, a flipped bit and a dropped node must all fail.
      EXPECT_FALSE(VerifyConsistency(v.old_size, v.new_size, H(kRoots[v.new_size]),
                                     H(kRoots[v.old_size]), *proof));
      auto flipped = *proof;
      flipped[0][0] ^= 0x10;
      EXPECT_FALSE(VerifyConsistency(v.old_size, v.new_size, H(kRoots[v.old_size]),
                                     H(kRoots[v.new_size]), flipped));
      auto shorter = *proof;
      shorter.pop_back();
      EXPECT_FALSE(VerifyConsistency(v.old_size, v.new_size, H(kRoots[v.old_size]),
                                     H(kRoots[v.new_size]), shorter));
    }
  }
}

std::vector<Hash> SyntheticLeaves(int n) {
  std::vector<Hash> leaves;
  for (int i = 0; i < n; ++i) leaves.push_back(LeafHash("record " + std::to_string(i)));
  return leaves;
}

TEST(AuditMerkle, EveryInclusionProofOfTreesUpTo70Verifies) {
  auto all = SyntheticLeaves(70);
  const Hash wrong_leaf = LeafHash("not in the tree");
  for (uint64_t size = 1; size <= 70; ++size) {
    Hash root = RootOf(std::span<const Hash>(all).first(size));
    for (uint64_t i = 0; i < size; ++i) {
      auto path = InclusionPath(all, i, size);
      ASSERT_TRUE(path.ok());
      ASSERT_TRUE(VerifyInclusion(all[i], i, size, *path, root)) << i << "/" << size;
      EXPECT_FALSE(VerifyInclusion(wrong_leaf, i, size, *path, root)) << i << "/" << size;
      if (size > 1) {
        uint64_t other = (i + 1) % size;
        EXPECT_FALSE(VerifyInclusion(all[i], other, size, *path, root)) << i << "/" << size;
        EXPECT_FALSE(VerifyInclusion(all[other], i, size, *path, root)) << i << "/" << size;
      }
      // A wrong tree height (the probe transparency-dev/merkle uses).
      EXPECT_FALSE(VerifyInclusion(all[i], i, size * 2, *path, root)) << i << "/" << size;
      if (!path->empty()) {
        auto bad = *path;
        bad.back()[31] ^= 1;
        EXPECT_FALSE(VerifyInclusion(all[i], i, size, bad, root));
      }
    }
    EXPECT_FALSE(VerifyInclusion(all[0], size, size, {}, root));
    EXPECT_FALSE(InclusionPath(all, size, size).ok());
  }
}

// The one-pass paths are the recursive definition's, leaf for leaf, whatever the tree's shape;
// out-of-range indexes are refused as a whole.
TEST(AuditMerkle, BatchedInclusionPathsEqualTheRecursiveOnes) {
  auto all = SyntheticLeaves(70);
  for (uint64_t n = 1; n <= 70; ++n) {
    std::vector<uint64_t> indexes;
    for (uint64_t m = n; m-- > 0;) indexes.push_back(m);  // any order, here reversed
    auto paths = InclusionPaths(all, indexes, n);
    ASSERT_TRUE(paths.ok()) << paths.status().ToString();
    ASSERT_EQ(paths->size(), indexes.size());
    for (size_t i = 0; i < indexes.size(); ++i) {
      auto one = InclusionPath(all, indexes[i], n);
      ASSERT_TRUE(one.ok());
      EXPECT_EQ((*paths)[i], *one) << "leaf " << indexes[i] << " of " << n;
    }
  }
  const std::vector<uint64_t> beyond = {0, 5};
  EXPECT_FALSE(InclusionPaths(all, beyond, 5).ok());
  EXPECT_FALSE(InclusionPaths(all, std::vector<uint64_t>{0}, 71).ok());
}

TEST(AuditMerkle, EveryConsistencyProofOfTreesUpTo40Verifies) {
  auto all = SyntheticLeaves(40);
  std::vector<Hash> roots;
  for (size_t n = 0; n <= all.size(); ++n) {
    roots.push_back(RootOf(std::span<const Hash>(all).first(n)));
  }
  for (uint64_t m = 0; m <= 40; ++m) {
    for (uint64_t n = m; n <= 40; ++n) {
      auto proof = ConsistencyProof(all, m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], *proof)) << m << "->" << n;
      if (m > 0 && m < n) {
        Hash other = roots[m == 1 ? 2 : m - 1];
        EXPECT_FALSE(VerifyConsistency(m, n, other, roots[n], *proof)) << m << "->" << n;
      }
    }
  }
  EXPECT_FALSE(ConsistencyProof(all, 5, 4).ok());
  EXPECT_FALSE(VerifyConsistency(5, 4, roots[5], roots[4], {}));
}

TEST(AuditMerkle, CompactTreeAgreesWithTheRecursiveDefinition) {
  auto all = SyntheticLeaves(300);
  CompactTree tree;
  for (size_t n = 1; n <= all.size(); ++n) {
    tree.Append(all[n - 1]);
    ASSERT_EQ(tree.Root(), RootOf(std::span<const Hash>(all).first(n))) << n;
  }
  EXPECT_EQ(tree.size(), 300u);
}

TEST(AuditMerkle, HashFromHexRejectsWhatIsNotAHash) {
  EXPECT_FALSE(HashFromHex("abc").ok());
  EXPECT_FALSE(HashFromHex(std::string(63, 'a') + "g").ok());
  EXPECT_TRUE(HashFromHex(std::string(64, 'A')).ok());
}

}  // namespace
}  // namespace rampart::audit
