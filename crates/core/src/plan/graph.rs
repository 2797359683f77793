//! The ticket dependency graph: transitive reduction, a deterministic
//! topological order, and the cycle that blocks one when there is one.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// A cycle among tickets: the ticket ids in order, the first repeated at the end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("these tickets depend on each other in a circle: {}", .0.join(" -> "))]
pub struct Cycle(pub Vec<String>);

/// A directed graph over ticket indices: `needs[a]` holds what `a` needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// For each node, the nodes it needs.
    pub needs: Vec<BTreeSet<usize>>,
}

impl Graph {
    /// An empty graph of `n` nodes.
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self {
            needs: vec![BTreeSet::new(); n],
        }
    }

    /// Adds `from` needs `to` (self-edges are ignored).
    pub fn add(&mut self, from: usize, to: usize) {
        if from != to {
            self.needs[from].insert(to);
        }
    }

    /// A topological order (what is needed comes first), ties broken by `rank`
    /// (smallest first); or the cycle that prevents one.
    ///
    /// # Errors
    /// [`Cycle`] naming the nodes (through `name`) of one cycle.
    pub fn order<K: Ord + Clone>(
        &self,
        rank: impl Fn(usize) -> K,
        name: impl Fn(usize) -> String,
    ) -> Result<Vec<usize>, Cycle> {
        let n = self.needs.len();
        let mut missing: Vec<usize> = self.needs.iter().map(BTreeSet::len).collect();
        let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (from, tos) in self.needs.iter().enumerate() {
            for &to in tos {
                needed_by[to].push(from);
            }
        }
        let mut ready: BinaryHeap<Reverse<(K, usize)>> = (0..n)
            .filter(|&i| missing[i] == 0)
            .map(|i| Reverse((rank(i), i)))
            .collect();
        let mut out = Vec::with_capacity(n);
        while let Some(Reverse((_, i))) = ready.pop() {
            out.push(i);
            for &j in &needed_by[i] {
                missing[j] -= 1;
                if missing[j] == 0 {
                    ready.push(Reverse((rank(j), j)));
                }
            }
        }
        if out.len() == n {
            return Ok(out);
        }
        Err(Cycle(
            self.find_cycle(&missing).into_iter().map(name).collect(),
        ))
    }

    /// One cycle among the nodes still waiting (`missing > 0`).
    fn find_cycle(&self, missing: &[usize]) -> Vec<usize> {
        let Some(start) = (0..self.needs.len()).find(|&i| missing[i] > 0) else {
            return Vec::new();
        };
        // Every waiting node needs at least one waiting node: walk until a repeat.
        let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
        let mut path = Vec::new();
        let mut at = start;
        loop {
            if let Some(&pos) = seen.get(&at) {
                let mut cycle = path[pos..].to_vec();
                cycle.push(at);
                return cycle;
            }
            seen.insert(at, path.len());
            path.push(at);
            match self.needs[at].iter().find(|&&j| missing[j] > 0) {
                Some(&next) => at = next,
                None => return path,
            }
        }
    }

    /// The graph without edges implied by others: `a` keeps `c` only when no
    /// other path leads from `a` to `c`. Requires an acyclic graph and its order.
    #[must_use]
    pub fn reduced(&self, order: &[usize]) -> Graph {
        let n = self.needs.len();
        let mut position = vec![0; n];
        for (p, &i) in order.iter().enumerate() {
            position[i] = p;
        }
        // reach[i]: every node i needs, directly or not (computed in order, needs first).
        let mut reach: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        let mut out = Graph::new(n);
        for &i in order {
            let mut direct: Vec<usize> = self.needs[i].iter().copied().collect();
            // Latest-built first: a later need may already cover an earlier one.
            direct.sort_by_key(|&j| Reverse(position[j]));
            let mut covered: BTreeSet<usize> = BTreeSet::new();
            for &j in &direct {
                if covered.contains(&j) {
                    continue;
                }
                out.needs[i].insert(j);
                covered.insert(j);
                covered.extend(reach[j].iter().copied());
            }
            reach[i] = covered;
        }
        out
    }

    /// Whether `from` needs `to`, directly or through others.
    #[must_use]
    pub fn reaches(&self, from: usize, to: usize) -> bool {
        let mut stack = vec![from];
        let mut seen = BTreeSet::new();
        while let Some(i) = stack.pop() {
            for &j in &self.needs[i] {
                if j == to {
                    return true;
                }
                if seen.insert(j) {
                    stack.push(j);
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_puts_needs_first_and_breaks_ties_by_rank() {
        let mut g = Graph::new(4);
        g.add(0, 1); // 0 needs 1
        g.add(2, 1);
        let order = g.order(|i| [3, 0, 1, 2][i], |i| i.to_string()).unwrap();
        assert_eq!(order, vec![1, 2, 3, 0]);
    }

    #[test]
    fn cycles_are_named() {
        let mut g = Graph::new(3);
        g.add(0, 1);
        g.add(1, 2);
        g.add(2, 1);
        let err = g.order(|i| i, |i| format!("t{i}")).unwrap_err();
        assert_eq!(err.0.first(), err.0.last());
        assert!(err.0.contains(&"t1".to_owned()) && err.0.contains(&"t2".to_owned()));
        assert!(!err.0.contains(&"t0".to_owned()));
        assert!(err.to_string().contains("->"));
    }

    #[test]
    fn reduction_drops_implied_edges_only() {
        let mut g = Graph::new(3);
        g.add(0, 1);
        g.add(1, 2);
        g.add(0, 2);
        let order = g.order(|i| i, |i| i.to_string()).unwrap();
        let r = g.reduced(&order);
        assert_eq!(r.needs[0], BTreeSet::from([1]));
        assert!(r.reaches(0, 2));
    }
}
