"""The README's promises: the Quick start's test command is what CI runs, and its API example works."""

import re

from sora_core.registry import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    quick = re.search(r"## Quick start\n\n```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert len(quick) == 2 and "studio.py" in quick[0]
    assert quick[1] == "bash tests/run_all.sh"
    assert "exec bash tests/run_all.sh" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_the_api_example_runs_against_a_studio(studio, capsys):
    url, engine = studio
    example = re.search(r"## API\n.*?```python\n(.*?)```", README, re.S).group(1)
    exec(example.replace("http://127.0.0.1:7860/", url), {})  # noqa: S102 - our own README
    printed = capsys.readouterr().out
    assert "Done: 16 frames" in printed
    assert len(engine.library.clips()) == 2  # the clip and its extension
