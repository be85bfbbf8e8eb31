#!/usr/bin/env bash
# The install paths a new user takes, each into a fresh virtual environment, from the committed tree:
#
#   1. the wheel `python -m build` makes, with a C compiler (the sensor's compiled meter inside) and
#      without one (CC pointing nowhere: the meter is left out, the install still works);
#      `codewitness demo` runs from each, and a missing extra's hint installs that extra when run;
#   2. the README's "Install" lines, run as written: from a checkout's path, from a git URL, and
#      the wheel built as the README builds it (placeholders replaced by this checkout).
#
# Usage: bash scripts/check_wheel.sh [PYTHON]   (default: python3.12, else python3)
# Everything happens in a temp folder; only PyPI is reached (build requirements and dependencies).
set -uo pipefail  # no -e: every check runs and is counted; a failure is reported at the end
cd "$(dirname "$0")/.."
checkout=$(pwd)
pick_python() {  # the given interpreter, else Python 3.12, else python3 (3.11 or newer)
  local candidate
  for candidate in ${1:+"$1"} python3.12 "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.12.*/bin/python3.12 python3; do
    if "$candidate" -c "import sys; sys.exit(sys.version_info < (3, 11))" 2>/dev/null; then
      command -v "$candidate" || echo "$candidate"
      return 0
    fi
  done
  echo "no Python 3.11+ found" >&2
  return 1
}
python=$(pick_python "${1:-}") || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/cw-wheel-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
failures=0
checks=0

say() { printf '== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...: run it, count it, show its output when it fails
  local what=$1; shift
  checks=$((checks + 1))
  if ! "$@" >"$work/last.log" 2>&1; then
    fail "$what"
    tail -n 40 "$work/last.log" >&2
    return 1
  fi
}
fresh_venv() {  # fresh_venv DIR: a new virtual environment with nothing but pip
  "$python" -m venv "$1" && "$1/bin/python" -m pip install --quiet --upgrade pip
}

# The committed tree, as CI and a clone have it (no build leftovers, no local edits). A copy that is
# not a git checkout (an unpacked archive) is committed into a scratch repository first, so that
# every check still runs -- the git URL's install line included.
if ! git rev-parse --verify --quiet HEAD >/dev/null 2>&1; then
  snapshot="$work/snapshot"
  mkdir -p "$snapshot"
  tar -c --exclude=.git --exclude='.venv*' --exclude=build --exclude=dist --exclude='*.egg-info' \
      --exclude=__pycache__ --exclude='*.so' --exclude=.codewitness . | tar -x -C "$snapshot"
  git -C "$snapshot" init --quiet &&
    git -C "$snapshot" add -A &&
    git -C "$snapshot" -c user.name=check -c user.email=check@localhost commit --quiet -m snapshot || exit 1
  cd "$snapshot" || exit 1
  checkout=$snapshot
  echo "not a git checkout: checking a snapshot of the tree in $snapshot"
fi
say "the committed tree ($(git rev-parse --short HEAD)), Python $("$python" -c 'import sys; print(sys.version.split()[0])')"
mkdir -p "$work/src"
git archive --format=tar HEAD | tar -x -C "$work/src"
if ! { fresh_venv "$work/builder" && "$work/builder/bin/python" -m pip install --quiet build; }; then
  echo "cannot make the build environment (pip install build)" >&2
  exit 1
fi

# 1. The wheels.
build_wheel() {  # build_wheel NAME [ENV...]: a wheel of its own copy of the committed tree into $work/NAME
  mkdir -p "$work/src-$1" && git archive --format=tar HEAD | tar -x -C "$work/src-$1" &&
    env "${@:2}" "$work/builder/bin/python" -m build --wheel --outdir "$work/$1" "$work/src-$1"
}
cat >"$work/meter_in.py" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(0 if any("sensor/_meter" in n and n.endswith((".so", ".pyd")) for n in names) else 1)
EOF

