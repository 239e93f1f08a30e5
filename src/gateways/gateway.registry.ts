import type { Logger } from 'pino';
import type { Db } from '../db/kysely.js';
import { AppError } from '../http/errors.js';
import { canonicalJson } from '../util/json.js';
import type { FeedbackSink } from './feedback.sink.js';
import type { Gateway, GatewayEvents, GatewayStatus, OutboundMessage, SubmitOutcome } from './gateway.js';
import { findGatewayConnection, type GatewayConnectionRow } from './gateway.repository.js';
import type { GatewayProtocol } from './gateway.schemas.js';
import { CmppGateway, cmppGatewayConfigSchema } from './cmpp/cmpp.gateway.js';
import { SmppGateway, smppGatewayConfigSchema } from './smpp/smpp.gateway.js';
import { KannelGateway, kannelGatewayConfigSchema } from './kannel/kannel.gateway.js';
import { Mm7Gateway, mm7GatewayConfigSchema } from './mm7/mm7.gateway.js';

export interface GatewayAdapterOptions {
  name: string;
  /** The stored settings, secret included; the adapter validates them with its own schema. */
  settings: Record<string, unknown>;
  logger: Logger;
}

/** Builds a connected (or connecting) adapter; may throw when the settings do not fit it. */
export type GatewayAdapterFactory = (options: GatewayAdapterOptions) => Gateway;
export type GatewayAdapterFactories = Partial<Record<GatewayProtocol, GatewayAdapterFactory>>;

/** The adapters this build has; a protocol missing here is refused when a gateway using it is first used. */
export const GATEWAY_ADAPTERS: GatewayAdapterFactories = {
  smpp: ({ name, settings, logger }) => new SmppGateway({ name, config: smppGatewayConfigSchema.parse(settings), logger }),
  // The protocol, not a stored setting, says which CMPP version is spoken.
  cmpp2: ({ name, settings, logger }) => new CmppGateway({ name, config: cmppGatewayConfigSchema.parse({ ...settings, version: 2 }), logger }),
  cmpp3: ({ name, settings, logger }) => new CmppGateway({ name, config: cmppGatewayConfigSchema.parse({ ...settings, version: 3 }), logger }),
  kannel: ({ name, settings, logger }) => new KannelGateway({ name, config: kannelGatewayConfigSchema.parse(settings), logger }),
  mm7: ({ name, settings, logger }) => new Mm7Gateway({ name, config: mm7GatewayConfigSchema.parse(settings), logger }),
};

export interface GatewayRegistryOptions {
  db: Db;
  logger: Logger;
  /** Where every adapter's receipts and MO messages go. */
  sink: Pick<FeedbackSink, 'addReceipt' | 'addMo'>;
  adapters?: GatewayAdapterFactories;
  /** How long a settings check holds before `get` reads the row again (default 3 s). */
  recheckMs?: number;
}

/** One adapter built from one version of a gateway row. */
interface LiveAdapter {
  readonly adapter: Gateway;
  readonly handle: Gateway;
  /** protocol + settings, canonical: a change of `ratePerSecond` alone keeps the connection. */
  readonly settingsKey: string;
  version: string;
  ratePerSecond: number;
  inFlight: number;
  retired: boolean;
  closed: boolean;
}

interface Slot {
  live?: LiveAdapter;
  checkedAt: number;
  refreshing?: Promise<LiveAdapter>;
}

const CHECK_NOW = Number.NEGATIVE_INFINITY;

/**
 * The gateways of this process (API or worker), built from their rows on first use and kept
 * connected. `get` reads the row again at most every `recheckMs`: changed settings build a new
 * adapter, and the old one closes once its in-flight submits have settled; a changed rate alone
 * keeps the connection. Call `get` per batch rather than keeping what it returns.
 */
export class GatewayRegistry {
  private readonly db: Db;
  private readonly logger: Logger;
  private readonly adapterLogger: Logger;
  private readonly sink: Pick<FeedbackSink, 'addReceipt' | 'addMo'>;
  private readonly adapters: GatewayAdapterFactories;
  private readonly recheckMs: number;
  private readonly slots = new Map<string, Slot>();
  private readonly closing = new Set<Promise<void>>();
  private closed = false;

  constructor(options: GatewayRegistryOptions) {
    this.db = options.db;
    this.logger = options.logger.child({ component: 'gateway-registry' });
    this.adapterLogger = options.logger;
    this.sink = options.sink;
    this.adapters = options.adapters ?? GATEWAY_ADAPTERS;
    this.recheckMs = options.recheckMs ?? 3_000;
  }

  /**
   * The gateway's adapter, built on first use. Throws AppError NOT_FOUND for an unknown gateway and
   * NOT_READY when its protocol has no adapter or its settings do not fit it. The registry owns the
   * adapter: `close()` on what this returns does nothing.
   */
  async get(name: string): Promise<Gateway> {
    return (await this.current(name)).handle;
  }

  /**
   * The adapter itself rather than its handle, for the routes its peer calls back on (Kannel's
   * dlr-url): what it emits there goes to the feedback sink like its other receipts. Throws like `get`.
   */
  async adapter(name: string): Promise<Gateway> {
    return (await this.current(name)).adapter;
  }

  /** The gateway's configured rate (message parts per second, across all workers). */
  async ratePerSecond(name: string): Promise<number> {
    return (await this.current(name)).ratePerSecond;
  }

