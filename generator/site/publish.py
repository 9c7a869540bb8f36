"""`writeup publish`: commit site/ (and nothing else) to the gh-pages branch and push it.

Uses git plumbing with a private index, so the user's working tree, index and current branch are
never touched. Before anything is committed the site is checked: size, broken links, root-absolute
URLs (they break under https://USER.github.io/REPO/), symlinks, loads from other hosts, and anything
in the built pages that runs code other than the builder's own scripts (checks.active_content); and
its sections must be fresh and not made with the smoke preset (or --allow-stale).
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from generator.config import WriteupConfig
from generator.errors import UserError
from generator.site import checks
from generator.site.build import SIZE_LIMIT, ensure_built

# the tool's own state, shown to the author in a local build; a published page never says it
_BADGE = re.compile(r' ?<span class="badge (?:stale|missing)">(?:stale|missing)</span>')
_FIG_CLASS = re.compile(r'(<figure id="[^"]*" class="fig [^"]*?) stale\b')


def strip_badges(html: str) -> str:
    """The page without its "stale"/"missing" badges (--allow-stale publishes the results, not the labels)."""
    return _FIG_CLASS.sub(r"\1", _BADGE.sub("", html))


def _git(args: list[str], cwd: Path, env: dict | None = None, input: bytes | None = None,
         check: bool = True) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True)
    if check and r.returncode != 0:  # the whole message: a hook's reason is rarely on git's last line
        msg = (r.stderr or r.stdout).decode(errors="replace").strip()
        raise UserError(f"git {args[0]} failed: {msg.replace(chr(10), ' | ') if msg else 'exit ' + str(r.returncode)}")
    return r.stdout.decode().strip() if r.returncode == 0 else ""


def precheck(site: Path, max_bytes: int) -> None:
    """Refuse to publish a site that is missing or would break once served."""
    if not (site / "index.html").is_file():
        raise UserError(f"{site}/index.html is missing: run `writeup build` first")
    problems = checks.check_site(site, max_bytes)
    if problems:
        raise UserError("publish refused, the site has problems:\n  " + "\n  ".join(problems))


def unfit(cfg: WriteupConfig) -> list[str]:
    """Sections that would publish something other than a finished write-up: stale, missing or smoke."""
    from generator import manifest, staleness, vocabulary
    from generator.sections import SECTIONS
    problems = []
    for s in SECTIONS.values():
        state = staleness.status(cfg, s)
        if state != "fresh":
            problems.append(f"{s.id} is {state} ({staleness.why(cfg, s)})")
        elif manifest.read(cfg.artifacts / s.id)["preset"] == vocabulary.SMOKE:
            problems.append(f"{s.id} was made with the smoke preset (tiny test models)")
    return problems


def _checked_out(repo_root: Path, ref: str) -> bool:
    """`ref` is the branch of this or another worktree: committing a site-only tree onto it would
    leave that worktree's index and files describing a commit that is no longer its tip."""
    listing = _git(["worktree", "list", "--porcelain"], repo_root, check=False)
    heads = {line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("branch ")}
    return ref in heads or _git(["symbolic-ref", "-q", "HEAD"], repo_root, check=False) == ref


def _foreign_commit(repo_root: Path, tip: str) -> str:
    """The first commit in tip's history that publish did not make ("" if none): publish commits
    say "Publish ..." and hold .nojekyll; a commit that only adds or changes CNAME (GitHub's custom
    domain setting) is allowed too."""
    for line in _git(["log", "--format=%H %P%x09%s", tip], repo_root).splitlines():
        ids, subject = line.split("\t", 1)
        commit, *parents = ids.split()
        if subject.startswith("Publish ") and _git(["rev-parse", "-q", "--verify", f"{commit}:.nojekyll"],
                                                   repo_root, check=False):
            continue
        changed = _git(["diff-tree", "--no-commit-id", "--name-only", "-r", parents[0], commit],
                       repo_root).split() if parents else ["?"]
        if changed != ["CNAME"]:
            return f"{commit[:12]} {subject[:60]!r}"
    return ""