say "wheel with a C compiler"
check "python -m build --wheel (with a compiler)" build_wheel dist-cc
say "wheel without a C compiler (CC=/nonexistent/cc)"
check "python -m build --wheel (without a compiler)" build_wheel dist-nocc CC=/nonexistent/cc
wheel_cc=$(ls "$work"/dist-cc/codewitness-*.whl 2>/dev/null || true)
wheel_nocc=$(ls "$work"/dist-nocc/codewitness-*.whl 2>/dev/null || true)
if [ -n "$wheel_cc" ] && [ -n "$wheel_nocc" ]; then
  check "the compiler's wheel holds the compiled meter" "$work/builder/bin/python" "$work/meter_in.py" "$wheel_cc"
  check "the wheel built without a compiler holds no compiled meter" \
    bash -c "! '$work/builder/bin/python' '$work/meter_in.py' '$wheel_nocc'"
fi

try_wheel() {  # try_wheel NAME WHEEL COMPILED(0|1)
  local venv="$work/venv-$1" wheel=$2 compiled=$3
  say "install the $1 wheel into a fresh venv, run the demo"
  check "$1: fresh venv" fresh_venv "$venv" || return 0
  check "$1: pip install the wheel with the check extra" "$venv/bin/python" -m pip install --quiet "$wheel[check]" || return 0
  check "$1: codewitness --version" "$venv/bin/codewitness" --version
  check "$1: the sensor's meter is $([ "$compiled" = 1 ] && echo compiled || echo pure Python)" \
    "$venv/bin/python" -c "import sys; from codewitness.sensor.meter import COMPILED; sys.exit(COMPILED != bool($compiled))"
  check "$1: codewitness demo" bash -c "env -u VIRTUAL_ENV PATH='$venv/bin:$PATH' codewitness demo --dir '$work/demo-$1' >'$work/demo-$1.log' 2>&1"
  check "$1: the demo ran the shop under the sensor and the invariant caught the refund" \
    grep -q "invariant refund_never_exceeds_payment broken" "$work/demo-$1.log"
  # A missing extra names a command; running it as printed must install the extra.
  local hint
  hint=$(cd "$work/demo-$1" && "$venv/bin/codewitness" serve 2>&1 >/dev/null | sed -n 's/^codewitness: error: .*extra: //p')
  checks=$((checks + 1))
  if [[ "$hint" != *" -m pip install "* ]]; then
    fail "$1: codewitness serve without the server extra names no install command (got: $hint)"
  else
    check "$1: the hint's command installs the server extra: $hint" bash -c "$hint --quiet && '$venv/bin/python' -c 'import fastapi, uvicorn, jinja2'"
  fi
}
[ -n "$wheel_cc" ] && try_wheel compiled "$wheel_cc" 1
[ -n "$wheel_nocc" ] && try_wheel pure "$wheel_nocc" 0

# 2. The README's install lines, as written, placeholders filled in with this checkout.
git clone --quiet --bare "$checkout" "$work/codewitness.git"  # what a git URL serves
commit=$(git rev-parse HEAD)
readme_lines=$("$python" - "$checkout/README.md" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
for block in re.findall(r"```sh\n(.*?)```", section, re.S):
    for line in block.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            print(line.split("  #")[0].rstrip())
EOF
)
fill() {
  sed -e "s|https://<host>/<owner>/codewitness@<tag>|file://$work/codewitness.git@$commit|" \
      -e "s|/path/to/codewitness|$work/src|g" <<<"$1"
}
n=0
pending_build=""
while IFS= read -r line; do
  [ -z "$line" ] && continue
  if [[ "$line" == *"python -m build"* ]]; then
    pending_build=$line  # the wheel recipe: its build line runs with the next (install) line
    continue
  fi
  n=$((n + 1))
  project="$work/project-$n"
  mkdir -p "$project"
  say "README: ${pending_build:+$pending_build && }$line"
  check "README line $n: fresh venv" fresh_venv "$project/.venv" || continue
  script="set -e; . .venv/bin/activate; python -m pip install --quiet build >/dev/null"
  [ -n "$pending_build" ] && script+="; $(fill "$pending_build")"
  script+="; $(fill "$line") --quiet; codewitness --version; codewitness check --help >/dev/null"
  check "README: $line" bash -c "cd '$project' && $script"
  check "README line $n: the extra came along (ruff for the check extra)" "$project/.venv/bin/python" -c "import ruff, detect_secrets"
  pending_build=""
done <<<"$readme_lines"
checks=$((checks + 1))
[ "$n" -ge 3 ] || fail "expected at least three install lines in the README's Install section, found $n"

if ((failures)); then
  echo "wheel check: $failures of $checks checks failed" >&2
  exit 1
fi
echo "wheel check: all $checks checks passed"
