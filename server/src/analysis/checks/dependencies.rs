//! Dependencies: the `preconditions` entries that name a feature (`calc-add`, `calc-add is
//! complete`; see `model::features::precondition_feature`). One that looks like a feature id
//! but names none is `unknown-dependency`; cycles (iterative Tarjan, so a long chain cannot
//! overflow the stack) and dependencies on a later milestone are reported too. Other entries
//! are free text for the worker.

use std::collections::{HashMap, VecDeque};

use crate::analysis::diagnostic::{Code, Diagnostic, DocKind, Severity};
use crate::analysis::index::MissionIndex;
use crate::model::features::precondition_feature;
use crate::model::FeaturesFile;

pub(super) fn check(file: &FeaturesFile, index: &MissionIndex, out: &mut Vec<Diagnostic>) {
    let order = index.milestone_order();
    // edges[f] = (item index in preconditions, target feature index)
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); file.features.len()];
    let is_feature = |id: &str| !index.feature_indices(id).is_empty();
    for (fi, f) in file.features.iter().enumerate() {
        for (item, entry) in f.preconditions.iter().enumerate() {
            let Some(name) = precondition_feature(&entry.value, is_feature) else { continue };
            let Some(&target) = index.feature_indices(name).first() else {
                out.push(Diagnostic::on(
                    DocKind::Features,
                    entry.span.clone(),
                    Code::UnknownDependency,
                    Severity::Error,
                    format!(
                        "no feature `{name}` in features.json (a precondition that names a feature id is a dependency)"
                    ),
                ));
                continue;
            };
            edges[fi].push((item, target));
            let (Some(mine), Some(theirs)) = (f.milestone(), file.features[target].milestone()) else { continue };
            if let (Some(a), Some(b)) = (order.get(mine), order.get(theirs)) {
                if b > a {
                    out.push(
                        Diagnostic::on(
                            DocKind::Features,
                            entry.span.clone(),
                            Code::MilestoneOrder,
                            Severity::Warning,
                            format!(
                                "`{}` (milestone `{mine}`) depends on `{name}` of the later milestone `{theirs}`",
                                f.id().unwrap_or("?")
                            ),
                        )
                        .with_related(
                            DocKind::Features,
                            file.features[target]
                                .id
                                .as_ref()
                                .map_or(file.features[target].span.clone(), |s| s.span.clone()),
                            format!("`{name}` is in `{theirs}`"),
                        ),
                    );
                }
            }
        }
    }
    let component = strongly_connected(&edges);
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    for &c in &component {
        *sizes.entry(c).or_default() += 1;
    }
    for (fi, f) in file.features.iter().enumerate() {
        for &(item, target) in &edges[fi] {
            let in_cycle = component[fi] == component[target] && (sizes[&component[fi]] > 1 || target == fi);
            if !in_cycle {
                continue;
            }
            let path = cycle_path(&edges, &component, target, fi);
            let names: Vec<&str> =
                std::iter::once(fi).chain(path).map(|i| file.features[i].id().unwrap_or("?")).collect();
            out.push(Diagnostic::on(
                DocKind::Features,
                f.preconditions[item].span.clone(),
                Code::DependencyCycle,
                Severity::Error,
                format!("dependency cycle: {}", cycle_text(&names)),
            ));
        }
    }
}

/// Features a cycle's message names at each end, at most: a cycle through thousands of
/// features is told by its start and its end, not by every member in every message.
const CYCLE_ENDS: usize = 4;

fn cycle_text(names: &[&str]) -> String {
    if names.len() <= 2 * CYCLE_ENDS + 1 {
        return names.join(" -> ");
    }
    let (head, tail) = (&names[..CYCLE_ENDS], &names[names.len() - CYCLE_ENDS..]);
    format!(
        "{} -> … {} more … -> {}",
        head.join(" -> "),
        super::thousands(names.len() - 2 * CYCLE_ENDS),
        tail.join(" -> ")
    )
}

/// Shortest path from `from` back to `to` inside their component (inclusive of both ends).
fn cycle_path(edges: &[Vec<(usize, usize)>], component: &[usize], from: usize, to: usize) -> Vec<usize> {
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    prev.insert(from, from);
    while let Some(n) = queue.pop_front() {
        if n == to {
            let mut path = vec![to];
            let mut cur = to;
            while cur != from {
                cur = prev[&cur];
                path.push(cur);
            }
            path.reverse();
            return path;
        }
        for &(_, m) in &edges[n] {
            if component[m] == component[from] && !prev.contains_key(&m) {
                prev.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    vec![from, to]
}

/// Component id of every node (Tarjan's algorithm with an explicit stack).
fn strongly_connected(edges: &[Vec<(usize, usize)>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut stack = Vec::new();
    let mut next_index = 0;
    let mut next_component = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // Frames: (node, position in its edge list).
        let mut frames = vec![(root, 0usize)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = frames.last_mut() {
            if let Some(&(_, w)) = edges[v].get(*pos) {
                *pos += 1;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    frames.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                frames.pop();
                if let Some(&(parent, _)) = frames.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component[w] = next_component;
                        if w == v {
                            break;
                        }
                    }
                    next_component += 1;
                }
            }
        }
    }
    component
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        // 0 -> 1 -> 2 -> 0, 3 -> 3, 4 -> 0
        let edges = vec![vec![(0, 1)], vec![(0, 2)], vec![(0, 0)], vec![(0, 3)], vec![(0, 0)]];
        let c = strongly_connected(&edges);
        assert!(c[0] == c[1] && c[1] == c[2]);
        assert!(c[3] != c[0] && c[4] != c[0] && c[4] != c[3]);
        assert_eq!(cycle_path(&edges, &c, 1, 0), vec![1, 2, 0]);
    }

    #[test]
    fn a_long_chain_does_not_overflow() {
        let n = 200_000;
        let edges: Vec<Vec<(usize, usize)>> = (0..n).map(|i| vec![(0, (i + 1) % n)]).collect();
        let c = strongly_connected(&edges);
        assert!(c.iter().all(|&x| x == c[0]));
    }
}
