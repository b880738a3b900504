//! mission.md's `## Questions` section (design §6: `planning -> awaiting_answers`): the
//! planner's `ask_user` writes `- Q:` / `  A:` pairs under it, the person answers on the `A:`
//! lines, the planner reads the answers back and the editor opens mission.md at the heading.
//! Pure text in, text out; `folder::append_questions` writes the file.

/// One question of mission.md's `## Questions` section and its answer (empty when none).
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub question: String,
    pub answer: String,
}

impl Question {
    pub fn is_answered(&self) -> bool {
        !self.answer.is_empty()
    }
}

fn is_heading(line: &str) -> bool {
    line.trim_end().eq_ignore_ascii_case("## questions")
}

fn is_section_start(line: &str) -> bool {
    line.starts_with("# ") || line.starts_with("## ")
}

/// The `- Q:` / `  A:` pairs under `## Questions`. An answer may go on over the following
/// indented lines.
pub fn parse(mission_md: &str) -> Vec<Question> {
    let mut out: Vec<Question> = Vec::new();
    let mut inside = false;
    let mut in_answer = false;
    for line in mission_md.lines() {
        if is_section_start(line) {
            inside = is_heading(line);
            in_answer = false;
            continue;
        }
        if !inside {
            continue;
        }
        let trimmed = line.trim_start();
        if let Some(q) = trimmed.strip_prefix("- Q:") {
            out.push(Question { question: q.trim().to_string(), answer: String::new() });
            in_answer = false;
        } else if let (Some(a), Some(last)) = (trimmed.strip_prefix("A:"), out.last_mut()) {
            last.answer = a.trim().to_string();
            in_answer = true;
        } else if in_answer && line.starts_with(char::is_whitespace) && !trimmed.is_empty() {
            if let Some(last) = out.last_mut() {
                if !last.answer.is_empty() {
                    last.answer.push(' ');
                }
                last.answer.push_str(trimmed);
            }
        } else if trimmed.is_empty() {
            in_answer = false;
        }
    }
    out
}

/// How many questions have no answer yet.
pub fn unanswered(mission_md: &str) -> usize {
    parse(mission_md).iter().filter(|q| !q.is_answered()).count()
}

/// The 0-based line of the `## Questions` heading.
pub fn heading_line(mission_md: &str) -> Option<usize> {
    mission_md.lines().position(is_heading)
}

/// `mission_md` with `questions` appended to its `## Questions` section (made at the end when
/// missing), each with an empty answer line for the person to fill in.
pub fn append(mission_md: &str, questions: &[String]) -> String {
    let mut block = String::new();
    for q in questions {
        let q = q.trim().replace('\n', " ");
        block.push_str(&format!("- Q: {q}\n  A: \n"));
    }
    let lines: Vec<&str> = mission_md.split_inclusive('\n').collect();
    match lines.iter().position(|l| is_heading(l)) {
        Some(h) => {
            let end = lines[h + 1..].iter().position(|l| is_section_start(l)).map_or(lines.len(), |i| h + 1 + i);
            let mut before: String = lines[..end].concat();
            if !before.ends_with('\n') {
                before.push('\n');
            }
            format!("{before}{block}{}", lines[end..].concat())
        }
        None => {
            let mut t = mission_md.to_string();
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            if !t.is_empty() {
                t.push('\n');
            }
            format!("{t}## Questions\n\n{block}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_and_answers_are_read_from_their_section_only() {
        let md = "# Goal\n- Q: not a question\n\n## Questions\n\n- Q: Which shell?\n  A: POSIX sh\n- Q: Integers only?\n  A: yes,\n    and negative ones too\n- Q: Output format?\n  A: \n\n## Notes\n- Q: ignored\n  A: x\n";
        assert_eq!(
            parse(md),
            vec![
                Question { question: "Which shell?".into(), answer: "POSIX sh".into() },
                Question { question: "Integers only?".into(), answer: "yes, and negative ones too".into() },
                Question { question: "Output format?".into(), answer: String::new() },
            ]
        );
        assert_eq!(unanswered(md), 1);
        assert!(parse("no section\n- Q: x\n").is_empty());
    }

    #[test]
    fn questions_land_in_their_section_before_the_next_one() {
        let md = "# Goal\nBuild it.\n\n## Questions\n- Q: old\n  A: yes\n\n## Notes\nn\n";
        assert_eq!(
            append(md, &["Which database?".into()]),
            "# Goal\nBuild it.\n\n## Questions\n- Q: old\n  A: yes\n\n- Q: Which database?\n  A: \n## Notes\nn\n"
        );
        assert_eq!(append("", &["a?".into(), "b?".into()]), "## Questions\n\n- Q: a?\n  A: \n- Q: b?\n  A: \n");
        // What is written reads back.
        assert_eq!(
            parse(&append("# Goal\n", &["c?".into()])),
            vec![Question { question: "c?".into(), answer: String::new() }]
        );
    }

    #[test]
    fn the_heading_is_found_for_the_editor() {
        assert_eq!(heading_line("# Goal\n\ntext\n\n## Questions\n- Q: a?\n  A:\n"), Some(4));
        assert_eq!(heading_line("# Goal\n"), None);
    }
}
