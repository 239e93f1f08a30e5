// The part of `smpp` 0.5.1 (farhadi/node-smpp, CommonJS, untyped) that Quanke uses.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  /** short_message / message_payload: written as text (encoded by data_coding) or bytes; read back decoded. */
  export type ShortMessage = string | Buffer | { message: string | Buffer; udh?: Buffer | Buffer[] };

  /** PDU fields by name; only those Quanke reads or writes are listed. */
  export interface PduFields {
    command_status?: number;
    sequence_number?: number;
    system_id?: string;
    password?: string;
    system_type?: string;
    interface_version?: number;
    service_type?: string;
    source_addr_ton?: number;
    source_addr_npi?: number;
    source_addr?: string;
    dest_addr_ton?: number;
    dest_addr_npi?: number;
    destination_addr?: string;
    esm_class?: number;
    registered_delivery?: number;
    data_coding?: number | null;
    short_message?: ShortMessage;
    message_payload?: ShortMessage;
    message_id?: string;
    receipted_message_id?: string;
    message_state?: number;
  }

  export interface Pdu extends PduFields {
    command: string;
    command_id: number;
    command_status: number;
    sequence_number: number;
    isResponse(): boolean;
    response(options?: PduFields): Pdu;
  }

  export interface PduConstructor {
    new (command: string, options?: PduFields): Pdu;
  }

  export interface Session extends EventEmitter {
    readonly socket: Socket;
    /**
     * Writes the PDU; false (and nothing written) when the socket is no longer writable. For a
     * request the callback gets its response; for a response it is called once it is written.
     */
    send(pdu: Pdu, callback?: (pdu: Pdu) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    on(event: 'connect' | 'close', listener: () => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: string, listener: (pdu: Pdu) => void): this;
  }

  export interface Server extends NetServer {
    readonly sessions: Session[];
  }

  export interface ConnectOptions {
    host: string;
    port: number;
  }

  interface Smpp {
    connect(options: ConnectOptions): Session;
    createServer(listener?: (session: Session) => void): Server;
    PDU: PduConstructor;
    /** ESME_* command_status names to their values. */
    errors: Readonly<Record<string, number>>;
  }

  const smpp: Smpp;
  export default smpp;
}
