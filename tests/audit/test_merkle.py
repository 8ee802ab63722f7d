"""RFC 6962 Merkle tree: published vectors, the RFC's worked example, and a recursive reference."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit import merkle

# Leaf inputs and tree heads published with the Certificate Transparency test vectors
# (transparency-dev/merkle testonly/constants.go).
CT_INPUTS = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _h(hex_digest: str) -> bytes:
    return bytes.fromhex(hex_digest)


# The node names of RFC 6962 section 2.1.3's seven-leaf figure, with the published subtree hashes.
A = _h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
B = _h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")
C = _h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7")
D = _h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7")
E = _h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")
F = _h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658")
J = _h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f")  # the seventh leaf, d6
G = _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")
H = _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e")
I = _h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a")  # noqa: E741  # the RFC's name
K = _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")


def _ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(bytes([1]) + left + right).digest()


L = _ref_node(I, J)
CT_LEAVES = [hashlib.sha256(b"\0" + d).digest() for d in CT_INPUTS]
SEVEN = CT_LEAVES[:7]


# A reference written straight from the RFC's recursive definitions, deliberately unlike the module's loops.
def _ref_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_root(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _ref_k(len(d))
    return _ref_node(ref_root(d[:k]), ref_root(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _ref_k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_root(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_root(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_root(d)]
    k = _ref_k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_root(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_root(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True) if 0 < m < len(d) else []


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(b"entry %d" % i) for i in range(n)]


def _flip(node: bytes) -> bytes:
    return bytes([node[0] ^ 1]) + node[1:]


def test_leaf_and_node_hashes_use_the_rfc_prefixes() -> None:
    assert merkle.leaf_hash(b"") == A
    assert merkle.node_hash(A, B) == G


def test_roots_match_the_published_tree_heads() -> None:
    for n in range(len(CT_LEAVES) + 1):
        assert merkle.root(CT_LEAVES[:n]) == CT_ROOTS[n], n
    assert merkle.root(SEVEN) == _ref_node(K, L)


def test_rfc6962_inclusion_paths_for_the_seven_leaf_tree() -> None:
    expected = {0: [B, H, L], 3: [C, G, L], 4: [F, J, K], 6: [I, K]}
    for index, path in expected.items():
        assert merkle.inclusion_proof(SEVEN, index, 7) == path, index
        assert merkle.verify_inclusion(SEVEN[index], index, 7, path, CT_ROOTS[7])


def test_rfc6962_consistency_proofs_for_the_seven_leaf_tree() -> None:
    expected = {3: [C, D, G, L], 4: [L], 6: [I, J, K]}
    for first, proof in expected.items():
        assert merkle.consistency_proof(SEVEN, first, 7) == proof, first
        assert merkle.verify_consistency(first, 7, CT_ROOTS[first], CT_ROOTS[7], proof)


def test_published_proofs_for_the_eight_leaf_tree() -> None:
    d37e, ca85 = K, _h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0")
    six_b = _h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")
    assert merkle.inclusion_proof(CT_LEAVES, 0, 8) == [B, H, six_b]
    assert merkle.inclusion_proof(CT_LEAVES, 5, 8) == [E, ca85, d37e]
    assert merkle.consistency_proof(CT_LEAVES, 2, 8) == [H, six_b]
    assert merkle.consistency_proof(CT_LEAVES, 6, 8) == [I, ca85, d37e]
    assert merkle.consistency_proof(CT_LEAVES, 2, 5) == [H, E]
    assert merkle.verify_consistency(2, 5, CT_ROOTS[2], CT_ROOTS[5], [H, E])


def test_trivial_consistency_needs_an_empty_proof() -> None:
    root = CT_ROOTS[5]
    assert merkle.consistency_proof(CT_LEAVES, 5, 5) == []
    assert merkle.verify_consistency(5, 5, root, root, [])
    assert not merkle.verify_consistency(5, 5, root, CT_ROOTS[6], [])
    assert not merkle.verify_consistency(5, 5, root, root, [root])
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [])
    assert not merkle.verify_consistency(0, 5, root, root, [])
    assert not merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [root])
    assert not merkle.verify_consistency(3, 5, CT_ROOTS[3], root, [])


def test_impossible_sizes_are_rejected() -> None:
    leaf = CT_LEAVES[0]
    assert not merkle.verify_inclusion(leaf, 7, 7, [B, H, L], CT_ROOTS[7])
    assert not merkle.verify_inclusion(leaf, -1, 7, [B, H, L], CT_ROOTS[7])
    assert not merkle.verify_inclusion(leaf, 0, 0, [], merkle.EMPTY_ROOT)
    assert not merkle.verify_consistency(7, 6, CT_ROOTS[7], CT_ROOTS[6], [I, J, K])
    assert not merkle.verify_consistency(-1, 6, CT_ROOTS[0], CT_ROOTS[6], [])
    assert not merkle.verify_inclusion(leaf, 0, 7, [B, H, L[:31]], CT_ROOTS[7])
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(SEVEN, 7, 7)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(SEVEN, 0, 8)
    with pytest.raises(ValueError, match="outside"):
        merkle.consistency_proof(SEVEN, 6, 5)


def test_a_proof_for_another_position_is_refused_even_when_its_hashes_chain_to_the_root() -> None:
    a, b, c = CT_LEAVES[:3]
    ab, root3, root4 = _ref_node(a, b), CT_ROOTS[3], CT_ROOTS[4]
    assert merkle.verify_inclusion(c, 2, 3, [ab], root3)
    # node(ab, c) is the size-3 root, but leaf 1's proof must have two nodes.
    assert not merkle.verify_inclusion(c, 1, 3, [ab], root3)
    # A proof that runs past the top of the tree: leaf c as a one-leaf tree, "extended" by ab.
    assert not merkle.verify_inclusion(c, 0, 1, [ab], root3)
    # Consistency 2 -> 4 is [cd]; a checkpoint claiming size 5 with the size-4 root must not pass with it.
    cd = _ref_node(CT_LEAVES[2], CT_LEAVES[3])
    assert merkle.verify_consistency(2, 4, CT_ROOTS[2], root4, [cd])
    for size in (5, 6, 7, 8):
        assert not merkle.verify_consistency(2, size, CT_ROOTS[2], root4, [cd])


def test_small_trees_exhaustively() -> None:
    # Every proof, claimed for every position and size with that size's true root, holds only where it is genuine.
    d = _leaves(16)
    roots = [ref_root(d[:n]) for n in range(17)]
    paths = {(i, n): ref_path(i, d[:n]) for n in range(1, 17) for i in range(n)}
    for (i, n), proof in paths.items():
        for j, size in paths:
            expected = i == j and proof == paths[(j, size)]
            assert merkle.verify_inclusion(d[i], j, size, proof, roots[size]) == expected, (i, n, j, size)
    proofs = {(m, n): ref_proof(m, d[:n]) for n in range(1, 17) for m in range(n + 1)}
    for (m, n), proof in proofs.items():
        assert merkle.consistency_proof(d, m, n) == proof
        for m2, n2 in proofs:
            expected = proof == proofs[(m2, n2)]
            assert merkle.verify_consistency(m2, n2, roots[m2], roots[n2], proof) == expected, (m, n, m2, n2)


def _inclusion_candidates(d: list[bytes], index: int, genuine: list[bytes]) -> list[list[bytes]]:
    n = len(d)
    candidates = [genuine, [*genuine, genuine[-1] if genuine else d[0]], [d[0], *genuine]]
    if genuine:
        candidates += [genuine[1:], genuine[:-1], [_flip(genuine[0]), *genuine[1:]], genuine[::-1]]
    candidates += [ref_path(i, d) for i in {0, n - 1, index ^ 1} if 0 <= i < n and i != index]
    if n > 1:
        candidates.append(ref_path(min(index, n - 2), d[: n - 1]))
    candidates.append(ref_path(index, [*d, merkle.leaf_hash(b"extra")]))
    return candidates


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_inclusion_matches_the_reference_and_accepts_only_the_genuine_proof(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 300), label="size")
    index = data.draw(st.integers(0, n - 1), label="index")
    d = _leaves(n)
    root = ref_root(d)
    genuine = ref_path(index, d)
    assert merkle.root(d) == root
    assert merkle.inclusion_proof(d, index, n) == genuine
    for candidate in _inclusion_candidates(d, index, genuine):
        assert merkle.verify_inclusion(d[index], index, n, candidate, root) == (candidate == genuine)
    assert not merkle.verify_inclusion(_flip(d[index]), index, n, genuine, root)
    assert not merkle.verify_inclusion(d[index], index, n, genuine, _flip(root))
    for other in range(n + 1):
        if other != index:
            assert not merkle.verify_inclusion(d[index], other, n, genuine, root)
    # Extra nodes past the root are refused even when they hash to the root offered with them.
    extra = merkle.leaf_hash(b"extra")
    assert not merkle.verify_inclusion(d[index], index, n, [*genuine, extra], _ref_node(extra, root))
    # Checked at another size, against that size's root, the proof holds only if that size's genuine proof is the same.
    extended = [*d, merkle.leaf_hash(b"extra")]
    for size in (n - 1, n + 1):
        if index < size:
            expected = ref_path(index, extended[:size]) == genuine
            assert merkle.verify_inclusion(d[index], index, size, genuine, ref_root(extended[:size])) == expected


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_consistency_matches_the_reference_and_accepts_only_the_genuine_proof(data: st.DataObject) -> None:
    second = data.draw(st.integers(1, 300), label="second")
    first = data.draw(st.integers(1, second), label="first")
    d = _leaves(second)
    old, new = ref_root(d[:first]), ref_root(d)
    genuine = ref_proof(first, d)
    assert merkle.consistency_proof(d, first, second) == genuine
    candidates = [genuine, [*genuine, new], [old, *genuine]]
    if genuine:
        candidates += [genuine[1:], genuine[:-1], [*genuine[:-1], _flip(genuine[-1])], genuine[::-1]]
    if first > 1:
        candidates.append(ref_proof(first - 1, d))
    if first < second - 1:
        candidates.append(ref_proof(first + 1, d))
    candidates.append(ref_proof(first, [*d, merkle.leaf_hash(b"extra")]))
    for candidate in candidates:
        assert merkle.verify_consistency(first, second, old, new, candidate) == (candidate == genuine)
    assert not merkle.verify_consistency(first, second, _flip(old), new, genuine)
    assert not merkle.verify_consistency(first, second, old, _flip(new), genuine)
    if first < second:
        # A log that rewrote an old entry cannot prove its new tree extends the old one.
        forked = [*d[: first - 1], merkle.leaf_hash(b"rewritten"), *d[first:]]
        assert not merkle.verify_consistency(first, second, old, ref_root(forked), ref_proof(first, forked))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 300), st.lists(st.integers(0, 320), max_size=6))
def test_builder_and_roots_at_agree_with_the_reference(n: int, sizes: list[int]) -> None:
    d = _leaves(n)
    builder = merkle.TreeBuilder()
    assert builder.root() == merkle.EMPTY_ROOT
    for i, leaf in enumerate(d):
        builder.append(leaf)
        if i % 37 == 0 or i == n - 1:
            assert builder.root() == ref_root(d[: i + 1])
    assert builder.size == n
    assert merkle.roots_at(iter(d), sizes) == {s: ref_root(d[:s]) for s in sizes if s <= n}


def test_roots_at_every_published_size_in_one_pass() -> None:
    assert merkle.roots_at(iter(CT_LEAVES), [*range(9), 9, 100]) == dict(enumerate(CT_ROOTS))


def test_builder_refuses_what_is_not_a_hash() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        merkle.TreeBuilder().append(b"entry bytes, not their hash")
