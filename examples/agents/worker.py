#!/usr/bin/env python3
"""An example `provider = "command"` worker for `missions` (see docs/agents.md).

It runs in the working directory (the repository, on the mission's branch). It reads its
feature from the prompt (the ```json block under `## Feature`), does the work, runs the
tests, commits, and prints the handoff (the arguments of `submit_handoff`, droid's
`EndFeatureRun`) as the last line. A `success` names the commit; `missions` accepts it only
when that commit is one of this session's, its diff is not empty, the test files it lists
exist and nothing is left uncommitted.

The work itself is scripted for the toy mission of examples/agents/README.md; a real agent
would do it with its model. A feature it has no script for gets an honest `failure`.
"""

import json
import os
import re
import subprocess

from missions_prompt import finish, read_prompt, say

# What a real agent would write: per feature, the files (tests first).
WORK = {
    "shout-word": {
        "tests/test_shout_word.sh": '[ "$(sh shout.sh hello)" = HELLO ] || { echo "shout hello is not HELLO"; exit 1; }\n',
        "shout.sh": 'printf \'%s\\n\' "$1" | tr \'[:lower:]\' \'[:upper:]\'\n',
    },
    "shout-words": {
        "tests/test_shout_words.sh": '[ "$(sh shout.sh make some noise!)" = "MAKE SOME NOISE!" ] || { echo "several words are not shouted in order"; exit 1; }\n',
        "shout.sh": 'printf \'%s\\n\' "$*" | tr \'[:lower:]\' \'[:upper:]\'\n',
    },
}

TEST_RUNNER = 'set -e\nfor t in tests/test_*.sh; do sh "$t"; done\necho "all tests passed"\n'


def run(command):
    done = subprocess.run(command, shell=True, capture_output=True, text=True)
    say(f"$ {command} -> exit {done.returncode}")
    return done


def main():
    prompt = read_prompt()
    if prompt.final_tool != "submit_handoff":
        raise SystemExit(f"this is the worker's script; the prompt asks for {prompt.final_tool}")
    block = re.search(r"## Feature\n\n```json\n(.*?)\n```", prompt.task, re.S)
    feature = json.loads(block.group(1))
    fid = feature["id"]
    files = WORK.get(fid)
    if files is None:
        finish({
            "featureId": fid,
            "successState": "failure",
            "returnToOrchestrator": True,
            "salientSummary": f"{fid}: this example worker has no script for the feature; nothing was changed.",
            "whatWasImplemented": "Nothing: the example worker only knows the toy mission's features, and this is not one of them.",
            "whatWasLeftUndone": f"All of {fid}: {feature.get('description', '')}",
            "verification": {"commandsRun": []},
            "tests": {"added": [], "coverage": "none"},
            "discoveredIssues": [{"severity": "blocking", "description": f"no script for {fid}", "suggestedFix": "run a real agent for this role"}],
        })
        return
    for path, text in files.items():
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    if not os.path.exists("test.sh"):
        with open("test.sh", "w", encoding="utf-8") as f:
            f.write(TEST_RUNNER)
    tests = run("sh test.sh")
    commands = [{"command": "sh test.sh", "exitCode": tests.returncode, "observation": (tests.stdout + tests.stderr).strip()[-300:]}]
    if tests.returncode != 0:
        finish({
            "featureId": fid,
            "successState": "failure",
            "returnToOrchestrator": True,
            "salientSummary": f"{fid}: the tests fail after the change; nothing was committed.",
            "whatWasImplemented": f"Wrote {', '.join(files)} for {fid}, but `sh test.sh` fails, so the work was not committed.",
            "whatWasLeftUndone": f"Make `sh test.sh` pass: {commands[0]['observation']}",
            "verification": {"commandsRun": commands},
            "tests": {"added": [], "coverage": "none"},
            "discoveredIssues": [{"severity": "blocking", "description": commands[0]["observation"]}],
        })
        return
    run(f"git add -A && git commit -q -m '{fid}: {feature.get('description', '')[:60]}'")
    commit = run("git rev-parse HEAD").stdout.strip()
    tests_added = [{"file": p, "cases": [{"name": os.path.basename(p), "verifies": feature.get("description", fid)}]} for p in files if p.startswith("tests/")]
    finish({
        "featureId": fid,
        "successState": "success",
        "returnToOrchestrator": False,
        "commitId": commit,
        "salientSummary": f"{fid}: implemented test-first; sh test.sh passes.",
        "whatWasImplemented": f"Wrote {', '.join(files)} for {fid} ({feature.get('description', '')}), test first, and committed it.",
        "whatWasLeftUndone": "",
        "verification": {"commandsRun": commands},
        "tests": {"added": tests_added, "coverage": feature.get("description", fid)},
        "discoveredIssues": [],
        "skillFeedback": {"followedProcedure": True, "deviations": []},
    })


if __name__ == "__main__":
    main()
