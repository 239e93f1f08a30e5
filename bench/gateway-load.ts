import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gateway, OutboundMessage } from '../src/gateways/gateway.js';

/**
 * What the gateway benches share: a simulator in a process of its own (a real SMSC, ISMG or MMSC is
 * another machine, so the adapter under test does not share an event loop with the other end), the
 * campaign text they all send, and the submission loop of a send worker whose accepted count the
 * runner turns into messages/s.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A forked `bench/*.process.ts`: what it said once listening, its counters on demand, and a stop. */
export interface SimulatorProcess<Hello, Counts> {
  hello: Hello;
  counts(): Promise<Counts>;
  stop(): Promise<void>;
}

/** Forks `bench/<file>` with an IPC channel and waits for its first message (the port it listens on). */
export async function startSimulatorProcess<Hello, Counts>(file: string, env: NodeJS.ProcessEnv = {}): Promise<SimulatorProcess<Hello, Counts>> {
  const child = fork(path.join(REPO, 'bench', file), [], {
    execArgv: ['--import', 'tsx'],
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const hello = await new Promise<Hello>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Hello));
    child.once('exit', (code) => reject(new Error(`bench/${file} exited with ${code}`)));
  });
  return {
    hello,
    counts: () =>
      new Promise<Counts>((resolve) => {
        child.once('message', (m) => resolve(m as Counts));
        child.send('count');
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

interface Simulator<Hello> {
  start(): Promise<Hello>;
  stop(): Promise<void>;
}

/**
 * The child's side of `startSimulatorProcess`: starts the simulator, sends what `start` answered,
 * answers `'count'` with `counts()` and exits on `'stop'` or when the parent goes away.
 */
export function serveSimulatorProcess<Hello>(simulator: Simulator<Hello>, counts: () => unknown): void {
  const exit = () => void simulator.stop().finally(() => process.exit(0));
  simulator
    .start()
    .then((hello) => {
      process.on('message', (message) => {
        if (message === 'count') process.send?.(counts());
        else if (message === 'stop') exit();
      });
      process.on('disconnect', exit);
      process.send?.(hello);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}

/** The campaign every gateway bench sends: signature + personalised text + opt-out suffix, 48 characters. */
export function campaignText(n: number): string {
  return `【中国移动】尊敬的客户，您本月流量已用${(n % 9_000) + 100}MB，5G套餐限时优惠，回T退订`;
}

/** `count` one-part SMS of the campaign, one per number. */
export function campaignMessages(count: number): OutboundMessage[] {
  return Array.from({ length: count }, (_, n) => ({ ref: `r${n}`, msisdn: `139${String(n).padStart(8, '0')}`, text: campaignText(n) }));
}

/**
 * Submits every message as a send worker does (batches of `batch`, `concurrent` batches at a time)
 * and answers how many were accepted; throws on the first outcome that is not `accepted`.
 */
export async function submitAll(gateway: Gateway, messages: readonly OutboundMessage[], { batch = 500, concurrent = 4 } = {}): Promise<number> {
  let next = 0;
  let accepted = 0;
  const lane = async (): Promise<void> => {
    while (next < messages.length) {
      const slice = messages.slice(next, next + batch);
      next += batch;
      for (const outcome of await gateway.submit(slice)) {
        if (outcome.kind !== 'accepted') throw new Error(`${gateway.name}: ${outcome.kind} ${outcome.code}: ${outcome.message}`);
        accepted += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrent }, lane));
  return accepted;
}

/** CPU of this process (the adapter's side) per message since `since` (a `process.cpuUsage()`), in µs: steadier than wall time on a busy machine. */
export function cpuMicrosPerMessage(since: NodeJS.CpuUsage, messages: number): string {
  const { user, system } = process.cpuUsage(since);
  return ((user + system) / messages).toFixed(1);
}
