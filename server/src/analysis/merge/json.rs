//! Field-level three-way merge of JSON documents over the spanned parser: objects merge by
//! key, arrays whose elements are objects with unique string `id`s (features) merge by id,
//! every other value is replaced whole. Only the bytes of changed values are edited, so the
//! person's formatting and other edits stay as they are.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::{Edit, Mirror};
use crate::model::json::{self, JsonKind, JsonMember, JsonValue};

/// None when any of the three is not clean JSON (the caller merges lines instead).
pub fn mirror(base: &str, ours: &str, theirs: &str) -> Option<Mirror> {
    let (b, o, t) = (clean(base)?, clean(ours)?, clean(theirs)?);
    let mut merger = Merger { ours, theirs, crlf: ours.contains("\r\n"), out: Mirror::default() };
    merger.value(&b, &o, &t, "");
    Some(merger.out)
}

fn clean(text: &str) -> Option<JsonValue<'_>> {
    let parsed = json::parse(text);
    if parsed.errors.is_empty() {
        parsed.value
    } else {
        None
    }
}

/// A member of an object or an element of an id-keyed array.
struct Item<'v, 'a> {
    key: &'v str,
    /// The whole item: `"key": value` or the element.
    span: Range<usize>,
    value: &'v JsonValue<'a>,
}

#[derive(Clone, Copy)]
enum Nesting {
    Member,
    Element,
}

impl Nesting {
    fn child(self, path: &str, key: &str) -> String {
        match (self, path.is_empty()) {
            (Nesting::Member, true) => key.to_string(),
            (Nesting::Member, false) => format!("{path}.{key}"),
            (Nesting::Element, _) => format!("{path}[{key}]"),
        }
    }
}

fn members<'v, 'a>(members: &'v [JsonMember<'a>]) -> Vec<Item<'v, 'a>> {
    members.iter().map(|m| Item { key: &m.key, span: m.key_span.start..m.value.span.end, value: &m.value }).collect()
}

/// The elements by id, when every one is an object with a string `id` and no id repeats.
fn elements<'v, 'a>(elements: &'v [JsonValue<'a>]) -> Option<Vec<Item<'v, 'a>>> {
    let mut seen = HashSet::new();
    elements
        .iter()
        .map(|e| {
            let id = e.get("id")?.value.as_str()?;
            seen.insert(id).then(|| Item { key: id, span: e.span.clone(), value: e })
        })
        .collect()
}

struct Merger<'s> {
    ours: &'s str,
    theirs: &'s str,
    /// The buffer's line ending: what is inserted follows it.
    crlf: bool,
    out: Mirror,
}

