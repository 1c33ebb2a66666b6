#!/usr/bin/env bash
# Compiles the Unity plugin without Unity (mono mcs, C# 7.2) into plugins/unity/build/:
#   Yume.Bridge.Core.dll         engine-free protocol client (the package's Runtime/Core)
#   Yume.Bridge.Core.Tests.dll   NUnit tests (the package's Tests/Editor) + nunit.framework.dll
#   Yume.Bridge.dll              Unity layer, type-checked against stubs/ (legacy Input Manager path)
#   inputsystem/Yume.Bridge.dll  the same with ENABLE_INPUT_SYSTEM (Input System path)
#   Yume.Bridge.Editor.dll       editor inspector and menu items, against stubs/
#   Yume.Bridge.Tests.dll        PlayMode tests of the component, against stubs/ (they run in Unity only)
#   Yume.Bridge.Samples.dll      the BasicViewer sample, against stubs/
#   YumeBridgeInterop.exe        live interop check against a running daemon
# The stub assemblies under build/stubs/ are compile-only stand-ins and are never shipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="$here/com.yume.bridge"
out="$here/build"
stubs_out="$out/stubs"
nunit_dir="${NUNIT_FRAMEWORK_DIR:-/usr/lib/cli/nunit.framework-2.6.3}"

command -v mcs >/dev/null || { echo "build.sh: mcs not found (apt-get install mono-mcs)" >&2; exit 2; }
[ -f "$nunit_dir/nunit.framework.dll" ] || { echo "build.sh: $nunit_dir/nunit.framework.dll not found (apt-get install libnunit-cil-dev)" >&2; exit 2; }

mkdir -p "$out" "$stubs_out" "$out/inputsystem"

# C# 7.2 is what Debian's mcs accepts; Unity accepts more, so code that compiles here compiles there.
strict=(mcs -langversion:7.2 -nologo -debug- -optimize+ -warnaserror+)
lenient=(mcs -langversion:7.2 -nologo -debug- -optimize+)

step() { printf '  %-40s' "$1"; }
done_() { echo "ok"; }

echo "build.sh: compiling into $out"

step "Yume.Bridge.Core.dll"
"${strict[@]}" -target:library -out:"$out/Yume.Bridge.Core.dll" -recurse:"$pkg/Runtime/Core/*.cs"
done_

step "Yume.Bridge.Core.Tests.dll"
cp "$nunit_dir/nunit.framework.dll" "$out/"
"${strict[@]}" -target:library -r:"$out/Yume.Bridge.Core.dll" -r:"$out/nunit.framework.dll" \
  -out:"$out/Yume.Bridge.Core.Tests.dll" -recurse:"$pkg/Tests/Editor/*.cs" \
  "$pkg/Tests/Runtime/LoopbackDaemon.cs" "$pkg/Tests/Runtime/LoopbackStreamTests.cs" # the engine-free PlayMode tests run here too
done_

step "stubs (UnityEngine, UnityEditor, ...)"
"${lenient[@]}" -target:library -out:"$stubs_out/UnityEngine.dll" "$here/stubs/UnityEngine.cs" "$here/stubs/UnityEngine.UI.cs"
"${lenient[@]}" -target:library -r:"$stubs_out/UnityEngine.dll" -out:"$stubs_out/Unity.InputSystem.dll" "$here/stubs/UnityEngine.InputSystem.cs"
"${lenient[@]}" -target:library -r:"$stubs_out/UnityEngine.dll" -out:"$stubs_out/UnityEditor.dll" "$here/stubs/UnityEditor.cs"
done_

step "Yume.Bridge.dll (legacy input)"
"${strict[@]}" -target:library -r:"$out/Yume.Bridge.Core.dll" -r:"$stubs_out/UnityEngine.dll" \
  -define:ENABLE_LEGACY_INPUT_MANAGER -out:"$out/Yume.Bridge.dll" -recurse:"$pkg/Runtime/Unity/*.cs"
done_

step "Yume.Bridge.dll (Input System)"
"${strict[@]}" -target:library -r:"$out/Yume.Bridge.Core.dll" -r:"$stubs_out/UnityEngine.dll" \
  -r:"$stubs_out/Unity.InputSystem.dll" -define:ENABLE_INPUT_SYSTEM -define:YUME_INPUT_SYSTEM_PACKAGE \
  -out:"$out/inputsystem/Yume.Bridge.dll" -recurse:"$pkg/Runtime/Unity/*.cs"
done_

step "Yume.Bridge.Editor.dll"
"${strict[@]}" -target:library -r:"$out/Yume.Bridge.Core.dll" -r:"$out/Yume.Bridge.dll" -r:"$stubs_out/UnityEngine.dll" \
  -r:"$stubs_out/UnityEditor.dll" -out:"$out/Yume.Bridge.Editor.dll" -recurse:"$pkg/Editor/*.cs"
done_

step "Yume.Bridge.Tests.dll (PlayMode)"
"${strict[@]}" -target:library -r:"$out/Yume.Bridge.Core.dll" -r:"$out/Yume.Bridge.dll" -r:"$stubs_out/UnityEngine.dll" \
  -r:"$out/nunit.framework.dll" -out:"$out/Yume.Bridge.Tests.dll" -recurse:"$pkg/Tests/Runtime/*.cs"
done_

step "Yume.Bridge.Samples.dll"
"${strict[@]}" -target:library -r:"$out/Yume.Bridge.Core.dll" -r:"$out/Yume.Bridge.dll" -r:"$stubs_out/UnityEngine.dll" \
  -out:"$out/Yume.Bridge.Samples.dll" -recurse:"$pkg/Samples~/*.cs"
done_

step "YumeBridgeInterop.exe"
"${strict[@]}" -target:exe -r:"$out/Yume.Bridge.Core.dll" -out:"$out/YumeBridgeInterop.exe" -recurse:"$here/interop/*.cs"
done_

echo "build.sh: done"
