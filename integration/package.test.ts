// What `npm pack` ships installs and runs: the tarball goes into an empty project, its
// install script builds the helper and the keeper, and the installed CLI answers --help
// and `doctor`, whose required checks pass on this machine.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { REPO } from './lib/daemon.js';

const REQUIRED = ['seccomp user notification', 'CONTINUE', 'pidfd_open', 'keeper binary', 'helper runnable'];

// Without the npm_* variables of an enclosing `npm test`, which would steer the inner npm.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
env.npm_config_update_notifier = 'false';

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
}

function ok(r: SpawnSyncReturns<string>): string {
  if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal}: ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

t.test('npm pack → npm install in an empty project → the CLI and doctor run', async (t) => {
  const dir = fs.mkdtempSync('/tmp/icd-pack-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

  // --ignore-scripts: ship the dist/ that was just built; `prepare` would rebuild it
  // under the feet of tests running in parallel.
  const packed = JSON.parse(ok(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], REPO))) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = path.join(dir, packed[0]!.filename);
  const files = packed[0]!.files.map((f) => f.path);
  for (const f of ['dist/interceptd.js', 'native/helper/interceptd-helper.c', 'native/helper/interceptd-keeper.c', 'native/helper/Makefile', 'packaging/systemd/interceptd.service', 'packaging/systemd/interceptd.socket', 'README.md']) {
    t.ok(files.includes(f), `the tarball has ${f}`);
  }
  t.notOk(files.includes('native/helper/interceptd-helper'), 'no prebuilt helper: it is built on the target');
  t.notOk(files.some((f) => f.startsWith('test/') || f.endsWith('.ts')), 'no tests, no TypeScript sources');
  t.same(files.filter((f) => f.startsWith('dist/')).sort(), ['dist/interceptd.js', 'dist/interceptd.js.map'], 'of dist/, only the bundle: not the tests, the bench or tsc\'s output');

  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  ok(run('npm', ['init', '-y'], app));
  ok(run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], app));
  const installed = path.join(app, 'node_modules', 'interceptd');
  for (const bin of ['interceptd-helper', 'interceptd-keeper']) {
    const st = fs.statSync(path.join(installed, 'native', 'helper', bin), { throwIfNoEntry: false });
    t.ok(st !== undefined && (st.mode & 0o111) !== 0, `the install script built ${bin}`);
  }

  const help = run('npx', ['--no', '--', 'interceptd', '--help'], app);
  t.equal(help.status, 0, '--help exits 0', { stderr: help.stderr });
  t.match(help.stdout, /Usage: interceptd <command>/);
  t.match(help.stdout, /doctor/);

  const text = run('npx', ['--no', '--', 'interceptd', 'doctor', '--state-dir', path.join(dir, 'state'), '--config-dir', path.join(dir, 'conf')], app);
  t.match(text.stdout, /^(ok|warn|FAIL) +seccomp user notification +/m, 'doctor prints one line per check');

  if (process.getuid?.() !== 0) {
    if (process.env.CI) t.fail('the installed doctor needs root to start the helper');
    else t.comment('not root: the helper cannot start, so required checks are not asserted');
    return;
  }
  t.equal(text.status, 0, 'doctor exits 0 when every required check passes', { stdout: text.stdout });
  const json = run('npx', ['--no', '--', 'interceptd', 'doctor', '--json', '--state-dir', path.join(dir, 'state'), '--config-dir', path.join(dir, 'conf')], app);
  t.equal(json.status, 0, 'doctor --json exits 0', { stderr: json.stderr });
  const results = JSON.parse(json.stdout) as { check: string; verdict: string; detail: string }[];
  for (const name of REQUIRED) {
    const r = results.find((x) => x.check === name);
    t.equal(r?.verdict, 'ok', `${name}: ${r?.detail}`);
  }
  t.match(results.find((x) => x.check === 'helper binary')?.detail, installed, 'the installed helper is the one checked');
});