impl Merger<'_> {
    fn value(&mut self, b: &JsonValue, o: &JsonValue, t: &JsonValue, path: &str) {
        if same(b, t) || same(o, t) {
            return;
        }
        let nested = match (&b.kind, &o.kind, &t.kind) {
            (JsonKind::Object(bm), JsonKind::Object(om), JsonKind::Object(tm)) => {
                Some((members(bm), members(om), members(tm), Nesting::Member))
            }
            (JsonKind::Array(bi), JsonKind::Array(oi), JsonKind::Array(ti)) => {
                match (elements(bi), elements(oi), elements(ti)) {
                    (Some(bi), Some(oi), Some(ti)) => Some((bi, oi, ti, Nesting::Element)),
                    _ => None,
                }
            }
            _ => None,
        };
        match nested {
            Some((bi, oi, ti, nesting)) => self.items(b, o, t, &bi, &oi, &ti, path, nesting),
            None if same(o, b) => self.replace(o, t),
            None => self.conflict(path),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn items(
        &mut self,
        b: &JsonValue,
        o: &JsonValue,
        t: &JsonValue,
        bi: &[Item],
        oi: &[Item],
        ti: &[Item],
        path: &str,
        nesting: Nesting,
    ) {
        let (b_at, o_at, t_at) = (positions(bi), positions(oi), positions(ti));
        let find = |list: &HashMap<&str, usize>, key: &str| list.get(key).copied();
        // Items theirs removed: gone from ours too unless the person changed them.
        let mut removed = vec![false; oi.len()];
        for (k, item) in oi.iter().enumerate() {
            if let (Some(at), None) = (find(&b_at, item.key), find(&t_at, item.key)) {
                if same(bi[at].value, item.value) {
                    removed[k] = true;
                } else {
                    self.conflict(&format!("{} (the runner removed it)", nesting.child(path, item.key)));
                }
            }
        }
        // Items theirs added, each after the kept item of ours that precedes it in theirs.
        let mut inserts: Vec<(Option<usize>, &Item)> = Vec::new();
        for (k, item) in ti.iter().enumerate() {
            if find(&b_at, item.key).is_none() && find(&o_at, item.key).is_none() {
                let anchor = ti[..k].iter().rev().find_map(|p| find(&o_at, p.key).filter(|&at| !removed[at]));
                inserts.push((anchor, item));
            }
        }
        if !inserts.is_empty() && removed.iter().all(|r| *r) {
            // Nothing of ours stays to anchor to: the container is replaced whole, if ours is base.
            match same(o, b) {
                true => self.replace(o, t),
                false => self.conflict(path),
            }
            return;
        }
        if let Nesting::Element = nesting {
            let in_all = |k: &str| b_at.contains_key(k) && o_at.contains_key(k) && t_at.contains_key(k);
            let (b_order, o_order, t_order) = (order_of(bi, in_all), order_of(oi, in_all), order_of(ti, in_all));
            if t_order != b_order && o_order == b_order {
                // The runner reordered (droid moves a completed feature to the bottom, a fix to
                // the top) and the person did not: the buffer takes the runner's order.
                self.reordered(bi, oi, ti, &removed, o, path);
                return;
            }
            if t_order != b_order && o_order != t_order {
                self.conflict(&format!("{} (order)", if path.is_empty() { "the list" } else { path }));
            }
        }
        for item in ti {
            let child = nesting.child(path, item.key);
            match (find(&b_at, item.key), find(&o_at, item.key)) {
                (Some(bb), Some(oo)) => self.value(bi[bb].value, oi[oo].value, item.value, &child),
                (Some(bb), None) if !same(bi[bb].value, item.value) => {
                    self.conflict(&format!("{child} (you removed it)"))
                }
                (None, Some(oo)) if !same(oi[oo].value, item.value) => self.conflict(&child),
                _ => {}
            }
        }
        let spans: Vec<Range<usize>> = oi.iter().map(|i| i.span.clone()).collect();
        for span in removal_spans(&spans, &removed) {
            self.out.edits.push(super::Edit { span, text: String::new() });
        }
        let multiline = self.ours[o.span.clone()].contains('\n');
        let first_kept = removed.iter().position(|r| !*r).expect("some item is kept");
        for (anchor, item) in inserts {
            let text = self.theirs_text(item.span.clone());
            let edit = match anchor {
                Some(at) => Edit {
                    span: spans[at].end..spans[at].end,
                    text: format!("{}{text}", self.separator(multiline, spans[at].start)),
                },
                None => Edit {
                    span: spans[first_kept].start..spans[first_kept].start,
                    text: format!("{text}{}", self.separator(multiline, spans[first_kept].start)),
                },
            };
            self.out.edits.push(edit);
        }
    }

    /// The array's elements rewritten in theirs' order, each merged: elements both kept are
    /// merged field by field, elements the runner added come as it wrote them, elements only
    /// the person has stay (at the end).
    fn reordered(&mut self, bi: &[Item], oi: &[Item], ti: &[Item], removed: &[bool], o: &JsonValue, path: &str) {
        let (b_at, o_at, t_at) = (positions(bi), positions(oi), positions(ti));
        let multiline = self.ours[o.span.clone()].contains('\n');
        let separator = self.separator(multiline, oi[0].span.start);
        let mut pieces = Vec::with_capacity(ti.len());
        for item in ti {
            let child = Nesting::Element.child(path, item.key);
            match (b_at.get(item.key), o_at.get(item.key)) {
                (Some(&bb), Some(&oo)) => {
                    pieces.push(self.merged_text(bi[bb].value, oi[oo].value, item.value, &child, oi[oo].span.clone()))
                }
                (None, None) => pieces.push(self.theirs_text(item.span.clone())),
                (Some(&bb), None) => {
                    if !same(bi[bb].value, item.value) {
                        self.conflict(&format!("{child} (you removed it)"));
                    }
                }
                (None, Some(&oo)) => {
                    if !same(oi[oo].value, item.value) {
                        self.conflict(&child);
                    }
                    pieces.push(self.ours[oi[oo].span.clone()].to_string());
                }
            }
        }
        for (k, item) in oi.iter().enumerate() {
            if !t_at.contains_key(item.key) && !removed[k] {
                pieces.push(self.ours[item.span.clone()].to_string());
            }
        }
        let span = oi[0].span.start..oi[oi.len() - 1].span.end;
        self.out.edits.push(Edit { span, text: pieces.join(&separator) });
    }

    /// The text of one element of ours (at `span`) with theirs' changes merged in.
    fn merged_text(&mut self, b: &JsonValue, o: &JsonValue, t: &JsonValue, path: &str, span: Range<usize>) -> String {
        let mut element = Merger { ours: self.ours, theirs: self.theirs, crlf: self.crlf, out: Mirror::default() };
        element.value(b, o, t, path);
        self.out.conflicts.append(&mut element.out.conflicts);
        let mut edits = element.out.edits;
        edits.sort_by_key(|e| (e.span.start, e.span.end));
        let relative: Vec<Edit> = edits
            .into_iter()
            .map(|e| Edit { span: e.span.start - span.start..e.span.end - span.start, text: e.text })
            .collect();
        super::apply(&self.ours[span], &relative)
    }

    /// `,` then a new line indented like the item at `like`, or `, ` in a one-line container.
    fn separator(&self, multiline: bool, like: usize) -> String {
        if !multiline {
            return ", ".to_string();
        }
        let line_start = crate::model::lines::line_start(self.ours, like);
        let line = &self.ours[line_start..];
        let newline = if self.crlf { "\r\n" } else { "\n" };
        format!(",{newline}{}", &line[..line.len() - line.trim_start_matches([' ', '\t']).len()])
    }

    /// A piece of theirs as the buffer writes line endings.
    fn theirs_text(&self, span: Range<usize>) -> String {
        let text = &self.theirs[span];
        match (self.crlf, text.contains("\r\n")) {
            (true, false) => text.replace('\n', "\r\n"),
            (false, true) => text.replace("\r\n", "\n"),
            _ => text.to_string(),
        }
    }

    fn replace(&mut self, o: &JsonValue, t: &JsonValue) {
        self.out.edits.push(Edit { span: o.span.clone(), text: self.theirs_text(t.span.clone()) });
    }

    fn conflict(&mut self, path: &str) {
        self.out.conflicts.push(if path.is_empty() { "the whole file".to_string() } else { path.to_string() });
    }
}

/// The keys of `list` that pass `keep`, in `list`'s order.
fn order_of<'v>(list: &[Item<'v, '_>], keep: impl Fn(&str) -> bool) -> Vec<&'v str> {
    list.iter().map(|i| i.key).filter(|k| keep(k)).collect()
}

/// Where each key sits in `list` (the first of repeated object keys, as `get` finds it).
fn positions<'v>(list: &[Item<'v, '_>]) -> HashMap<&'v str, usize> {
    let mut at = HashMap::with_capacity(list.len());
    for (k, item) in list.iter().enumerate() {
        at.entry(item.key).or_insert(k);
    }
    at
}

/// The bytes that remove the `removed` items with their separators: each with the separator
/// before it, except a leading run, which goes up to the first kept item.
fn removal_spans(items: &[Range<usize>], removed: &[bool]) -> Vec<Range<usize>> {
    let lead = removed.iter().take_while(|r| **r).count();
    let mut spans = Vec::new();
    if lead > 0 {
        let end = items.get(lead).map_or(items[lead - 1].end, |kept| kept.start);
        spans.push(items[0].start..end);
    }
    for k in lead..items.len() {
        if removed[k] {
            spans.push(items[k - 1].end..items[k].end);
        }
    }
    spans
}

/// Equal as JSON: object members in any order, numbers by value.
fn same(a: &JsonValue, b: &JsonValue) -> bool {
    match (&a.kind, &b.kind) {
        (JsonKind::Null, JsonKind::Null) => true,
        (JsonKind::Bool(x), JsonKind::Bool(y)) => x == y,
        (JsonKind::Number(x), JsonKind::Number(y)) => {
            x == y || x.parse::<f64>().ok().zip(y.parse::<f64>().ok()).is_some_and(|(p, q)| p == q)
        }
        (JsonKind::String(x), JsonKind::String(y)) => x == y,
        (JsonKind::Array(x), JsonKind::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (JsonKind::Object(x), JsonKind::Object(y)) if x.len() != y.len() => false,
        (JsonKind::Object(x), JsonKind::Object(y)) if x.len() <= 16 => {
            x.iter().all(|m| y.iter().find(|n| n.key == m.key).is_some_and(|n| same(&m.value, &n.value)))
        }
        (JsonKind::Object(x), JsonKind::Object(y)) => {
            let by_key: HashMap<&str, &JsonValue> = y.iter().rev().map(|n| (n.key.as_ref(), &n.value)).collect();
            x.iter().all(|m| by_key.get(m.key.as_ref()).is_some_and(|n| same(&m.value, n)))
        }
        _ => false,
    }
}
