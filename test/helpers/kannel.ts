import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Whether Kannel's boxes are installed (Debian package `kannel`; `.ci/run` installs it). */
export function kannelInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v bearerbox && command -v smsbox'], { stdio: 'ignore' }).status === 0;
}

export interface KannelOptions {
  /** Our SMPP simulator, which Kannel's `smsc = smpp` binds to. */
  smsc: { port: number; systemId: string; password: string };
  sendsms: { username: string; password: string };
  /** The sms-service get-url for MO messages (Kannel's %-escapes allowed); none when left out. */
  moUrl?: string;
  /** Kannel's log level: 0 debug … 4 panic (default 1). */
  logLevel?: number;
}

export interface RunningKannel {
  /** e.g. http://127.0.0.1:13013/cgi-bin/sendsms */
  sendsmsUrl: string;
  dir: string;
  /** Kills bearerbox and smsbox (the peer going away); `start` brings them back on the same ports. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** The tail of bearerbox's and smsbox's logs, for a failing assertion's message. */
  logs(): string;
  stop(): Promise<void>;
}

/** A free loopback port (taken and released: good enough for tests). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A minimal kannel.conf: one SMPP SMSC, one smsbox with sendsms, internal DLR storage. */
export function kannelConfig(options: KannelOptions, ports: { admin: number; smsbox: number; sendsms: number }, dir: string): string {
  const quote = (value: string | number) => `"${String(value).replaceAll('"', '\\"')}"`;
  const lines = [
    'group = core',
    `admin-port = ${ports.admin}`,
    'admin-interface = 127.0.0.1',
    `admin-password = ${quote('admin-not-used')}`,
    `smsbox-port = ${ports.smsbox}`,
    'smsbox-interface = 127.0.0.1',
    'box-allow-ip = 127.0.0.1',
    'dlr-storage = internal',
    `log-file = ${quote(path.join(dir, 'bearerbox.log'))}`,
    `log-level = ${options.logLevel ?? 1}`,
    // A message the SMSC answered with a temporary error is retried by bearerbox a few times, not forever.
    'sms-resend-retry = 3',
    'sms-resend-freq = 1',
    '',
    'group = smsc',
    'smsc = smpp',
    'smsc-id = simulator',
    'host = 127.0.0.1',
    `port = ${options.smsc.port}`,
    'transceiver-mode = true',
    `smsc-username = ${quote(options.smsc.systemId)}`,
    `smsc-password = ${quote(options.smsc.password)}`,
    'system-type = ""',
    'interface-version = 34',
    'reconnect-delay = 1',
    'max-pending-submits = 100',
    'enquire-link-interval = 30',
    '',
    'group = smsbox',
    'bearerbox-host = 127.0.0.1',
    `bearerbox-port = ${ports.smsbox}`,
    `sendsms-port = ${ports.sendsms}`,
    'sendsms-interface = 127.0.0.1',
    // UCS-2 MO messages reach the get-url as UTF-8.
    'mo-recode = true',
    `log-file = ${quote(path.join(dir, 'smsbox.log'))}`,
    `log-level = ${options.logLevel ?? 1}`,
    '',
    'group = sendsms-user',
    `username = ${quote(options.sendsms.username)}`,
    `password = ${quote(options.sendsms.password)}`,
    // Long texts go out as one concatenated message, up to the adapter's 10 parts.
    'concatenation = true',
    'max-messages = 10',
    '',
  ];
  if (options.moUrl) {
    lines.push('group = sms-service', 'keyword = default', 'catch-all = true', `get-url = ${quote(options.moUrl)}`, 'max-messages = 0', '');
  }
  return lines.join('\n');
}

/**
 * Starts bearerbox and smsbox with a generated config in a scratch folder, each in its own process
 * group, and waits until smsbox answers on its sendsms port. `stop` kills both groups.
 */
export async function startKannel(options: KannelOptions): Promise<RunningKannel> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-kannel-'));
  const ports = { admin: await freePort(), smsbox: await freePort(), sendsms: await freePort() };
  const configPath = path.join(dir, 'kannel.conf');
  writeFileSync(configPath, kannelConfig(options, ports, dir));
  let children: ChildProcess[] = [];
  const logs = () =>
    ['bearerbox.log', 'smsbox.log', 'bearerbox.out', 'smsbox.out']
      .map((file) => {
        try {
          return `--- ${file}\n${readFileSync(path.join(dir, file), 'utf8').split('\n').slice(-30).join('\n')}`;
        } catch {
          return `--- ${file}: none`;
        }
      })
      .join('\n');
  const start = (command: string) => {
    const out = path.join(dir, `${command}.out`);
    writeFileSync(out, '');
    const child = spawn(command, [configPath], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => writeFileSync(out, chunk, { flag: 'a' }));
    children.push(child);
    return child;
  };
  const kill = async () => {
    await Promise.all(children.map((child) => killGroup(child)));
    children = [];
  };
  const stop = async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };
  const startBoxes = async () => {
    try {
      start('bearerbox');
      await waitForPort(ports.smsbox, 15_000, children);
      start('smsbox');
      await waitForPort(ports.sendsms, 15_000, children);
    } catch (error) {
      const detail = logs();
      await kill();
      throw new Error(`Kannel did not start: ${(error as Error).message}\n${detail}`);
    }
  };
  try {
    await startBoxes();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { sendsmsUrl: `http://127.0.0.1:${ports.sendsms}/cgi-bin/sendsms`, dir, kill, start: startBoxes, logs, stop };
}

async function waitForPort(port: number, timeoutMs: number, children: readonly ChildProcess[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const exited = children.find((child) => child.exitCode !== null || child.signalCode !== null);
    if (exited) throw new Error(`${exited.spawnfile} exited (${exited.exitCode ?? exited.signalCode})`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
}

/** SIGTERM to the child's process group, SIGKILL if it lingers. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}
