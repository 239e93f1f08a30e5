import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closeServer, listenOn } from '../../src/gateways/simulator/simulator.server.js';

describe('simulator server plumbing', () => {
  it('listens on a free port when told 0, takes connections there, and closes', async () => {
    const server = createServer((socket) => socket.end('hi'));
    const port = await listenOn(server, 0, '127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const greeting = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.setEncoding('utf8');
      let text = '';
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(greeting).toBe('hi');
    await closeServer(server);
    expect(server.listening).toBe(false);
  });

  it('rejects when the port is taken, and leaves no error listener behind', async () => {
    const first = createServer();
    const port = await listenOn(first, 0, '127.0.0.1');
    const second = createServer();
    await expect(listenOn(second, port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(second.listenerCount('error')).toBe(0);
    await closeServer(first);
  });
});
