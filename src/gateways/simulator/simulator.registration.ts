import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Db } from '../../db/kysely.js';
import { recordAudit } from '../../security/audit.js';
import { SYSTEM_ACTOR } from '../../security/roles.js';
import { canonicalJson } from '../../util/json.js';
import { insertGateway, lockGateway, updateGateway } from '../gateway.repository.js';
import { redactSettings } from '../gateway.service.js';
import { smppGatewayConfigSchema } from '../smpp/smpp.gateway.js';
import { SmscSimulator } from './smsc.simulator.js';

export const SIMULATOR_GATEWAY = 'simulator';
const LOOPBACK = '127.0.0.1';
const SIMULATOR_RATE_PER_SECOND = 1_000;
const SIMULATOR_SERVICE_NUMBER = '1069000';

export interface GatewaySimulator {
  simulator: SmscSimulator;
  port: number;
  /** Stops the simulator; its gateway row stays (the next start brings it back). */
  close(): Promise<void>;
}

export interface StartGatewaySimulatorOptions {
  db: Db;
  config: Pick<Config, 'GATEWAY_SIMULATOR' | 'GATEWAY_SIMULATOR_PORT'>;
  logger: Logger;
  /** The gateway row to register it as; `simulator` unless a test wants its own. */
  name?: string;
}

/**
 * With GATEWAY_SIMULATOR, starts the SMSC simulator on loopback and registers it as the gateway
 * `simulator`, so that one machine runs a whole campaign out of the box. Returns null when the
 * setting is off, or when an admin has given the name `simulator` to a real gateway (that row is
 * never overwritten).
 */
export async function startGatewaySimulator(options: StartGatewaySimulatorOptions): Promise<GatewaySimulator | null> {
  const { db, config, logger } = options;
  const name = options.name ?? SIMULATOR_GATEWAY;
  if (!config.GATEWAY_SIMULATOR) return null;
  const simulator = new SmscSimulator({ host: LOOPBACK, port: config.GATEWAY_SIMULATOR_PORT, serviceNumber: SIMULATOR_SERVICE_NUMBER, logger });
  let port: number;
  try {
    ({ port } = await simulator.start());
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EADDRINUSE') {
      throw new Error(
        `GATEWAY_SIMULATOR_PORT ${config.GATEWAY_SIMULATOR_PORT} is in use: set GATEWAY_SIMULATOR_PORT=0 for any free port, or GATEWAY_SIMULATOR=false`,
        { cause: error },
      );
    }
    throw error;
  }
  try {
    const registered = await registerSimulatorGateway(db, { name, port });
    if (!registered) {
      logger.warn({ gateway: name }, 'a real gateway has the simulator name; simulator not started');
      await simulator.stop();
      return null;
    }
  } catch (error) {
    await simulator.stop();
    throw error;
  }
  logger.info({ gateway: name, port }, 'smsc simulator registered as a gateway');
  return { simulator, port, close: () => simulator.stop() };
}

/**
 * Creates or updates the simulator's gateway row for a simulator listening on loopback at `port`
 * (accepting any credentials). Leaves an unchanged row alone, so a restart on the same port
 * reconnects nobody. False when the name belongs to a gateway that is not a simulator.
 */
export async function registerSimulatorGateway(db: Db, simulator: { name: string; port: number }): Promise<boolean> {
  const settings: Record<string, unknown> = smppGatewayConfigSchema.parse({
    host: LOOPBACK,
    port: simulator.port,
    systemId: 'quanke',
    password: '',
    sourceAddr: SIMULATOR_SERVICE_NUMBER,
    // As the simulator writes them: hex in submit_sm_resp, decimal in the receipt text, UTC dates.
    messageIdFormat: { submit: 'hex', receipt: 'decimal' },
    receiptUtcOffsetMinutes: 0,
  });
  const wanted = { protocol: 'smpp' as const, settings, ratePerSecond: SIMULATOR_RATE_PER_SECOND };
  return db.transaction().execute(async (trx) => {
    const before = await lockGateway(trx, simulator.name);
    if (before && !before.simulator) return false;
    const current = before && { protocol: before.protocol, settings: before.settings, ratePerSecond: before.rate_per_second };
    if (current && canonicalJson(current) === canonicalJson(wanted)) return true;
    const write = { name: simulator.name, ...wanted, actor: SYSTEM_ACTOR.name };
    if (before) await updateGateway(trx, write);
    else await insertGateway(trx, { ...write, simulator: true });
    await recordAudit(trx, SYSTEM_ACTOR, {
      action: before ? 'gateway.update' : 'gateway.create',
      targetType: 'gateway',
      targetId: simulator.name,
      before: current ? { ...current, settings: redactSettings(current.settings) } : null,
      after: { ...wanted, settings: redactSettings(settings) },
      details: { simulator: true },
    });
    return true;
  });
}
