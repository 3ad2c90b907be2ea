//! Disjoint sets over `0..n` (path halving, union by index), for the link components.

pub(super) struct UnionFind(Vec<usize>);
impl UnionFind {
    pub(super) fn new(n: usize) -> Self {
        UnionFind((0..n).collect())
    }
    pub(super) fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    pub(super) fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}
