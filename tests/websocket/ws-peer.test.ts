// The side reader against a real peer: a `ws` server and client on loopback, with a TCP relay
// between them that feeds the reader the server's bytes as they pass, the way the tunnel will.
// Whatever the `ws` client receives as text, the reader must deliver too, in the same order.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { PerMessageDeflateOptions } from 'ws';
import { parsePerMessageDeflate } from '../../src/websocket/extensions.ts';
import { createMessageReader } from '../../src/websocket/message-reader.ts';
import type { MessageReader } from '../../src/websocket/message-reader.ts';
import { prng } from '../helpers/prng.ts';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers) await close();
});

interface Relay {
  readonly port: number;
  /** Resolves with what the reader delivered once it ended, and the 101's extensions header. */
  readonly result: Promise<{ texts: string[]; problems: string[]; extensions: string | undefined; wireBytes: number }>;
}

/** A TCP relay to `target` that reads the server → client bytes on the side, as the tunnel will. */
async function relay(target: number): Promise<Relay> {
  let settle: (value: Awaited<Relay['result']>) => void = () => undefined;
  const result = new Promise<Awaited<Relay['result']>>((resolve) => (settle = resolve));
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    client.pipe(upstream);
    let head: Buffer | undefined = Buffer.alloc(0);
    let reader: MessageReader | undefined;
    let extensions: string | undefined;
    const texts: string[] = [];
    const problems: string[] = [];
    let wireBytes = 0;
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      wireBytes += chunk.length;
      if (reader !== undefined) return reader.feed(chunk);
      head = Buffer.concat([head ?? Buffer.alloc(0), chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      extensions = lines.find((line) => /^sec-websocket-extensions:/i.test(line))?.replace(/^[^:]*:\s*/, '');
      reader = createMessageReader(
        {
          onText: (message) => void texts.push(message.toString()),
          onProblem: (problem) => void problems.push(problem),
          onEnd: () => settle({ texts, problems, extensions, wireBytes }),
        },
        { deflate: parsePerMessageDeflate(extensions) },
      );
      const rest = head.subarray(end + 4);
      head = undefined;
      if (rest.length > 0) reader.feed(rest);
    });
    upstream.on('end', () => {
      reader?.end();
      client.end();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, result };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** What the server sends: Realtime-like events of every size, fragmented ones, binary and pings. */
function script(seed: number): { kind: 'text' | 'binary' | 'fragments' | 'ping'; parts: string[] }[] {
  const rand = prng(seed);
  const steps: { kind: 'text' | 'binary' | 'fragments' | 'ping'; parts: string[] }[] = [];
  let previous = '';
  for (let i = 0; i < 60; i++) {
    const roll = rand();
    // Audio deltas are base64 of audio: random letters, which deflate shrinks by a quarter. Some
    // repeat the last one, so that back-references reach into earlier messages' window.
    const size = Math.floor(rand() ** 4 * 200_000);
    const delta = rand() < 0.2 ? previous : Array.from({ length: size }, () => BASE64.charAt(Math.floor(rand() * 64))).join('');
    previous = delta;
    const event = JSON.stringify({ type: i % 5 === 4 ? 'response.done' : 'response.audio.delta', event_id: `ev_${i}`, delta, response: { usage: { input_tokens: i, output_tokens: 2 * i } } });
    if (roll < 0.1) steps.push({ kind: 'binary', parts: [event] });
    else if (roll < 0.15) steps.push({ kind: 'ping', parts: [] });
    else if (roll < 0.3) {
      const cut1 = Math.floor(rand() * event.length);
      const cut2 = cut1 + Math.floor(rand() * (event.length - cut1));
      steps.push({ kind: 'fragments', parts: [event.slice(0, cut1), event.slice(cut1, cut2), event.slice(cut2)] });
    } else steps.push({ kind: 'text', parts: [event] });
  }
  return steps;
}

async function session(serverDeflate: PerMessageDeflateOptions | false, seed: number) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: serverDeflate });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  closers.push(() => new Promise((resolve) => wss.close(() => resolve())));
  const steps = script(seed);
  wss.on('connection', (socket) => {
    for (const step of steps) {
      if (step.kind === 'ping') socket.ping('are you there');
      else if (step.kind === 'binary') socket.send(Buffer.from(step.parts[0] ?? ''), { binary: true });
      else step.parts.forEach((part, i) => socket.send(part, { fin: i === step.parts.length - 1 }));
    }
    socket.close(1000, 'done');
  });
  const { port, result } = await relay((wss.address() as AddressInfo).port);
  const received: string[] = [];
  const client = new WebSocket(`ws://127.0.0.1:${port}/v1/realtime`, { perMessageDeflate: true });
  client.on('message', (data, isBinary) => {
    if (!isBinary) received.push((data as Buffer).toString());
  });
  await new Promise((resolve) => client.once('close', resolve));
  const read = await result;
  return { received, read, expected: steps.filter((s) => s.kind === 'text' || s.kind === 'fragments').map((s) => s.parts.join('')) };
}

describe('a real ws server and client', () => {
  const variants: [string, PerMessageDeflateOptions | false, RegExp | undefined][] = [
    ['no compression', false, undefined],
    ['permessage-deflate with context takeover, small messages sent plain', { threshold: 1024 }, /^permessage-deflate/],
    ['permessage-deflate with context takeover, every message compressed', { threshold: 0 }, /^permessage-deflate/],
    ['permessage-deflate without context takeover', { threshold: 0, serverNoContextTakeover: true }, /server_no_context_takeover/],
    ['permessage-deflate with a 9-bit server window', { threshold: 0, serverMaxWindowBits: 9 }, /server_max_window_bits=9/],
    ['permessage-deflate with an 8-bit server window', { threshold: 0, serverMaxWindowBits: 8 }, /server_max_window_bits=8/],
  ];
  variants.forEach(([name, deflate, header], i) => {
    test(`${name}: the reader delivers every text message the client received`, async () => {
      const { received, read, expected } = await session(deflate, 40 + i);
      assert.deepEqual(received, expected, 'the client itself received the script');
      assert.deepEqual(read.problems, []);
      assert.equal(read.texts.length, received.length);
      assert.ok(read.texts.every((text, j) => text === received[j]), 'same messages, same order');
      const textBytes = received.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
      if (header === undefined) {
        assert.equal(read.extensions, undefined);
        assert.ok(read.wireBytes > textBytes);
      } else {
        assert.match(read.extensions ?? '', header);
        assert.ok(read.wireBytes < 0.9 * textBytes, `compressed on the wire: ${read.wireBytes} bytes for ${textBytes}`);
      }
    });
  });
});
