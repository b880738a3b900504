"""Reading the prompt `missions` sends a `provider = "command"` agent on stdin.

The prompt is Markdown in three parts (docs/agents.md has the details):

    <the role's instructions>
    Working directory: /abs/path/of/the/repository
    Mission folder: /abs/path/of/the/mission/folder
    Your final tool: `submit_handoff`.

    # Your task

    <what this session must do: the feature, the milestone to review, the plan to write...>

    # How to finish

    <the final JSON object's schema>

The example agents next to this file use these helpers; a real agent would hand the whole
prompt to its model instead.
"""

import json
import re
import sys


class Prompt:
    def __init__(self, text):
        self.text = text
        self.working_dir = self.line_value("Working directory: ")
        self.mission_dir = self.line_value("Mission folder: ")
        final = re.search(r"^Your final tool: `([a-z_]+)`", text, re.M)
        self.final_tool = final.group(1) if final else None
        self.task = section(text, "# Your task", "# How to finish")
        self.how_to_finish = section(text, "# How to finish", None)

    def line_value(self, prefix):
        for line in self.text.splitlines():
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        return None

    def questions_allowed(self):
        """Whether the planner may ask the person (`missions run --yes` withholds it)."""
        return '{"questions":' in self.how_to_finish

    def task_section(self, heading):
        """The body of a `## heading` of the task, up to the next `## `."""
        return section(self.task, heading, "\n## ")


def section(text, start, end):
    at = text.find(start)
    if at < 0:
        return ""
    body = text[at + len(start):]
    if end is not None:
        stop = body.find(end)
        if stop >= 0:
            body = body[:stop]
    return body.strip("\n")


def read_prompt():
    return Prompt(sys.stdin.read())


def say(text):
    """A progress line: `missions` keeps it as the agent's output (any line that is not the
    final object is fine)."""
    print(text, flush=True)


def finish(final_object):
    """The final object, alone on the last line of stdout."""
    print(json.dumps(final_object), flush=True)
