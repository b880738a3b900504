//! Line-level three-way merge: each hunk of base -> theirs is carried into ours when ours kept
//! those base lines unchanged and together; otherwise it is a conflict.

use similar::{capture_diff_slices, Algorithm, DiffOp, DiffTag};

use super::{Edit, Mirror};
use crate::model::lines;

pub fn mirror(base: &str, ours: &str, theirs: &str) -> Mirror {
    let base_lines: Vec<&str> = lines::split_inclusive(base).collect();
    let ours_lines: Vec<&str> = lines::split_inclusive(ours).collect();
    let theirs_lines: Vec<&str> = lines::split_inclusive(theirs).collect();
    // Where each unchanged base line sits in ours.
    let mut in_ours: Vec<Option<usize>> = vec![None; base_lines.len()];
    for op in capture_diff_slices(Algorithm::Myers, &base_lines, &ours_lines) {
        if let DiffOp::Equal { old_index, new_index, len } = op {
            for k in 0..len {
                in_ours[old_index + k] = Some(new_index + k);
            }
        }
    }
    let ours_starts = line_starts(&ours_lines);
    let mut result = Mirror::default();
    // similar's Insert ops may carry a stale old_index; the base position is where the
    // previous op ended.
    let mut cursor = 0;
    for op in capture_diff_slices(Algorithm::Myers, &base_lines, &theirs_lines) {
        let (tag, old, new) = op.as_tag_tuple();
        let old = if tag == DiffTag::Insert { cursor..cursor } else { old };
        cursor = old.end;
        if tag == DiffTag::Equal {
            continue;
        }
        let mut text: String = theirs_lines[new.clone()].concat();
        match place(&in_ours, old, ours_lines.len()) {
            Some(lines) => {
                let at_end_without_newline =
                    lines.start == ours_lines.len() && !ours.is_empty() && !ours.ends_with(['\n', '\r']);
                if at_end_without_newline && !text.is_empty() {
                    // The buffer's own line break (the first one it has).
                    let first_break = ours_lines
                        .first()
                        .map(|l| &l[l.trim_end_matches(['\n', '\r']).len()..])
                        .filter(|b| !b.is_empty());
                    text.insert_str(0, first_break.unwrap_or("\n"));
                }
                result.edits.push(Edit { span: ours_starts[lines.start]..ours_starts[lines.end], text });
            }
            None => result.conflicts.push(describe(new)),
        }
    }
    result
}

/// The lines of ours that stand for base lines `old`: all of them unchanged and adjacent. An
/// insertion (`old` empty) goes before the base line it precedes, else after the base line
/// before it; one at the end of base goes at the end of ours.
fn place(in_ours: &[Option<usize>], old: std::ops::Range<usize>, ours_len: usize) -> Option<std::ops::Range<usize>> {
    if old.is_empty() {
        let at = match (in_ours.get(old.start), old.start.checked_sub(1)) {
            (Some(Some(line)), _) => *line,
            // Both sides wrote into an empty file: only an empty buffer takes theirs.
            (None, None) => (ours_len == 0).then_some(0)?,
            (None, Some(_)) => ours_len,
            (Some(None), Some(prev)) => in_ours[prev]? + 1,
            (Some(None), None) => return None,
        };
        return Some(at..at);
    }
    let first = in_ours[old.start]?;
    for (k, line) in in_ours[old.clone()].iter().enumerate() {
        if *line != Some(first + k) {
            return None;
        }
    }
    Some(first..first + old.len())
}

/// Byte offset of each line start of `lines`, plus the end.
fn line_starts(lines: &[&str]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(lines.len() + 1);
    let mut at = 0;
    starts.push(0);
    for line in lines {
        at += line.len();
        starts.push(at);
    }
    starts
}

/// The runner's lines of a conflicting hunk, 1-based, as the person finds them on disk.
fn describe(new: std::ops::Range<usize>) -> String {
    match new.len() {
        0 => format!("the lines it deleted after line {}", new.start),
        1 => format!("line {}", new.start + 1),
        n => format!("lines {}-{}", new.start + 1, new.start + n),
    }
}