  /** The gateway's connection as this process sees it; builds the adapter if it is not yet in use. */
  async status(name: string): Promise<GatewayStatus> {
    try {
      return (await this.current(name)).adapter.status();
    } catch (error) {
      if (error instanceof AppError && error.code === 'NOT_READY') return { status: 'down', lastError: error.message, consecutiveFailures: 0 };
      throw error;
    }
  }

  /** Every adapter open in this process, by gateway name. */
  statuses(): Map<string, GatewayStatus> {
    const statuses = new Map<string, GatewayStatus>();
    for (const [name, slot] of this.slots) if (slot.live) statuses.set(name, slot.live.adapter.status());
    return statuses;
  }

  /** Makes the next `get` read the row at once (this process just changed or deleted it). */
  invalidate(name: string): void {
    const slot = this.slots.get(name);
    if (slot) slot.checkedAt = CHECK_NOW;
  }

  /** Closes every adapter, in-flight submits or not (the process is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots.values()) if (slot.live) this.closeAdapter(slot.live);
    this.slots.clear();
    await Promise.all([...this.closing]);
  }

  private async current(name: string): Promise<LiveAdapter> {
    if (this.closed) throw new Error('the gateway registry is closed');
    let slot = this.slots.get(name);
    if (!slot) {
      slot = { checkedAt: CHECK_NOW };
      this.slots.set(name, slot);
    }
    if (slot.live && Date.now() - slot.checkedAt < this.recheckMs) return slot.live;
    if (!slot.refreshing) {
      const refreshing = this.refresh(name, slot);
      slot.refreshing = refreshing;
      void refreshing.then(
        () => (slot.refreshing = undefined),
        () => (slot.refreshing = undefined),
      );
    }
    return slot.refreshing;
  }

  private async refresh(name: string, slot: Slot): Promise<LiveAdapter> {
    const row = await findGatewayConnection(this.db, name);
    if (this.closed) throw new Error('the gateway registry is closed');
    const live = slot.live;
    if (!row) {
      if (live) {
        this.logger.info({ gateway: name }, 'gateway deleted, adapter retired');
        this.retire(live);
      }
      this.slots.delete(name);
      throw new AppError('NOT_FOUND', `No gateway "${name}"`);
    }
    if (live && live.version === row.version) {
      slot.checkedAt = Date.now();
      return live;
    }
    const settingsKey = canonicalJson({ protocol: row.protocol, settings: row.settings });
    if (live && live.settingsKey === settingsKey) {
      live.version = row.version;
      live.ratePerSecond = row.rate_per_second;
      slot.checkedAt = Date.now();
      return live;
    }
    // A failure here leaves the previous adapter (if any) serving, and the next `get` tries again.
    const next = this.open(name, row, settingsKey);
    if (live) {
      this.logger.info({ gateway: name, protocol: row.protocol }, 'gateway settings changed, adapter replaced');
      this.retire(live);
    }
    slot.live = next;
    slot.checkedAt = Date.now();
    return next;
  }

  private open(name: string, row: GatewayConnectionRow, settingsKey: string): LiveAdapter {
    const factory = this.adapters[row.protocol];
    if (!factory) throw new AppError('NOT_READY', `Gateway "${name}" uses the ${row.protocol} protocol, which has no adapter in this version`);
    let adapter: Gateway;
    try {
      adapter = factory({ name, settings: row.settings, logger: this.adapterLogger });
    } catch (error) {
      // The message names the settings that do not fit, never their values.
      this.logger.error({ gateway: name, protocol: row.protocol, err: error }, 'gateway adapter refused its settings');
      throw new AppError('NOT_READY', `Gateway "${name}" has ${row.protocol} settings its adapter refuses; correct them with PUT /v1/gateways/${name}`);
    }
    adapter.on('receipt', (receipt) => this.sink.addReceipt(receipt));
    adapter.on('mo', (message) => this.sink.addMo(message));
    this.logger.info({ gateway: name, protocol: row.protocol }, 'gateway adapter opened');
    const live: LiveAdapter = {
      adapter,
      handle: new RegisteredGateway(adapter, {
        started: () => (live.inFlight += 1),
        settled: () => {
          live.inFlight -= 1;
          if (live.retired && live.inFlight === 0) this.closeAdapter(live);
        },
      }),
      settingsKey,
      version: row.version,
      ratePerSecond: row.rate_per_second,
      inFlight: 0,
      retired: false,
      closed: false,
    };
    return live;
  }

  private retire(live: LiveAdapter): void {
    live.retired = true;
    if (live.inFlight === 0) this.closeAdapter(live);
  }

  private closeAdapter(live: LiveAdapter): void {
    if (live.closed) return;
    live.closed = true;
    const closing = live.adapter
      .close()
      .catch((error: unknown) => this.logger.warn({ gateway: live.adapter.name, err: error }, 'gateway adapter failed to close'))
      .finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }
}

/** What `get` hands out: the adapter, with its submits counted so a replaced adapter drains before it closes. */
class RegisteredGateway implements Gateway {
  constructor(
    private readonly adapter: Gateway,
    private readonly submits: { started(): void; settled(): void },
  ) {}

  get name(): string {
    return this.adapter.name;
  }

  async submit(batch: readonly OutboundMessage[]): Promise<SubmitOutcome[]> {
    this.submits.started();
    try {
      return await this.adapter.submit(batch);
    } finally {
      this.submits.settled();
    }
  }

  status(): GatewayStatus {
    return this.adapter.status();
  }

  on<E extends keyof GatewayEvents>(event: E, listener: GatewayEvents[E]): void {
    this.adapter.on(event, listener);
  }

  async close(): Promise<void> {
    // The registry owns the adapter; one caller must not cut it for the others.
  }
}
