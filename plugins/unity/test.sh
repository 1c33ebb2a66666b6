#!/usr/bin/env bash
# Builds the Unity plugin, checks the package's .meta files and runs the NUnit tests.
# Exit status: non-zero when the build, the meta check or any test fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

bash "$here/build.sh"
python3 "$here/tools/make_meta.py" --check

command -v nunit-console >/dev/null || { echo "test.sh: nunit-console not found (apt-get install nunit-console)" >&2; exit 2; }
export YUME_PROTOCOL_VECTORS="${YUME_PROTOCOL_VECTORS:-$repo/protocol/vectors}"
cd "$here/build"
# -noshadow: run from build/ so the tests find their assemblies; the XML goes next to them.
nunit-console -nologo -noshadow -xml="$here/build/TestResult.xml" Yume.Bridge.Core.Tests.dll
