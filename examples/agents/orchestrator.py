#!/usr/bin/env python3
"""An example `provider = "command"` orchestrator for `missions` (see docs/agents.md).

It plays the role for the toy mission of examples/agents/README.md ("shout": print the
arguments in upper case). Where a real agent would think, this one follows a script; what it
reads and prints is the real protocol:

- planning (the task starts with `# Plan this mission`): ask the person one question when
  asking is allowed and nothing was answered yet (`{"questions": [...]}`); otherwise write
  the plan files into the mission folder itself (validation-contract.md first, then
  features.json, AGENTS.md, architecture.md, services.yaml and the skill), then print
  `{"planDone": true}`; `missions` lints the plan and refuses one that does not check;
- after a failed validation round (the task starts with `# Validation round`): add a fix
  feature for every assertion that did not pass at the top of features.json, keeping the
  rest of the file, then print `{"planDone": true}`.
"""

import json
import os
import re

from missions_prompt import finish, read_prompt, say

QUESTION = "Should shout keep punctuation as it is (yes), or drop it (no)?"

CONTRACT = """# Validation contract: shout

{decision}

## Area: Command line

### VAL-SHOUT-001: Shouting one word
The user runs `sh shout.sh hello` and sees `HELLO`.
Tool: terminal
Evidence: output(sh shout.sh hello)
Check: test "$(sh shout.sh hello)" = HELLO

### VAL-SHOUT-002: Shouting several words
The user runs `sh shout.sh make some noise!` and sees `MAKE SOME NOISE!`, the words in the order given.
Tool: terminal
Evidence: output(sh shout.sh make some noise!)
Check: test "$(sh shout.sh make some noise!)" = "MAKE SOME NOISE!"
"""


def feature(fid, description, fulfills, preconditions):
    # droid's keys, in droid's order.
    return {
        "id": fid,
        "description": description,
        "skillName": "shell",
        "preconditions": preconditions,
        "expectedBehavior": [description],
        "fulfills": fulfills,
        "milestone": "cli",
        "status": "pending",
        "workerSessionIds": [],
        "currentWorkerSessionId": None,
        "completedWorkerSessionId": None,
    }


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def plan(prompt):
    answers = prompt.task_section("## Your questions and the person's answers")
    if not answers and prompt.questions_allowed():
        say("asking the person before planning")
        finish({"questions": [QUESTION]})
        return
    answer = re.search(r"^\s*A: (.*)$", answers, re.M)
    decision = f"Decided with the person: {answer.group(1).strip()}" if answer and answer.group(1).strip() else "Assumed: punctuation is kept as it is."
    m = prompt.mission_dir
    # The contract first: what "done" means, before any feature exists.
    write(os.path.join(m, "validation-contract.md"), CONTRACT.format(decision=decision))
    say("wrote validation-contract.md")
    features = [
        feature("shout-word", "`sh shout.sh WORD` prints WORD in upper case", ["VAL-SHOUT-001"], []),
        feature("shout-words", "`sh shout.sh WORDS...` prints all the words in upper case, in order", ["VAL-SHOUT-002"], ["shout-word is complete"]),
    ]
    write(os.path.join(m, "features.json"), json.dumps({"features": features}, indent=2))
    write(os.path.join(m, "AGENTS.md"), "# AGENTS.md\n\n## Mission Boundaries (NEVER VIOLATE)\nPOSIX sh only; no other dependencies.\n\n## Mission Directives\nOne script, shout.sh; its tests under tests/; `sh test.sh` runs them all.\n\n## Testing & Validation Guidance\nWrite the test first and watch it fail.\n")
    write(os.path.join(m, "architecture.md"), "# Architecture\n\nshout.sh prints its arguments in upper case. test.sh runs tests/test_*.sh.\n")
    write(os.path.join(m, "services.yaml"), "commands:\n  test: sh test.sh\nservices: {}\n")
    write(os.path.join(m, "skills/shell/SKILL.md"), "---\nname: shell\ndescription: POSIX shell features of shout\n---\n## Work Procedure\n1. Write tests/test_<feature>.sh and watch it fail.\n2. Change shout.sh until `sh test.sh` passes.\n3. Commit.\n")
    say("wrote features.json, AGENTS.md, architecture.md, services.yaml and skills/shell/SKILL.md")
    finish({"planDone": True})


def fix(prompt):
    failing = re.findall(r"^- (VAL-[A-Z0-9-]+-\d{3,}) \(([a-z]+)\): (.*)$", prompt.task_section("## Assertions that did not pass"), re.M)
    milestone = re.search(r"of milestone `([^`]+)`", prompt.task)
    path = os.path.join(prompt.mission_dir, "features.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    queue = data["features"] if isinstance(data, dict) else data
    known = {f["id"] for f in queue}
    fixes = []
    for assertion, status, why in failing:
        fid = f"fix-{assertion.lower()}"
        if fid in known:
            fid = f"{fid}-{len(known)}"
        fixed = feature(fid, f"{assertion} is {status}: {why.strip()}; make it pass", [], [])
        del fixed["fulfills"]  # fix features claim no assertion
        fixed["milestone"] = milestone.group(1) if milestone else fixed["milestone"]
        fixes.append(fixed)
    # At the top of the queue: they run before the validators run again.
    queue[:0] = fixes
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=2))
    say(f"added {len(fixes)} fix feature(s)")
    finish({"planDone": True})


def main():
    prompt = read_prompt()
    if prompt.final_tool != "submit_plan":
        raise SystemExit(f"this is the orchestrator's script; the prompt asks for {prompt.final_tool}")
    if prompt.task.startswith("# Plan this mission"):
        plan(prompt)
    else:
        fix(prompt)


if __name__ == "__main__":
    main()
