// One ringlog-broker per test file for the node tests: started on a free
// loopback port with a fresh data directory, stopped with SIGTERM (exit
// status 0 expected) when the file's tests are done.
//   import { startBroker, stopBroker } from './broker.mjs';
//   before(async () => { bootstrap = await startBroker('kjs'); });
//   after(stopBroker);
// The binary comes from RINGLOG_BROKER (ctest sets it).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

let broker;
let dataDir;

// Resolves to the broker's "host:port" once it prints its ready line.
export async function startBroker(name = 'node', overrides = []) {
  const binary = process.env.RINGLOG_BROKER;
  assert.ok(binary, 'set RINGLOG_BROKER to the ringlog-broker binary');
  dataDir = mkdtempSync(join(tmpdir(), `ringlog-${name}-`));
  const args = [
    '--override', 'listeners=PLAINTEXT://127.0.0.1:0',
    '--override', `log.dirs=${join(dataDir, 'data')}`,
    '--override', 'ringlog.shards=2',
  ];
  for (const kv of overrides) args.push('--override', kv);
  broker = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: broker.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('broker not ready in 30 s')), 30000);
    broker.on('exit', (code) => reject(new Error(`broker exited with ${code}`)));
    lines.on('line', (line) => {
      const m = line.match(/^ringlog-broker ready: PLAINTEXT:\/\/(\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

export async function stopBroker() {
  try {
    if (broker && broker.exitCode === null && broker.signalCode === null) {
      const exited = new Promise((resolve) => broker.on('exit', resolve));
      broker.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, 'broker exit status after SIGTERM');
    }
  } finally {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    broker = undefined;
    dataDir = undefined;
  }
}
