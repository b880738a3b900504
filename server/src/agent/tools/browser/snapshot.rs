//! The page as the model reads it: Chromium's accessibility tree (`Accessibility.getFullAXTree`)
//! rendered as an indented outline, `- role "name" [ref=e3]`, like agent-browser's snapshot.
//! Refs name DOM nodes for the rest of the session: an element seen in two snapshots keeps
//! its ref, so the model can act on a ref from an earlier snapshot while the element exists.

use std::collections::HashMap;

use serde_json::Value;

/// Stable refs (`e1`, `e2`…) for the DOM nodes snapshots showed.
#[derive(Debug, Default)]
pub struct RefTable {
    by_node: HashMap<i64, u32>,
    by_ref: HashMap<u32, (i64, String)>,
    next: u32,
    /// The document the refs belong to (counted by the page's navigations).
    document: u64,
}

impl RefTable {
    /// Starts the refs of another document: earlier refs stop resolving, and numbers are
    /// never reused, so an old ref cannot name a new element.
    pub fn set_document(&mut self, document: u64) {
        if document != self.document {
            self.document = document;
            self.by_node.clear();
            self.by_ref.clear();
        }
    }

    pub fn document(&self) -> u64 {
        self.document
    }

    /// Why `reference` names nothing now.
    pub fn why_unknown(&self, reference: &str) -> String {
        let number = reference.trim().trim_start_matches('[').trim_end_matches(']');
        let number = number.strip_prefix("ref=").unwrap_or(number);
        let number = number.strip_prefix('@').unwrap_or(number);
        match number.strip_prefix('e').and_then(|n| n.parse::<u32>().ok()) {
            Some(n) if n <= self.next => {
                format!("{reference} was on an earlier page (the page has navigated since); take a new snapshot")
            }
            _ => format!("no element has ref `{reference}`; take a snapshot to see the refs"),
        }
    }

    /// The ref of a DOM node (its `backendDOMNodeId`), given one the first time it is seen.
    pub fn ref_for(&mut self, backend_node: i64, describe: &str) -> String {
        let n = match self.by_node.get(&backend_node) {
            Some(&n) => n,
            None => {
                self.next += 1;
                self.by_node.insert(backend_node, self.next);
                self.next
            }
        };
        self.by_ref.insert(n, (backend_node, describe.to_string()));
        format!("e{n}")
    }

    /// The node and its description for `e3` (also `@e3`, `ref=e3`, `[ref=e3]`).
    pub fn node(&self, reference: &str) -> Option<(i64, &str)> {
        let r = reference.trim().trim_start_matches('[').trim_end_matches(']');
        let r = r.strip_prefix("ref=").unwrap_or(r);
        let r = r.strip_prefix('@').unwrap_or(r);
        let n: u32 = r.strip_prefix('e')?.parse().ok()?;
        self.by_ref.get(&n).map(|(node, d)| (*node, d.as_str()))
    }
}

/// Roles drawn only through their children when they have no name.
const STRUCTURAL: [&str; 7] =
    ["generic", "none", "presentation", "InlineTextBox", "LineBreak", "LayoutTable", "LabelText"];
/// Boolean states shown when true.
const STATES: [&str; 8] = ["checked", "disabled", "expanded", "selected", "required", "focused", "invalid", "pressed"];

/// Renders the tree; at most `max_bytes` (a last line says how much was left out).
pub fn render(nodes: &[Value], refs: &mut RefTable, max_bytes: usize) -> String {
    let by_id: HashMap<&str, &Value> = nodes.iter().filter_map(|n| Some((n["nodeId"].as_str()?, n))).collect();
    let Some(root) = nodes.iter().find(|n| n.get("parentId").is_none()).or(nodes.first()) else {
        return "(the page has no accessibility tree yet)".to_string();
    };
    let mut out = String::new();
    let mut left_out = 0usize;
    // (node, depth, the name of the nearest line drawn above it)
    let mut stack: Vec<(&Value, usize, String)> = vec![(root, 0, String::new())];
    while let Some((node, depth, parent_name)) = stack.pop() {
        let role = node["role"]["value"].as_str().unwrap_or_default();
        let name = node["name"]["value"].as_str().unwrap_or_default().trim();
        let ignored = node["ignored"].as_bool().unwrap_or(false);
        let skip = ignored || (name.is_empty() && STRUCTURAL.contains(&role)) || role == "InlineTextBox";
        let mut child_depth = depth;
        let mut child_parent = parent_name.clone();
        if !skip {
            let line = if role == "StaticText" {
                // Text that only repeats its link or button's name says nothing new.
                (!name.is_empty() && !parent_name.contains(name)).then(|| format!("- text: {}", quote(name)))
            } else {
                Some(element_line(node, role, name, refs))
            };
            if let Some(line) = line {
                if out.len() + line.len() + depth * 2 < max_bytes {
                    out.push_str(&"  ".repeat(depth));
                    out.push_str(&line);
                    out.push('\n');
                } else {
                    left_out += 1;
                }
                child_depth = depth + 1;
                child_parent = name.to_string();
            }
        }
        let children: Vec<&Value> =
            node["childIds"].as_array().into_iter().flatten().filter_map(|c| by_id.get(c.as_str()?).copied()).collect();
        for child in children.into_iter().rev() {
            stack.push((child, child_depth, child_parent.clone()));
        }
    }
    if left_out > 0 {
        out.push_str(&format!("… {left_out} more line(s) left out; use `text` or a screenshot for the rest\n"));
    }
    if out.is_empty() {
        out.push_str("(the page shows nothing)\n");
    }
    out
}

