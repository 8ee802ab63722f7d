"""RFC 6962 / RFC 9162 Merkle tree: hashes, roots, inclusion and consistency proofs.

Standard library only, so the offline verifier can ship it unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || entry)."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


_NODE_PREFIX = _sha256(b"\x01")


def _node_from_prefix(left: bytes, right: bytes) -> bytes:
    # Copying a hash already fed the prefix saves a concatenation per node on the hot path.
    h = _NODE_PREFIX.copy()
    h.update(left)
    h.update(right)
    return h.digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a non-empty range, level by level.

    Pairing left to right and carrying an odd last node up unchanged builds exactly
    RFC 6962's left-balanced tree, and keeps the work in one list comprehension per
    level instead of one Python call per node.
    """
    level = list(leaf_hashes[lo:hi])
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        level = [_node_from_prefix(left, right) for left, right in zip(level[0::2], level[1::2], strict=False)]
        if odd is not None:
            level.append(odd)
    return level[0]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash (MTH) of the given leaf hashes; the empty tree hashes to SHA-256("")."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def _check_size(leaf_hashes: Sequence[bytes], size: int) -> None:
    if size < 0 or size > len(leaf_hashes):
        raise ValueError(f"tree size {size} is outside 0..{len(leaf_hashes)}")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:tree_size]): sibling hashes from the leaf up to the root."""
    _check_size(leaf_hashes, tree_size)
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside 0..{tree_size - 1}")
    proof: list[bytes] = []
    lo, hi = 0, tree_size
    # Walk down from the root; siblings are found top-down but the proof lists them bottom-up.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_root(leaf_hashes, lo, lo + k))
            lo = lo + k
    proof.reverse()
    return proof


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """RFC 9162 PROOF(first, D[0:second]); empty when first is 0 or equals second."""
    _check_size(leaf_hashes, second)
    if not 0 <= first <= second:
        raise ValueError(f"first size {first} is outside 0..{second}")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    lo, hi, m = 0, second, first
    complete = True  # RFC 9162's flag b: the old tree is a whole subtree of the new one so far
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_root(leaf_hashes, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(_range_root(leaf_hashes, lo, hi))
    proof.reverse()
    return proof


def _well_formed(proof: Sequence[bytes], *hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in (*proof, *hashes))


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does `proof` show leaf hash `leaf` at `index` under `root_hash`?"""
    if not 0 <= index < tree_size or not _well_formed(proof, leaf, root_hash):
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree of size `first` a prefix of the tree of size `second`?"""
    if not 0 <= first <= second or not _well_formed(proof, first_root, second_root):
        return False
    if first == 0:
        # Every tree extends the empty one; a proof here would be padding an attacker chose.
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class TreeBuilder:
    """Append-only tree that keeps only the roots of its full subtrees: O(log n) memory."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, merging the full subtrees it completes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        stack = self._stack
        h = leaf
        n = self._size
        # Each trailing 1 bit of the old size is a full subtree the new leaf now completes.
        while n & 1:
            h = _sha256(b"\x01" + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self._size += 1

    def root(self) -> bytes:
        """MTH of the leaves so far: fold the subtree roots from the smallest (rightmost) up."""
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def roots_at(leaf_hashes: Iterable[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """Roots at each requested size, in one pass; sizes beyond the number of leaves are absent."""
    wanted = set(sizes)
    if any(s < 0 for s in wanted):
        raise ValueError("tree sizes are non-negative")
    builder = TreeBuilder()
    found: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in wanted else {}
    last = max(wanted, default=0)
    for leaf in leaf_hashes:
        if builder.size >= last:
            break
        builder.append(leaf)
        if builder.size in wanted:
            found[builder.size] = builder.root()
    return found
