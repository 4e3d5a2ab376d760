// A stand-in for the scanner images (Semgrep, Trivy, Grype), which cannot be pulled on this machine: one
// local image holds a script installed where the real binaries are. It reads the command line the real CLI
// gets and fails on anything else, checks its confinement (no socket, no network, only CAP_DAC_READ_SEARCH)
// and writes the real SARIF fixture named by $FAKE_SARIF to the --output / --file path.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { followProgress, progressError } from '../../runners/docker/images.ts';
import { type TarEntry, tarArchive } from '../../runners/scan/tar.ts';

export const SARIF_FIXTURES = fileURLToPath(new URL('../fixtures/sarif/', import.meta.url));

export const FAKE_SCANNER_SCRIPT = String.raw`#!/bin/sh
set -e
tool=$(basename "$0")
fail() { echo "fake $tool: $*" >&2; exit 2; }
echo "fake $tool: $*"
[ ! -e /var/run/docker.sock ] || fail 'the Docker socket is mounted'
[ "$(ls /sys/class/net)" = lo ] || fail "network interfaces: $(ls /sys/class/net)"
grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status || fail 'new privileges allowed'
grep -q '^CapEff:[[:space:]]*0000000000000004$' /proc/self/status || fail "capabilities: $(grep CapEff /proc/self/status)"
if [ -n "$FAKE_EXPECT_ARGS" ] && [ "$*" != "$FAKE_EXPECT_ARGS" ]; then fail "unexpected arguments, wanted: $FAKE_EXPECT_ARGS"; fi
out=
case "$tool" in
semgrep)
  [ "$1" = scan ] || fail 'expected the scan subcommand'; shift
  sarif=no config=
  while [ $# -gt 0 ]; do
    case "$1" in
    --config) config=$2; shift 2 ;;
    --sarif) sarif=yes; shift ;;
    --output) out=$2; shift 2 ;;
    --metrics=off|--disable-version-check) shift ;;
    -*) fail "unknown option $1" ;;
    *) [ -e "$1" ] || fail "no scan target $1 in $(pwd)"; shift ;;
    esac
  done
  [ $sarif = yes ] || fail 'no --sarif'
  [ -f "$config" ] || fail "no rules at $config" ;;
trivy)
  [ "$1" = image ] || fail 'expected the image subcommand'; shift
  input=
  while [ $# -gt 0 ]; do
    case "$1" in
    --input) input=$2; shift 2 ;;
    --format) [ "$2" = sarif ] || fail "format $2"; shift 2 ;;
    --output) out=$2; shift 2 ;;
    --skip-db-update|--skip-java-db-update|--offline-scan|--no-progress|--ignore-unfixed) shift ;;
    *) fail "unexpected argument $1" ;;
    esac
  done
  tar -xOf "$input" manifest.json | grep -q "\"$FAKE_TARGET\"" || fail "$input is not a docker-save archive of $FAKE_TARGET" ;;
grype)
  case "$1" in dir:/workspace*) [ -d "$(echo "$1" | cut -c5-)" ] || fail "no folder $1" ;; *) fail 'expected dir:<folder>' ;; esac; shift
  while [ $# -gt 0 ]; do
    case "$1" in
    -o) [ "$2" = sarif ] || fail "output format $2"; shift 2 ;;
    --file) out=$2; shift 2 ;;
    --only-fixed) shift ;;
    *) fail "unexpected argument $1" ;;
    esac
  done
  [ "$GRYPE_DB_AUTO_UPDATE" = false ] || fail 'database auto-update is on' ;;
esac
[ -n "$out" ] || fail 'no output file'
[ -z "$FAKE_SLEEP" ] || sleep "$FAKE_SLEEP"
cat "/fixtures/$FAKE_SARIF" > "$out"
echo "fake $tool: wrote $out"
`;

/** Builds the fake scanner image as `tag`; `env` lines become defaults (e.g. which fixture to emit). */
export async function buildFakeScannerImage(
  docker: Dockerode,
  tag: string,
  options: { env?: Record<string, string>; labels?: Record<string, string> } = {},
): Promise<void> {
  const context = await mkdtemp(join(tmpdir(), 'flowyard-fake-scanner-'));
  try {
    const envLines = Object.entries(options.env ?? {}).map(([k, v]) => `ENV ${k}=${v}`);
    await writeFile(
      join(context, 'Dockerfile'),
      [
        'FROM flowyard/busybox:latest',
        'ENV PATH=/usr/local/bin:/bin',
        ...envLines,
        'COPY fake-scanner.sh /usr/local/bin/semgrep',
        'COPY fake-scanner.sh /usr/local/bin/trivy',
        'COPY fake-scanner.sh /grype',
        'COPY fixtures/ /fixtures/',
        '',
      ].join('\n'),
    );
    await writeFile(join(context, 'fake-scanner.sh'), FAKE_SCANNER_SCRIPT);
    await writeFile(join(context, 'broken.sarif'), '{"version": "2.1.0", "runs": [{"results": []}]}');
    const fixtures = (await readdir(SARIF_FIXTURES)).filter((name) => name.endsWith('.sarif'));
    const entries: TarEntry[] = [
      { type: 'file', name: 'Dockerfile', mode: 0o644, hostFile: join(context, 'Dockerfile') },
      { type: 'file', name: 'fake-scanner.sh', mode: 0o755, hostFile: join(context, 'fake-scanner.sh') },
      { type: 'dir', name: 'fixtures', mode: 0o755 },
      { type: 'file', name: 'fixtures/broken.sarif', mode: 0o644, hostFile: join(context, 'broken.sarif') },
      ...fixtures.map((name): TarEntry => ({ type: 'file', name: `fixtures/${name}`, mode: 0o644, hostFile: join(SARIF_FIXTURES, name) })),
    ];
    const progress = await docker.buildImage(tarArchive(entries), { t: tag, labels: options.labels ?? {}, forcerm: true });
    let failure: string | undefined;
    await followProgress(progress, (event) => (failure ??= progressError(event)), new AbortController().signal);
    assert.equal(failure, undefined, `building the fake scanner failed: ${failure}`);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