def publish(cfg: WriteupConfig, remote: str = "origin", branch: str = "gh-pages", push: bool = True,
            allow_stale: bool = False, force_branch: bool = False, log=print) -> str:
    """Commit site/ as the whole tree of `branch` (keeping its CNAME), push unless told not to; returns the commit."""
    if (branch.startswith(("-", "refs/", "heads/")) or branch.split("/")[0] == remote
            or subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True).returncode):
        raise UserError(f"--branch {branch!r} is not a branch name git takes as it is (e.g. gh-pages); "
                        "give the name alone, without refs/heads/ or a remote")
    ensure_built(cfg, log)
    site = cfg.site.resolve()
    precheck(site, SIZE_LIMIT[cfg.preset])
    # the built pages are judged, not the sources: Jinja can assemble a <script> no source line shows
    scripts = [] if cfg.allow_scripts else checks.active_content(site)
    if scripts:
        more = f"; and {len(scripts) - 3} more" if len(scripts) > 3 else ""
        raise UserError(f"publish refused: active content in the site: {'; '.join(scripts[:3])}{more} "
                        f"(remove it from content/, or set allow_scripts = true in {cfg.config_name})")
    problems = unfit(cfg)
    if problems and not allow_stale:
        raise UserError(f"publish refused, {len(problems)} section(s) not ready (--allow-stale publishes anyway): "
                        + "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else ""))
    for p in problems:
        log(f"warning: publishing anyway: {p}")
    repo_root = cfg.root.resolve()
    if subprocess.run(["git", "rev-parse", "--git-dir"], cwd=repo_root, capture_output=True).returncode:
        raise UserError(f"{repo_root} is not a git repository: `git init` it and add a remote first")
    git_dir = _git(["rev-parse", "--absolute-git-dir"], repo_root)
    ref = f"refs/heads/{branch}"
    if _checked_out(repo_root, ref):  # never, even with --force-branch: the worktree would be left behind
        raise UserError(f"publish refused: {branch} is checked out here (or in another worktree); "
                        "publish to a branch of its own, e.g. --branch gh-pages")
    if push:
        url = _git(["remote", "get-url", remote], repo_root, check=False)
        if not url:
            raise UserError(f"no git remote {remote!r} (add one, or use --no-push)")
        log(f"publishing {site} to {remote} ({url}), branch {branch}")
        # the remote's branch may be ahead (another machine, or the CNAME set on GitHub): build on it
        _git(["fetch", "-q", remote, f"+{ref}:refs/remotes/{remote}/{branch}"], repo_root, check=False)
    local = _git(["rev-parse", "-q", "--verify", f"{ref}^{{commit}}"], repo_root, check=False)
    remote_tip = _git(["rev-parse", "-q", "--verify", f"refs/remotes/{remote}/{branch}^{{commit}}"],
                      repo_root, check=False)
    parent = local or remote_tip
    for tip in {t for t in (local, remote_tip) if t} if not force_branch else ():
        foreign = _foreign_commit(repo_root, tip)
        if foreign:
            raise UserError(f"publish refused: {branch} holds commits publish did not make ({foreign}), and "
                            f"publishing would put the site on top of them; --force-branch publishes anyway")
    if local and remote_tip and subprocess.run(["git", "merge-base", "--is-ancestor", local, remote_tip],
                                               cwd=repo_root).returncode == 0:
        parent = remote_tip  # the remote moved on (e.g. a CNAME set on GitHub): build on top of it

    with tempfile.TemporaryDirectory(prefix="writeup-publish-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_DIR": git_dir,
               "GIT_WORK_TREE": str(site)}
        _git(["add", "-A", "-f", "--", "."], site, env)  # -f: the user's ignore rules do not apply here
        listed = _git(["ls-files"], site, env).splitlines()
        for rel in (r for r in listed if r.endswith(".html")):
            html = (site / rel).read_text(encoding="utf-8", errors="replace")
            if 'class="badge' in html and strip_badges(html) != html:
                blob = _git(["hash-object", "-w", "--stdin"], site, env, input=strip_badges(html).encode())
                _git(["update-index", "--cacheinfo", f"100644,{blob},{rel}"], site, env)
        if "CNAME" not in listed and parent:
            cname = _git(["rev-parse", "-q", "--verify", f"{parent}:CNAME"], site, env, check=False)
            if cname:  # a custom domain set earlier: keep it
                _git(["update-index", "--add", "--cacheinfo", f"100644,{cname},CNAME"], site, env)
        if ".nojekyll" not in listed:
            empty = _git(["hash-object", "-w", "--stdin"], site, env, input=b"")
            _git(["update-index", "--add", "--cacheinfo", f"100644,{empty},.nojekyll"], site, env)
        tree = _git(["write-tree"], site, env)

    if parent and _git(["rev-parse", f"{parent}^{{tree}}"], repo_root) == tree:
        log(f"{branch} already holds this site ({parent[:12]})")
        commit = parent
    else:
        ident = {} if _git(["config", "user.name"], repo_root, check=False) else {
            "GIT_AUTHOR_NAME": "writeup", "GIT_AUTHOR_EMAIL": "writeup@localhost",
            "GIT_COMMITTER_NAME": "writeup", "GIT_COMMITTER_EMAIL": "writeup@localhost"}
        message = f"Publish {cfg.title} (seed {cfg.seed}, preset {cfg.preset})"
        commit = _git(["commit-tree", tree, *(["-p", parent] if parent else []), "-m", message],
                      repo_root, {**os.environ, **ident})
        _git(["update-ref", ref, commit, local or "0" * 40], repo_root)  # fails if the branch moved meanwhile
        log(f"committed site/ to {branch}: {commit[:12]}; {_changes(repo_root, parent, tree)}")
    if push:
        _git(["push", "-q", remote, f"{ref}:{ref}"], repo_root)
        log(f"pushed {branch} to {remote} ({url})")
    return commit


def _changes(repo_root: Path, parent: str, tree: str) -> str:
    """What this commit changes on the branch, in one line: pages by name, other files by count."""
    if not parent:
        return "first publish"
    names = _git(["diff", "--name-only", parent, tree], repo_root).splitlines()
    pages = [n for n in names if n.endswith(".html")]
    return (f"{len(names)} file(s) changed" + (f", pages: {', '.join(pages)}" if pages else ""))
