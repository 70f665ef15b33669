#!/usr/bin/env bash
# build-msi.sh VERSION OUT.msi — the Windows agent's MSI, built on Linux:
# cross-compiles lifeline-agent.exe, derives the default config from
# packaging/config/agent.yaml with Windows paths, runs wixl, then fixes in the
# tables what wixl cannot express (see lifeline-agent.wxs).
#
# Environment: GO (default go), LDFLAGS (the Makefile's -X stamps),
# SIGN_CERT + SIGN_KEY (PEM) or SIGN_PKCS12 (+ SIGN_PASS_FILE) to sign the exe
# and the MSI with osslsigncode, SIGN_TIMESTAMP_URL (an RFC 3161 server) to
# timestamp the signatures. docs/windows.md has the details.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=${1:?usage: build-msi.sh VERSION OUT.msi}
out=${2:?usage: build-msi.sh VERSION OUT.msi}
GO=${GO:-go}
for tool in wixl msibuild; do
  command -v "$tool" >/dev/null || { echo "$tool missing: apt-get install -y wixl msitools" >&2; exit 1; }
done

# MSI versions are numeric a.b.c (a, b < 256, c < 65536); anything not
# tagged vA.B.C gets 0.0.<commits>, so a newer build still upgrades an older.
if [[ $version =~ ^v?([0-9]+)\.([0-9]+)\.([0-9]+) ]]; then
  msi_version="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
else
  msi_version="0.0.$(( $(git rev-list --count HEAD 2>/dev/null || echo 0) % 65536 ))"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# make msi passes the Makefile's LDFLAGS; alone, the version is stamped here.
ldflags=${LDFLAGS:--s -w -X github.com/lifeline-telemetry/lifeline/proto/buildinfo.Version=$version}
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" \
  -o "$work/lifeline-agent.exe" ./agent/cmd/lifeline-agent

# The same commented config as the Linux packages, its paths under ProgramData.
sed -e 's|/etc/lifeline/|C:\\ProgramData\\Lifeline\\|g' \
    -e 's|/var/lib/lifeline-agent/|C:\\ProgramData\\Lifeline\\|g' \
    -e 's|\(C:\\ProgramData\\Lifeline\\[A-Za-z0-9_.\\-]*\)/|\1\\|g' \
    packaging/config/agent.yaml > "$work/agent.yaml"

sign() { # sign IN OUT DESCRIPTION
  local args=(sign -h sha256 -n "$3" -i https://github.com/lifeline-telemetry/lifeline -in "$1" -out "$2")
  if [[ -n ${SIGN_PKCS12:-} ]]; then
    args+=(-pkcs12 "$SIGN_PKCS12")
    [[ -n ${SIGN_PASS_FILE:-} ]] && args+=(-readpass "$SIGN_PASS_FILE")
  else
    args+=(-certs "$SIGN_CERT" -key "$SIGN_KEY")
  fi
  [[ -n ${SIGN_TIMESTAMP_URL:-} ]] && args+=(-ts "$SIGN_TIMESTAMP_URL")
  osslsigncode "${args[@]}" >/dev/null
}
signing=
if [[ -n ${SIGN_PKCS12:-} || ( -n ${SIGN_CERT:-} && -n ${SIGN_KEY:-} ) ]]; then
  signing=1
  sign "$work/lifeline-agent.exe" "$work/signed.exe" "Lifeline Agent"
  mv "$work/signed.exe" "$work/lifeline-agent.exe"
fi

wxs=$PWD/packaging/windows/lifeline-agent.wxs
(cd "$work" && wixl -a x64 -D Version="$msi_version" -o unsigned.msi "$wxs")

# 400 = 64-bit (256) + NeverOverwrite (128) + Permanent (16).
msibuild "$work/unsigned.msi" \
  -q "UPDATE \`Component\` SET \`Attributes\` = 400 WHERE \`Component\` = 'AgentConfig'" \
  -q "UPDATE \`InstallExecuteSequence\` SET \`Sequence\` = 1501 WHERE \`Action\` = 'RemoveExistingProducts'"

mkdir -p "$(dirname "$out")"
if [[ -n $signing ]]; then
  sign "$work/unsigned.msi" "$out" "Lifeline Agent $version"
else
  cp "$work/unsigned.msi" "$out"
fi
echo "built $out (MSI version $msi_version$([[ -n $signing ]] && echo ', signed'))"
