import type { Logger } from 'pino';
import type { GatewayEvents } from '../gateway.js';

/**
 * The receipt and MO listeners of one gateway. A listener that throws is logged and the others
 * still hear the event: the adapter's reading of the link must not stop for one listener's bug.
 */
export class GatewayListeners {
  private readonly listeners: { [E in keyof GatewayEvents]: Array<GatewayEvents[E]> } = { receipt: [], mo: [] };

  /** `failedMessage` is the log message for a listener that throws, e.g. `smpp listener failed`. */
  constructor(
    private readonly logger: Logger,
    private readonly failedMessage: string,
  ) {}

  on<E extends keyof GatewayEvents>(event: E, listener: GatewayEvents[E]): void {
    this.listeners[event].push(listener);
  }

  emit<E extends keyof GatewayEvents>(event: E, payload: Parameters<GatewayEvents[E]>[0]): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (value: typeof payload) => void)(payload);
      } catch (error) {
        this.logger.error({ err: error, event }, this.failedMessage);
      }
    }
  }
}
