//! The stage graph: dependencies (`needs`, else the previous stage) and a
//! topological order that keeps list order wherever the graph allows it.
//! Linear in stages plus edges.

use std::collections::{BinaryHeap, HashMap};
use std::cmp::Reverse;

use super::model::Pipeline;

/// For each stage, the indices of the stages it waits for. Unknown names in
/// `needs` are skipped here (validation reports them).
pub fn dependencies(p: &Pipeline) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = p.stages.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    p.stages
        .iter()
        .enumerate()
        .map(|(i, s)| match &s.needs {
            Some(needs) => needs.iter().filter_map(|n| index.get(n.name.as_str()).copied()).collect(),
            None if i > 0 => vec![i - 1],
            None => Vec::new(),
        })
        .collect()
}

/// Stage indices in dependency order, or the stages of one cycle, in order
/// (the first repeated at the end).
pub fn order(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut indegree = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            indegree[i] += 1;
            dependents[d].push(i);
        }
    }
    // Kahn's algorithm with the smallest index first: list order when free.
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        out.push(i);
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    if out.len() == n {
        Ok(out)
    } else {
        Err(find_cycle(deps, &indegree))
    }
}

/// A cycle among the stages Kahn's algorithm could not free.
fn find_cycle(deps: &[Vec<usize>], indegree: &[usize]) -> Vec<usize> {
    // Every stuck stage depends on another stuck stage: walk dependencies
    // from one until a stage repeats.
    let Some(start) = (0..deps.len()).find(|&i| indegree[i] > 0) else { return Vec::new() };
    let mut seen_at: HashMap<usize, usize> = HashMap::new();
    let mut path = Vec::new();
    let mut at = start;
    loop {
        if let Some(&k) = seen_at.get(&at) {
            let mut cycle: Vec<usize> = path[k..].to_vec();
            // We walked dependency edges (backwards); present it as "runs
            // before", starting from the stage listed first.
            cycle.reverse();
            if let Some(first) = cycle.iter().enumerate().min_by_key(|(_, s)| **s).map(|(i, _)| i) {
                cycle.rotate_left(first);
            }
            cycle.push(cycle[0]);
            return cycle;
        }
        seen_at.insert(at, path.len());
        path.push(at);
        match deps[at].iter().copied().find(|&d| indegree[d] > 0) {
            Some(next) => at = next,
            None => return path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_order_is_kept_when_free() {
        assert_eq!(order(&[vec![], vec![0], vec![1]]), Ok(vec![0, 1, 2]));
        assert_eq!(order(&[vec![2], vec![], vec![]]), Ok(vec![1, 2, 0]));
    }

    #[test]
    fn a_cycle_is_named_in_order() {
        // 0 needs 2, 1 needs 0, 2 needs 1: 0 -> 1 -> 2 -> 0.
        let cycle = order(&[vec![2], vec![0], vec![1]]).unwrap_err();
        assert_eq!(cycle.len(), 4);
        assert_eq!(cycle.first(), cycle.last());
        for w in cycle.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert!([vec![2], vec![0], vec![1]][b].contains(&a), "{cycle:?}");
        }
    }
}