fn element_line(node: &Value, role: &str, name: &str, refs: &mut RefTable) -> String {
    let role = if role == "RootWebArea" { "document" } else { role };
    let mut line = format!("- {role}");
    if !name.is_empty() {
        line.push(' ');
        line.push_str(&quote(name));
    }
    if let Some(backend) = node["backendDOMNodeId"].as_i64().filter(|_| role != "document") {
        let describe = if name.is_empty() { role.to_string() } else { format!("{role} {}", quote(name)) };
        line.push_str(&format!(" [ref={}]", refs.ref_for(backend, &describe)));
    }
    for p in node["properties"].as_array().into_iter().flatten() {
        let (Some(key), value) = (p["name"].as_str(), &p["value"]["value"]) else { continue };
        match (key, value) {
            ("level", Value::Number(n)) => line.push_str(&format!(" [level={n}]")),
            ("checked" | "pressed", Value::String(s)) if s == "mixed" => line.push_str(&format!(" [{key}=mixed]")),
            ("checked" | "pressed", Value::String(s)) if s == "true" => line.push_str(&format!(" [{key}]")),
            (k, Value::Bool(true)) if STATES.contains(&k) => line.push_str(&format!(" [{k}]")),
            _ => {}
        }
    }
    if let Some(value) = node["value"]["value"].as_str().filter(|v| !v.is_empty()) {
        line.push_str(&format!(": {}", quote(value)));
    }
    line
}

fn quote(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = one_line.chars().take(200).collect();
    let more = if cut.len() < one_line.len() { "…" } else { "" };
    format!("\"{}{more}\"", cut.replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(id: &str, parent: Option<&str>, role: &str, name: &str, backend: Option<i64>, children: &[&str]) -> Value {
        let mut n = json!({"nodeId": id, "ignored": false, "role": {"type": "role", "value": role}, "name": {"type": "computedString", "value": name}, "childIds": children});
        if let Some(p) = parent {
            n["parentId"] = json!(p);
        }
        if let Some(b) = backend {
            n["backendDOMNodeId"] = json!(b);
        }
        n
    }

    /// The shape Chromium answers for a small login page.
    fn login_page() -> Vec<Value> {
        let mut heading = node("3", Some("2"), "heading", "Sign in", Some(11), &["4"]);
        heading["properties"] = json!([{"name": "level", "value": {"type": "integer", "value": 1}}]);
        let mut email = node("6", Some("5"), "textbox", "Email", Some(13), &[]);
        email["value"] = json!({"type": "string", "value": "ada@example.com"});
        email["properties"] = json!([{"name": "focused", "value": {"type": "booleanOrUndefined", "value": true}}, {"name": "required", "value": {"type": "boolean", "value": false}}]);
        let mut ignored = node("9", Some("2"), "generic", "", Some(16), &[]);
        ignored["ignored"] = json!(true);
        vec![
            node("1", None, "RootWebArea", "Login", Some(1), &["2"]),
            node("2", Some("1"), "generic", "", Some(10), &["3", "5", "9", "10"]),
            heading,
            node("4", Some("3"), "StaticText", "Sign in", None, &[]),
            node("5", Some("2"), "form", "", Some(12), &["6", "7"]),
            email,
            node("7", Some("5"), "button", "Log in", Some(14), &["8"]),
            node("8", Some("7"), "StaticText", "Log in", None, &[]),
            ignored,
            node("10", Some("2"), "paragraph", "", Some(17), &["11"]),
            node("11", Some("10"), "StaticText", "Forgot your \"password\"?", None, &[]),
        ]
    }

    #[test]
    fn the_tree_reads_as_an_outline_with_refs() {
        let mut refs = RefTable::default();
        let text = render(&login_page(), &mut refs, 10_000);
        insta::assert_snapshot!(text, @r#"
        - document "Login"
          - heading "Sign in" [ref=e1] [level=1]
          - form [ref=e2]
            - textbox "Email" [ref=e3] [focused]: "ada@example.com"
            - button "Log in" [ref=e4]
          - paragraph [ref=e5]
            - text: "Forgot your \"password\"?"
        "#);
        assert_eq!(refs.node("e3"), Some((13, "textbox \"Email\"")));
        assert_eq!(refs.node("@e4").map(|n| n.0), Some(14));
        assert_eq!(refs.node("[ref=e1]").map(|n| n.0), Some(11));
        assert_eq!(refs.node("e99"), None);
        assert_eq!(refs.node("button"), None);
        refs.set_document(1);
        assert_eq!(refs.node("e3"), None);
        assert_eq!(
            refs.why_unknown("e3"),
            "e3 was on an earlier page (the page has navigated since); take a new snapshot"
        );
        assert_eq!(refs.why_unknown("e9"), "no element has ref `e9`; take a snapshot to see the refs");
        render(&login_page(), &mut refs, 10_000);
        assert_eq!(refs.node("e6").map(|n| n.0), Some(11), "a new document's refs never reuse numbers");
    }

    #[test]
    fn refs_stay_with_their_elements_and_long_pages_are_cut() {
        let mut refs = RefTable::default();
        render(&login_page(), &mut refs, 10_000);
        // The next snapshot: the heading is gone, a new link came first; old refs hold.
        let again = vec![
            node("1", None, "RootWebArea", "Login", Some(1), &["2", "3"]),
            node("2", Some("1"), "link", "Help", Some(20), &[]),
            node("3", Some("1"), "button", "Log in", Some(14), &[]),
        ];
        let text = render(&again, &mut refs, 10_000);
        assert_eq!(text, "- document \"Login\"\n  - link \"Help\" [ref=e6]\n  - button \"Log in\" [ref=e4]\n");
        let cut = render(&login_page(), &mut refs, 60);
        assert!(cut.ends_with("… 5 more line(s) left out; use `text` or a screenshot for the rest\n"), "{cut}");
        assert_eq!(render(&[], &mut refs, 100), "(the page has no accessibility tree yet)");
    }
}
