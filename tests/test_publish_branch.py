"""publish never commits onto a checked-out branch, nor onto one with commits it did not make."""
import pytest

from generator.errors import UserError
from generator.site.publish import publish
from test_site_publish import git, project, quiet  # noqa: F401  (the fixture)


def test_publish_to_the_checked_out_branch_is_refused_and_changes_nothing(project):  # noqa: F811
    cfg, bare = project
    head, status = git("rev-parse", "main", cwd=cfg.root), git("status", "--porcelain", cwd=cfg.root)
    index = (cfg.root / ".git" / "index").read_bytes()
    for push in (False, True):
        with pytest.raises(UserError) as e:
            publish(cfg, branch="main", push=push, allow_stale=True, force_branch=True, log=quiet)
        assert str(e.value).startswith("publish refused: main is checked out") and "\n" not in str(e.value)
    assert git("rev-parse", "main", cwd=cfg.root) == head
    assert git("status", "--porcelain", cwd=cfg.root) == status
    assert (cfg.root / ".git" / "index").read_bytes() == index
    assert git("branch", "--list", "main", cwd=bare) == ""


def test_a_branch_with_commits_publish_did_not_make_needs_force_branch(project):  # noqa: F811
    cfg, bare = project
    git("branch", "sources", "main", cwd=cfg.root)
    before = git("rev-parse", "sources", cwd=cfg.root)
    with pytest.raises(UserError, match=r"publish refused: sources holds commits publish did not make .*'source'"):
        publish(cfg, branch="sources", push=False, allow_stale=True, log=quiet)
    assert git("rev-parse", "sources", cwd=cfg.root) == before
    # a branch publish made is a publish history (a CNAME commit on top: test_site_publish)
    first = publish(cfg, push=False, allow_stale=True, log=quiet)
    assert publish(cfg, push=False, allow_stale=True, log=quiet) == first
    commit = publish(cfg, branch="sources", push=False, allow_stale=True, force_branch=True, log=quiet)
    assert git("rev-parse", "sources~1", cwd=cfg.root) == before and commit != before


@pytest.mark.parametrize("branch", ["refs/heads/main", "origin/main", "-x", "two words", "a..b"])
def test_a_branch_name_git_would_read_otherwise_is_refused_before_anything(project, branch):  # noqa: F811
    cfg, _ = project
    refs = git("for-each-ref", cwd=cfg.root)
    with pytest.raises(UserError, match="is not a branch name git takes as it is") as e:
        publish(cfg, branch=branch, push=False, allow_stale=True, log=quiet)
    assert "\n" not in str(e.value) and git("for-each-ref", cwd=cfg.root) == refs
