// scripts/bench/delay-relay.ts: the far link of the bench's far-upstream scenarios. What the figures
// rely on is that it is a faithful pipe: every byte, in order, both ways; ends, half-closes and resets
// passed on; a reader that stops makes the writer stop; every accepted connection counted.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { startDelayRelay, type DelayRelay } from '../../scripts/bench/delay-relay.ts';
import { prng } from '../helpers/prng.ts';

const servers: net.Server[] = [];
const relays: DelayRelay[] = [];

after(async () => {
  await Promise.all(relays.map((r) => r.close()));
  for (const s of servers) s.close();
});

async function target(onSocket: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, onSocket);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function relayTo(targetPort: number, delayMs: number): Promise<DelayRelay> {
  const relay = await startDelayRelay({ targetPort, delayMs });
  relays.push(relay);
  return relay;
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  return socket;
}

function collect(socket: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (part: Buffer) => parts.push(part));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
  });
}

/** Resolves when the socket has closed, whether or not an error came first (events.once rejects on one). */
function closed(socket: net.Socket): Promise<void> {
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

/** Writes `bytes` in random cuts, each after a random 0-2 ms, then ends. */
async function writeInRandomCuts(socket: net.Socket, bytes: Buffer, random: () => number): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    const next = Math.min(bytes.length, at + 1 + Math.floor(random() * 5000));
    socket.write(bytes.subarray(at, next));
    at = next;
    if (random() < 0.3) await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3)));
  }
  socket.end();
}

describe('delay relay', () => {
  for (const delayMs of [0, 3]) {
    test(`carries every byte in order both ways, however the writes are cut (delay ${delayMs} ms)`, async () => {
      const port = await target((socket) => socket.pipe(socket)); // echo, ending when the client ends
      const relay = await relayTo(port, delayMs);
      for (const seed of [1, 2, 3]) {
        const random = prng(seed);
        const bytes = randomBytes(random, 20_000 + Math.floor(random() * 200_000));
        const client = await connect(relay.port);
        const echoed = collect(client);
        await writeInRandomCuts(client, bytes, random);
        assert.ok((await echoed).equals(bytes), `seed ${seed}: the echo differs from what was sent`);
        client.destroy();
      }
    });
  }

  test('counts each accepted connection once, however much it carries', async () => {
    const port = await target((socket) => socket.pipe(socket));
    const relay = await relayTo(port, 1);
    assert.equal(relay.accepted(), 0);
    const sockets = await Promise.all([connect(relay.port), connect(relay.port), connect(relay.port)]);
    for (const socket of sockets) {
      const echoed = collect(socket);
      socket.end('ping '.repeat(1000));
      await echoed;
    }
    assert.equal(relay.accepted(), 3);
    for (const socket of sockets) socket.destroy();
  });

  test('passes a half-close on: the far side sees the end and can still answer', async () => {
    const port = await target((socket) => {
      const got = collect(socket);
      void got.then((request) => socket.end(`got ${request.length} bytes`));
    });
    const relay = await relayTo(port, 2);
    const client = await connect(relay.port);
    const answer = collect(client);
    client.end(Buffer.alloc(1234, 1));
    assert.equal((await answer).toString(), 'got 1234 bytes');
    client.destroy();
  });

  test('passes a reset on as a close of the other side, after the bytes sent before it', async () => {
    const port = await target((socket) => {
      socket.write('last words');
      setTimeout(() => socket.resetAndDestroy(), 5);
    });
    const relay = await relayTo(port, 2);
    const client = await connect(relay.port);
    const parts: Buffer[] = [];
    client.on('data', (part: Buffer) => parts.push(part));
    await closed(client);
    assert.equal(Buffer.concat(parts).toString(), 'last words');
  });

  test('closes the client when nothing listens behind it', async () => {
    const port = await target(() => {});
    servers.at(-1)?.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const relay = await relayTo(port, 1);
    const client = await connect(relay.port);
    client.resume();
    await closed(client);
    assert.equal(relay.accepted(), 1);
  });

  test('stops reading from the writer while the reader does not read, and loses nothing when it resumes', async () => {
    let far: net.Socket | null = null;
    const port = await target((socket) => {
      far = socket;
      socket.pause();
    });
    const relay = await relayTo(port, 1);
    const client = await connect(relay.port);
    const random = prng(7);
    const bytes = randomBytes(random, 64 << 20); // more than every socket buffer on the way can hold
    client.write(bytes);
    // Wait until the client's unsent bytes stop shrinking: everything on the way is full.
    let last = -1;
    while (client.writableLength !== last) {
      last = client.writableLength;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(client.writableLength > 0, 'the relay read everything although nobody read from it');
    const received = collect(far as unknown as net.Socket);
    (far as unknown as net.Socket).resume();
    client.end();
    assert.ok((await received).equals(bytes));
    client.destroy();
  });

  test('close() drops the connections still open', async () => {
    const port = await target(() => {});
    const relay = await startDelayRelay({ targetPort: port, delayMs: 1 });
    const client = await connect(relay.port);
    client.resume();
    // The client is half-open-capable: the relay's end of the connection is what it sees.
    const ended = new Promise<void>((resolve) => {
      client.once('end', resolve);
      void closed(client).then(resolve);
    });
    await relay.close();
    await ended;
    client.destroy();
  });
});
