#!/usr/bin/env python3
"""An example `provider = "command"` validator for `missions` (see docs/agents.md).

One `[roles.validator]` command plays both validators; the prompt's final tool says which:

- `submit_review` (scrutiny): run the project's tests (services.yaml `commands.test`) and
  review every feature listed under `## The features to review`: `pass` when the tests pass,
  else `fail` with a blocking issue;
- `submit_validation` (user testing): report every assertion under `## Assertions`, taking
  the runner's own `Check:` results as they are (they are ground truth) and citing their
  output files as evidence (paths relative to the mission's evidence/ folder); an assertion
  without a check is `blocked`, with the reason.

A real validator would read the diff and the handoffs, and use the system as a user does.
Validators never fix anything; they may write only under the mission's evidence/ folder.
"""

import os
import re
import subprocess

from missions_prompt import finish, read_prompt, say


def test_command(mission_dir):
    try:
        with open(os.path.join(mission_dir, "services.yaml"), encoding="utf-8") as f:
            found = re.search(r"^\s+test:\s*(.+)$", f.read(), re.M)
    except OSError:
        found = None
    return found.group(1).strip().strip("'\"") if found else "sh test.sh"


def scrutiny(prompt):
    command = test_command(prompt.mission_dir)
    done = subprocess.run(command, shell=True, capture_output=True, text=True)
    passed = done.returncode == 0
    say(f"$ {command} -> exit {done.returncode}")
    # Saved where the prompt says command output goes.
    where = re.search(r"^Save command output you rely on under (\S+) ", prompt.task, re.M)
    if where:
        os.makedirs(where.group(1), exist_ok=True)
        with open(os.path.join(where.group(1), "tests.txt"), "w", encoding="utf-8") as f:
            f.write(done.stdout + done.stderr)
    reviews = []
    for fid in re.findall(r"^- ([^:\s]+):", prompt.task_section("## The features to review"), re.M):
        issues = [] if passed else [{"severity": "blocking", "description": f"`{command}` fails: {(done.stdout + done.stderr).strip()[-200:]}"}]
        reviews.append({"featureId": fid, "status": "pass" if passed else "fail", "summary": f"{fid}: the tests {'pass' if passed else 'fail'}", "issues": issues})
    finish({
        "salientSummary": f"Reviewed {len(reviews)} feature(s); `{command}` {'passes' if passed else 'fails'}.",
        "reviews": reviews,
        "validatorsRun": {"test": {"passed": passed, "command": command, "exitCode": done.returncode}},
    })


def user_testing(prompt):
    assertions = re.findall(r"^#{1,6} (VAL-[A-Z0-9-]+-\d{3,}):", prompt.task_section("## Assertions"), re.M)
    checks = {m[0]: (m[1], m[2]) for m in re.findall(r"^- (VAL-[A-Z0-9-]+-\d{3,}): (pass|fail|blocked) \(output: evidence/(\S+)\)", prompt.task, re.M)}
    results = []
    for aid in assertions:
        if aid not in checks:
            results.append({"id": aid, "status": "blocked", "steps": [{"action": "look for a Check: command", "observed": "none"}], "evidence": [], "issues": "no Check: command, and this example cannot test by hand"})
            continue
        status, evidence = checks[aid]
        result = {"id": aid, "status": status, "steps": [{"action": f"the runner's Check: of {aid}", "observed": status}], "evidence": [evidence]}
        if status != "pass":
            result["issues"] = f"the runner's Check: command {'failed' if status == 'fail' else 'could not run'}; see evidence/{evidence}"
        results.append(result)
    passed = sum(1 for r in results if r["status"] == "pass")
    say(f"{passed} of {len(results)} assertions pass")
    finish({"salientSummary": f"{passed} of {len(results)} assertions pass.", "groupId": "main", "toolsUsed": ["terminal"], "assertions": results})


def main():
    prompt = read_prompt()
    if prompt.final_tool == "submit_review":
        scrutiny(prompt)
    elif prompt.final_tool == "submit_validation":
        user_testing(prompt)
    else:
        raise SystemExit(f"this is the validators' script; the prompt asks for {prompt.final_tool}")


if __name__ == "__main__":
    main()
